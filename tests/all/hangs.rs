//! Network timeouts (issue 33, item 5): an endpoint that accepts connections and never
//! answers fails the run, naming the endpoint, instead of hanging it. Each run has a
//! deadline here: a hang fails the test, it does not stop the suite.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::models::{local_scoring, scoring_package};
use crate::support::Project;
use crate::support::emulator::Account;

/// A listener that accepts every connection and never answers (a stuck server, a
/// black-holing proxy): the connections are kept open until the test binary ends.
struct Silent {
    url: String,
}

impl Silent {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Ok(mut open) = held.lock() {
                    open.push(stream);
                }
            }
        });
        Self { url }
    }
}

#[test]
fn an_aws_endpoint_that_never_answers_fails_the_run_and_names_it() {
    let silent = Silent::start();
    let project = Project::copy();
    // One attempt: the timeout of one call is what is measured.
    project.replace(
        "environments/local.yaml",
        "max_attempts: 8",
        "max_attempts: 1",
    );
    let started = Instant::now();
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(["status", "--env", "local", "--endpoint-url", &silent.url])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("status did not end within 120 s: it hangs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not answer in time"), "{stderr}");
    assert!(
        stderr.contains(&format!("endpoint {}", silent.url)),
        "the endpoint is named: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "one attempt is bounded by the call timeouts"
    );
}

#[test]
fn a_tracking_server_that_never_answers_fails_model_show_and_names_it() {
    let silent = Silent::start();
    let account = Account::new();
    let project = local_scoring(
        &account,
        "    model:\n      name: fraud-scoring\n      registry: mlflow\n",
    );
    let overlay = project.read("environments/local.yaml");
    project.write(
        "environments/local.yaml",
        &format!(
            "{overlay}\nmlflow:\n  tracking_uri: {}\nmodels:\n  fraud-scoring: ~\n",
            silent.url
        ),
    );
    scoring_package(&project);
    project.use_account(&account);
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(["model", "show", "fraud-scoring", "1", "--env", "local"])
        .args(["--endpoint-url", &account.endpoint])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("model show did not end within 120 s: it hangs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no answer within 30 s"), "{stderr}");
    assert!(
        stderr.contains(&silent.url),
        "the server is named: {stderr}"
    );
}
