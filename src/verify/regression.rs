//! Regression: each sample invoice through the deployed validator (its `live` alias), the
//! answer compared field by field with the recorded baseline. `--update-baseline` records
//! the answers instead (by hand, never in CI: a baseline is reviewed like code).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Context, failed, not_run, passed};
use crate::config::verify::Regression;
use crate::release::verification::{CheckKind, CheckRecord};

const NAME: &str = "regression";

/// The check, and where a new baseline was written (`--update-baseline`).
pub async fn run(
    ctx: &Context<'_>,
    settings: &Regression,
    update: bool,
) -> (CheckRecord, Option<PathBuf>) {
    let samples = match samples(&ctx.root.join(&settings.samples)) {
        Ok(samples) => samples,
        Err(why) => return (not_run(NAME, CheckKind::Regression, &why), None),
    };
    let mut answers = BTreeMap::new();
    let mut problems = Vec::new();
    for (invoice, body) in samples {
        match validate(ctx, &settings.service, body).await {
            Ok(answer) => {
                answers.insert(invoice, answer);
            }
            Err(Unanswered::Error(why)) => problems.push(format!("{invoice}: {why}")),
            Err(Unanswered::NotRun(why)) => {
                return (not_run(NAME, CheckKind::Regression, &why), None);
            }
        }
    }
    let count = answers.len() as f64;
    if update {
        let path = ctx.root.join(&settings.baseline);
        let text = serde_json::to_string_pretty(&answers).unwrap_or_default() + "\n";
        return match std::fs::write(&path, text) {
            Ok(()) => (
                passed(NAME, CheckKind::Regression, vec![("samples", count)]),
                Some(path),
            ),
            Err(e) => {
                let why = format!("cannot write the baseline {}: {e}", path.display());
                (not_run(NAME, CheckKind::Regression, &why), None)
            }
        };
    }
    let baseline = match read_baseline(&ctx.root.join(&settings.baseline)) {
        Ok(baseline) => baseline,
        Err(why) => return (not_run(NAME, CheckKind::Regression, &why), None),
    };
    for (invoice, answer) in &answers {
        match baseline.get(invoice) {
            Some(old) => problems.extend(
                differences(old, answer)
                    .into_iter()
                    .map(|d| format!("{invoice}: {d}")),
            ),
            None => problems.push(format!(
                "{invoice}: no baseline answer (record one by hand: `facturactl verify --update-baseline`)"
            )),
        }
    }
    let figures = vec![("samples", count), ("differences", problems.len() as f64)];
    let check = if problems.is_empty() {
        passed(NAME, CheckKind::Regression, figures)
    } else {
        failed(NAME, CheckKind::Regression, figures, problems)
    };
    (check, None)
}

/// The sample invoices (`*.json`), by file name, in name order.
fn samples(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the samples directory {}: {e}", dir.display()))?;
    let mut samples = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let body =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        samples.push((name, body));
    }
    samples.sort();
    if samples.is_empty() {
        return Err(format!(
            "{} holds no sample invoice (*.json)",
            dir.display()
        ));
    }
    Ok(samples)
}

fn read_baseline(path: &Path) -> Result<BTreeMap<String, Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the baseline {}: {e} (record it by hand: `facturactl verify --update-baseline`)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: the baseline is not a JSON object of answers by invoice: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

enum Unanswered {
    /// The validator answered with an error: a finding about this invoice.
    Error(String),
    /// The validator could not be reached: the check did not run.
    NotRun(String),
}

async fn validate(ctx: &Context<'_>, service: &str, body: Vec<u8>) -> Result<Value, Unanswered> {
    let answer = super::invoke_live(ctx, service, body)
        .await
        .map_err(Unanswered::NotRun)?;
    if let Some(kind) = answer.function_error {
        return Err(Unanswered::Error(format!(
            "the validator raised an error ({kind}): {}",
            String::from_utf8_lossy(&answer.payload)
        )));
    }
    serde_json::from_slice(&answer.payload)
        .map_err(|e| Unanswered::Error(format!("the validator's answer is not JSON: {e}")))
}

/// Every field whose value differs, as `field: old → new` (nested fields dotted, list
/// items by index; a field on one side only is `(absent)` on the other).
pub fn differences(old: &Value, new: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", old, &mut a);
    flatten("", new, &mut b);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), Value::to_string);
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let field = if k.is_empty() { "(the answer)" } else { k };
            format!("{field}: {} → {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&join(k), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&join(&i.to_string()), v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_each_field_with_its_old_and_new_value() {
        let old = json!({"valid": true, "errors": [], "totals": {"net": 100, "vat": 21}});
        let new = json!({"valid": false, "errors": ["vat"], "totals": {"net": 100, "vat": 21}, "extra": 1});
        assert_eq!(
            differences(&old, &new),
            vec![
                "errors: [] → (absent)".to_string(),
                "errors.0: (absent) → \"vat\"".to_string(),
                "extra: (absent) → 1".to_string(),
                "valid: true → false".to_string(),
            ]
        );
        assert!(differences(&old, &old).is_empty());
    }
}
