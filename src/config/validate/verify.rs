//! `[verify]`: the services its checks invoke are enabled Lambda services, its entry
//! point's stack is enabled, and its thresholds are possible.

use std::fmt;

use super::super::diagnostic::Problem;
use super::super::model::{Config, Runtime};
use super::super::source::{PathSegment, path};
use super::super::verify::EntryPoint;
use super::{Validator, with_index, with_key};

#[derive(Debug)]
pub enum VerifyInvalid {
    /// An invoked service that is not an enabled Lambda service.
    NotALambda {
        service: String,
        lambdas: Vec<String>,
    },
    /// The entry point's stack is not an enabled stack.
    EntryStack { stack: String, stacks: Vec<String> },
    /// A threshold outside what it measures.
    Threshold { key: &'static str, value: f64 },
}

impl fmt::Display for VerifyInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotALambda { service, .. } => {
                write!(f, "`{service}` is not an enabled Lambda service")
            }
            Self::EntryStack { stack, .. } => {
                write!(
                    f,
                    "the entry point's stack `{stack}` is not an enabled stack"
                )
            }
            Self::Threshold { key, value } => write!(f, "{key} = {value} cannot be met"),
        }
    }
}

impl Problem for VerifyInvalid {
    fn expected(&self) -> Option<String> {
        Some(match self {
            Self::NotALambda { lambdas, .. } => format!("one of: {}", lambdas.join(", ")),
            Self::EntryStack { stacks, .. } => format!("one of: {}", stacks.join(", ")),
            Self::Threshold { key, .. } if key.ends_with("percent") => "0 to 100".into(),
            Self::Threshold { .. } => "a number above 0".into(),
        })
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            Self::NotALambda { .. } => {
                "name the Lambda service whose `live` alias the check invokes".into()
            }
            Self::EntryStack { .. } => {
                "name an output of an enabled stack (`api.ApiUrl`), a URL, or `env:VARIABLE`".into()
            }
            Self::Threshold { .. } => "set the threshold the platform's alert uses".into(),
        })
    }
}

impl Validator<'_> {
    pub(super) fn verify(&mut self, c: &Config) {
        let base = path(["verify"]);
        let verify = &c.verify;
        if let EntryPoint::Output { stack, .. } = &verify.entry_point
            && uses_entry_point(c)
            && !c.stacks.get(stack).is_some_and(|s| s.enabled)
        {
            let stacks = c.enabled_stacks().map(|(n, _)| n.clone()).collect();
            let problem = VerifyInvalid::EntryStack {
                stack: stack.clone(),
                stacks,
            };
            self.report(&with_key(base.clone(), "entry_point"), problem);
        }
        let smoke = with_key(base.clone(), "smoke");
        for (i, check) in verify.smoke.invoke.iter().enumerate() {
            let at = with_key(with_index(with_key(smoke.clone(), "invoke"), i), "service");
            self.invoked_lambda(c, at, &check.service);
        }
        if let Some(regression) = &verify.regression {
            let at = with_key(with_key(base.clone(), "regression"), "service");
            self.invoked_lambda(c, at, &regression.service);
        }
        if let Some(load) = &verify.load {
            let at = with_key(base, "load");
            let positive = [("max_p95_ms", load.max_p95_ms), ("min_rps", load.min_rps)];
            for (key, value) in positive {
                if value.is_nan() || value <= 0.0 {
                    self.report(
                        &with_key(at.clone(), key),
                        VerifyInvalid::Threshold { key, value },
                    );
                }
            }
            let rate = load.max_error_rate_percent;
            if !(0.0..=100.0).contains(&rate) {
                let key = "max_error_rate_percent";
                self.report(
                    &with_key(at, key),
                    VerifyInvalid::Threshold { key, value: rate },
                );
            }
        }
    }

    fn invoked_lambda(&mut self, c: &Config, at: Vec<PathSegment>, service: &str) {
        let is_lambda = |s: &super::super::model::Service| {
            s.enabled && matches!(s.runtime(), Some(Runtime::Lambda(_)))
        };
        if !c.services.get(service).is_some_and(is_lambda) {
            let lambdas = c
                .services
                .iter()
                .filter(|(_, s)| is_lambda(s))
                .map(|(n, _)| n.clone())
                .collect();
            let problem = VerifyInvalid::NotALambda {
                service: service.to_string(),
                lambdas,
            };
            self.report(&at, problem);
        }
    }
}

/// Whether a check goes through the entry point: an HTTP smoke check, the load test, or
/// the `/predict` check of a model served on ECS. A project without any (no `[verify]`,
/// or Lambda checks only) is not held to the default entry point's stack.
fn uses_entry_point(c: &Config) -> bool {
    let served_on_ecs = c
        .services
        .values()
        .any(|s| s.enabled && s.model.is_some() && matches!(s.runtime(), Some(Runtime::Ecs(_))));
    !c.verify.smoke.http.is_empty() || c.verify.load.is_some() || served_on_ecs
}
