//! An MLflow tracking server for the registry tests (scripts/mlflow_server.py: sqlite
//! backend, artifacts in the emulator's S3), one per test binary, started on first use
//! (MLflow takes seconds to start). It stops when this process exits (its stdin closes).
//! Tests keep apart by model name.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use super::emulator::python;
use super::repo_root;

pub struct Mlflow {
    pub url: String,
    _process: Mutex<(Child, ChildStdin)>,
}

static MLFLOW: OnceLock<Mlflow> = OnceLock::new();

pub fn mlflow() -> &'static Mlflow {
    MLFLOW.get_or_init(start)
}

fn start() -> Mlflow {
    let mut child = Command::new(python())
        .arg(repo_root().join("scripts/mlflow_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the MLflow server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the MLflow endpoint");
    let url = line
        .trim()
        .strip_prefix("endpoint ")
        .unwrap_or_else(|| panic!("mlflow_server.py printed {line:?}, not its endpoint"))
        .to_string();
    let stdin = child.stdin.take().expect("stdin");
    Mlflow {
        url,
        _process: Mutex::new((child, stdin)),
    }
}

impl Mlflow {
    /// One REST call of MLflow's API, as a training pipeline's client makes it.
    pub async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let client = reqwest::Client::new();
        let url = format!("{}/api/2.0/mlflow/{path}", self.url);
        let request = match method {
            "GET" => client.get(url),
            _ => client.post(url).json(&body),
        };
        let answer = request.send().await.expect("MLflow answers");
        let status = answer.status();
        let text = answer.text().await.expect("body");
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A run with `params` and `metrics`, its id.
    pub async fn run(&self, params: &[(&str, &str)], metrics: &[(&str, f64)]) -> String {
        let run = self
            .call("POST", "runs/create", json!({"experiment_id": "0"}))
            .await;
        let run_id = run["run"]["info"]["run_id"]
            .as_str()
            .expect("run id")
            .to_string();
        let params: Vec<Value> = params
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v, "timestamp": 0, "step": 0}))
            .collect();
        self.call(
            "POST",
            "runs/log-batch",
            json!({"run_id": run_id, "params": params, "metrics": metrics}),
        )
        .await;
        run_id
    }
}
