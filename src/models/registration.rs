//! A version registered by hand (`model register`): its artifact and input schema read
//! from files, its parameters and metrics from `key=value` arguments, each checked.

use std::collections::BTreeMap;
use std::path::Path;

use super::ModelError;
use super::registry::NewVersion;
use crate::config::FieldType;

/// What `model register` was given.
pub struct Files<'a> {
    pub artifact: &'a Path,
    pub input: &'a Path,
    pub params: &'a [String],
    pub metrics: &'a [String],
}

/// The version to register: the artifact's bytes, the parameters, the metrics (numbers),
/// the input schema; registered by `who`, now.
pub fn new_version(name: String, files: &Files<'_>, who: String) -> Result<NewVersion, ModelError> {
    Ok(NewVersion {
        name,
        bytes: read(files.artifact)?,
        params: pairs(files.params)?,
        metrics: pairs(files.metrics)?
            .into_iter()
            .map(|(key, value)| match value.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok((key, n)),
                _ => Err(ModelError::BadMetric { key, value }),
            })
            .collect::<Result<_, _>>()?,
        input: input_schema(files.input)?,
        registered_by: who,
        registered_at: crate::logging::rfc3339(std::time::SystemTime::now()),
        lineage: None,
        reference: None,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|e| ModelError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn pairs(items: &[String]) -> Result<BTreeMap<String, String>, ModelError> {
    let mut out = BTreeMap::new();
    for item in items {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => (k.to_string(), v.to_string()),
            _ => return Err(ModelError::BadPair(item.clone())),
        };
        if out.insert(key.clone(), value).is_some() {
            return Err(ModelError::DuplicateKey(key));
        }
    }
    Ok(out)
}

/// `{"supplier": "string", "total": "number"}`: the model's input fields.
fn input_schema(path: &Path) -> Result<BTreeMap<String, FieldType>, ModelError> {
    let text = read(path)?;
    serde_json::from_slice(&text).map_err(|e| ModelError::File {
        path: path.display().to_string(),
        message: format!(
            "{e}: expected a JSON object of field name to `string`, `number`, `integer` or `boolean`"
        ),
    })
}
