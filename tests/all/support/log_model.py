"""Logs and registers a model as ordinary MLflow 3 training code does, for the registry
tests: a scikit-learn pipeline trained on a few invoices, logged with
`mlflow.sklearn.log_model(..., registered_model_name=...)` (which registers a
`models:/m-<id>` source) into an experiment whose artifacts are in `bucket` (the
emulator's S3, reached through MLFLOW_S3_ENDPOINT_URL). With `--no-signature`, the model
is logged without one. Prints the registered version's number.

  log_model.py NAME BUCKET [--no-signature]
"""
import sys

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


def main() -> int:
    name, bucket = sys.argv[1], sys.argv[2]
    signed = "--no-signature" not in sys.argv[3:]
    experiment = f"training-{name}"
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=f"s3://{bucket}/mlflow")
    mlflow.set_experiment(experiment)
    invoices = pd.DataFrame({
        "supplier": ["acme", "globex", "initech", "acme"],
        "vat": ["ES1", "ES2", "ES3", "ES1"],
        "total": [120.0, 99.5, 15000.0, 80.0],
        "currency": ["EUR", "EUR", "EUR", "USD"],
        "issued_at": ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"],
    })
    fraud = [0, 0, 1, 0]
    model = make_pipeline(
        ColumnTransformer([("total", "passthrough", ["total"])]),
        LogisticRegression(),
    ).fit(invoices, fraud)
    with mlflow.start_run():
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("auc", 0.91)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            signature=infer_signature(invoices, model.predict(invoices)) if signed else None,
        )
    print(info.registered_model_version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
