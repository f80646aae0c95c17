//! `outputs`: each stack's outputs, a table per stack.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table};
use crate::commands::outputs::Outcome;

#[derive(Serialize, schemars::JsonSchema)]
struct StackJson<'a> {
    /// The config's name of the stack.
    stack: &'a str,
    /// CloudFormation's name.
    stack_name: &'a str,
    /// Its CloudFormation status; absent when it is not deployed.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    outputs: &'a BTreeMap<String, String>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "OutputsDocument")]
struct Json<'a> {
    environment: &'a str,
    /// Each enabled stack asked for, in the config's order.
    stacks: Vec<StackJson<'a>>,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            environment: &self.environment,
            stacks: self
                .stacks
                .iter()
                .map(|st| StackJson {
                    stack: &st.stack,
                    stack_name: &st.stack_name,
                    status: st.status.as_deref(),
                    outputs: &st.outputs,
                })
                .collect(),
        }
        .serialize(s)
    }
}

super::schema_as!(Outcome => Json<'static>);

fn table(outcome: &Outcome) -> Table {
    let mut table = Table::new([
        Column::left("stack").width(10),
        Column::left("output"),
        Column::left("value").code(),
    ]);
    for stack in &outcome.stacks {
        if stack.status.is_none() {
            table.row([stack.stack.clone(), "-".into(), "not deployed".into()]);
        }
        for (key, value) in &stack.outputs {
            table.row([stack.stack.clone(), key.clone(), value.clone()]);
        }
    }
    table
}

fn headline(outcome: &Outcome) -> String {
    let outputs: usize = outcome.stacks.iter().map(|s| s.outputs.len()).sum();
    format!(
        "`{}`: {} outputs of {} stacks",
        outcome.environment,
        outputs,
        outcome.stacks.len()
    )
}

impl Report for Outcome {
    fn text(&self) -> String {
        let mut out = format!("{}\n\n", headline(self));
        let _ = write!(out, "{}", table(self).text());
        out
    }

    fn markdown(&self) -> String {
        format!("### {}\n\n{}", headline(self), table(self).markdown())
    }

    fn summarize(&self) -> bool {
        false
    }
}
