//! Snapshots of everything staging and production render: a change to a template or to the
//! config shows up in review as a diff of what AWS would receive.

use facturactl::config;
use facturactl::policy;
use facturactl::render;

use crate::support::repo_root;

fn rendered_text(env: &str) -> String {
    let loaded = config::load(&repo_root(), env, &policy::rule_ids()).expect("config loads");
    let rendered = render::render(&loaded).expect("renders");
    let mut out = String::new();
    for stack in &rendered.stacks {
        out.push_str(&format!(
            "### stack {} ({}) {}\n### parameters {}\n### inputs {}\n",
            stack.name,
            stack.stack_name,
            stack.hash,
            serde_json::to_string(&stack.parameters).expect("json"),
            serde_json::to_string(&stack.inputs).expect("json"),
        ));
        out.push_str(&stack.body);
        out.push('\n');
    }
    out.push_str("### alarms\n");
    out.push_str(&serde_json::to_string_pretty(&rendered.alarms).expect("json"));
    out.push('\n');
    out
}

#[test]
fn staging_renders_as_snapshotted() {
    insta::assert_snapshot!("staging", rendered_text("staging"));
}

#[test]
fn production_renders_as_snapshotted() {
    insta::assert_snapshot!("production", rendered_text("production"));
}
