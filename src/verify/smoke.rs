//! Smoke checks: each configured request through the entry point, each configured Lambda
//! invocation, and `/predict` of every service that serves a model, with an input built
//! from the model's declared fields. Each asserts a status and the answer's fields.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::entry::Entry;
use super::{Context, failed, not_run, passed};
use crate::config::verify::{HttpCheck, HttpMethod, InvokeCheck};
use crate::config::{FieldType, Runtime, Service};
use crate::release::verification::{CheckKind, CheckRecord};

/// How long one smoke request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(ctx: &Context<'_>, entry: &Entry) -> Vec<CheckRecord> {
    let smoke = &ctx.config.verify.smoke;
    let mut checks = Vec::new();
    for check in &smoke.http {
        checks.push(http(ctx, entry, check).await);
    }
    for check in &smoke.invoke {
        checks.push(invoke(ctx, check).await);
    }
    for (name, service) in ctx.config.services.iter().filter(|(_, s)| s.enabled) {
        if service.model.is_some() {
            checks.push(predict(ctx, entry, name, service).await);
        }
    }
    checks
}

async fn http(ctx: &Context<'_>, entry: &Entry, check: &HttpCheck) -> CheckRecord {
    let body = match &check.body {
        Some(path) => match std::fs::read(ctx.root.join(path)) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                let why = format!("cannot read {}: {e}", path.display());
                return not_run(&check.name, CheckKind::Smoke, &why);
            }
        },
        None => None,
    };
    let request = Request {
        method: check.method,
        path: &check.path,
        body,
        status: check.status,
        expect: &check.expect,
    };
    request.send(ctx, entry, &check.name).await
}

/// One HTTP request and what its answer must be.
struct Request<'a> {
    method: HttpMethod,
    path: &'a str,
    body: Option<Vec<u8>>,
    status: u16,
    expect: &'a [String],
}

impl Request<'_> {
    async fn send(self, ctx: &Context<'_>, entry: &Entry, name: &str) -> CheckRecord {
        let (url, token) = match entry.ready() {
            Ok(ready) => ready,
            Err(why) => return not_run(name, CheckKind::Smoke, &why),
        };
        let target = format!("{url}{}", self.path);
        let mut request = match self.method {
            HttpMethod::Get => ctx.http.get(&target),
            HttpMethod::Post => ctx.http.post(&target),
        }
        .timeout(REQUEST_TIMEOUT);
        if let Some(token) = token {
            request = request.header("Authorization", token.expose());
        }
        if let Some(body) = self.body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let started = Instant::now();
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = format!("{} {target}: no answer: {e}", self.method.as_str());
                return failed(name, CheckKind::Smoke, Vec::new(), vec![why]);
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let figures = vec![("status", f64::from(status)), ("latency_ms", ms.round())];
        let mut problems = Vec::new();
        if status != self.status {
            problems.push(format!(
                "{} {target} answered {status}, expected {}: {}",
                self.method.as_str(),
                self.status,
                clip(&text)
            ));
        } else {
            problems.extend(missing_fields(&text, self.expect));
        }
        finish(name, figures, problems)
    }
}

async fn invoke(ctx: &Context<'_>, check: &InvokeCheck) -> CheckRecord {
    let event = match std::fs::read(ctx.root.join(&check.event)) {
        Ok(bytes) => bytes,
        Err(e) => {
            let why = format!("cannot read {}: {e}", check.event.display());
            return not_run(&check.name, CheckKind::Smoke, &why);
        }
    };
    invoke_live(ctx, &check.name, &check.service, event, &check.expect).await
}

/// Invokes the service's `live` alias (what its callers invoke) with `event`.
async fn invoke_live(
    ctx: &Context<'_>,
    name: &str,
    service: &str,
    event: Vec<u8>,
    expect: &[String],
) -> CheckRecord {
    let function = ctx.config.service_resource_name(service);
    let answer = match super::invoke_live(ctx, service, event).await {
        Ok(answer) => answer,
        Err(why) => return not_run(name, CheckKind::Smoke, &why),
    };
    let payload = String::from_utf8_lossy(&answer.payload).into_owned();
    let figures = vec![("latency_ms", answer.ms.round())];
    let problems = match answer.function_error {
        Some(kind) => vec![format!(
            "{function}:live raised an error ({kind}): {}",
            clip(&payload)
        )],
        None => missing_fields(&payload, expect),
    };
    finish(name, figures, problems)
}

async fn predict(ctx: &Context<'_>, entry: &Entry, name: &str, service: &Service) -> CheckRecord {
    let check = format!("{name}-predict");
    let Some(model) = &service.model else {
        return not_run(&check, CheckKind::Smoke, "it serves no model");
    };
    let input = sample_input(&model.input);
    let expect = &ctx.config.verify.smoke.predict_fields;
    match service.runtime() {
        Some(Runtime::Lambda(_)) => {
            invoke_live(ctx, &check, name, input.into_bytes(), expect).await
        }
        Some(Runtime::Ecs(ecs)) => match &ecs.path {
            Some(path) => {
                let request = Request {
                    method: HttpMethod::Post,
                    path: path.trim_end_matches('*').trim_end_matches('/'),
                    body: Some(input.into_bytes()),
                    status: 200,
                    expect,
                };
                request.send(ctx, entry, &check).await
            }
            None => not_run(
                &check,
                CheckKind::Smoke,
                "it has no `path` behind the load balancer, so no request reaches its /predict",
            ),
        },
        None => not_run(&check, CheckKind::Smoke, "it has no runtime"),
    }
}

/// A request with every declared field, each a plausible value of its type.
pub fn sample_input(fields: &std::collections::BTreeMap<String, FieldType>) -> String {
    let object: Map<String, Value> = fields
        .iter()
        .map(|(field, kind)| {
            let value = match kind {
                FieldType::String => Value::from(format!("verify-{field}")),
                FieldType::Number => Value::from(123.45),
                FieldType::Integer => Value::from(1),
                FieldType::Boolean => Value::from(true),
            };
            (field.clone(), value)
        })
        .collect();
    Value::Object(object).to_string()
}

/// The expected top-level fields the JSON answer lacks (or that it is not a JSON object).
fn missing_fields(text: &str, expect: &[String]) -> Vec<String> {
    if expect.is_empty() {
        return Vec::new();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => expect
            .iter()
            .filter(|field| !object.contains_key(field.as_str()))
            .map(|field| format!("the answer has no `{field}`: {}", clip(text)))
            .collect(),
        _ => vec![format!(
            "the answer is not a JSON object (expected {}): {}",
            expect.join(", "),
            clip(text)
        )],
    }
}

fn finish(name: &str, figures: Vec<(&str, f64)>, problems: Vec<String>) -> CheckRecord {
    if problems.is_empty() {
        passed(name, CheckKind::Smoke, figures)
    } else {
        failed(name, CheckKind::Smoke, figures, problems)
    }
}

/// At most 200 characters of an answer, on one line.
fn clip(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 200 {
        format!("{}...", line.chars().take(200).collect::<String>())
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_lacking_a_field_names_it() {
        let expect = vec!["status".to_string(), "version".to_string()];
        assert_eq!(
            missing_fields(r#"{"status":"ok"}"#, &expect),
            vec![r#"the answer has no `version`: {"status":"ok"}"#.to_string()]
        );
        assert!(missing_fields(r#"{"status":"ok","version":1}"#, &expect).is_empty());
        assert!(missing_fields("<html>", &expect)[0].contains("not a JSON object"));
        assert!(missing_fields("<html>", &[]).is_empty());
    }

    #[test]
    fn a_sample_input_has_every_declared_field_of_its_type() {
        let fields = [
            ("total".to_string(), FieldType::Number),
            ("vat".to_string(), FieldType::String),
            ("lines".to_string(), FieldType::Integer),
            ("paid".to_string(), FieldType::Boolean),
        ]
        .into_iter()
        .collect();
        let input: Value = serde_json::from_str(&sample_input(&fields)).unwrap();
        assert!(input["total"].is_f64() && input["vat"].is_string());
        assert!(input["lines"].is_i64() && input["paid"].is_boolean());
    }
}
