//! Why an MLflow version's `MLmodel` cannot serve a service, as data.

use std::fmt;

/// What is wrong with a version's source or its `MLmodel` file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MlmodelProblem {
    /// The version's source is not an `s3://` URI facturactl can read and copy.
    NotInS3,
    Unreadable {
        reason: String,
    },
    Signature(SignatureProblem),
    NoModelFile,
}

impl MlmodelProblem {
    /// How to make the version usable.
    pub fn help(&self) -> &'static str {
        match self {
            Self::NotInS3 => {
                "facturactl reads models from S3: give the experiment an s3:// artifact location (or the server --default-artifact-root s3://...)"
            }
            Self::Unreadable { .. } | Self::NoModelFile => {
                "log the model with mlflow.sklearn.log_model or mlflow.pyfunc.log_model and register that version"
            }
            Self::Signature(_) => {
                "log the model with mlflow.<flavor>.log_model(..., signature=infer_signature(X, y)) and register that version"
            }
        }
    }
}

impl fmt::Display for MlmodelProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInS3 => f.write_str("the version's source is not in S3 (s3://...)"),
            Self::Unreadable { reason } => write!(f, "not an MLmodel file: {reason}"),
            Self::Signature(problem) => write!(f, "{problem}"),
            Self::NoModelFile => f.write_str(
                "it names no model file (sklearn.pickled_model, python_function.model_path or python_function.data)",
            ),
        }
    }
}

/// Why a model's signature cannot be read as the fields a service sends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureProblem {
    Missing,
    NotColumns { error: String },
    UnnamedInput,
    UnknownType { input: String, kind: String },
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str(
                "the model has no signature: log it with one (mlflow.models.infer_signature)",
            ),
            Self::NotColumns { error } => {
                write!(f, "its signature's inputs are not a column list: {error}")
            }
            Self::UnnamedInput => {
                f.write_str("its signature has an unnamed input (a tensor signature)")
            }
            Self::UnknownType { input, kind } => write!(
                f,
                "input `{input}` has type `{kind}`, which no service field takes"
            ),
        }
    }
}
