//! Use cases driven in-process, without the binary: a `Session` with a scripted console,
//! and an AWS endpoint nothing listens on, so any AWS call would fail the test. Each case
//! is decided from the project alone, and the answer is a typed error or outcome.

use facturactl::commands::{self, ScriptedConsole, Session};
use facturactl::error::{Error, Refusal, Unconfirmed, Usage};
use facturactl::exit::Exit;
use facturactl::report::Report;

use crate::support::Project;

fn session<'a>(project: &Project, env: &str, console: &'a ScriptedConsole) -> Session<'a> {
    // Port 9 (discard): nothing answers, so a use case that reached AWS would err.
    let mut session = Session::new(
        project.path().to_path_buf(),
        Some(env.into()),
        "http://127.0.0.1:9",
        console,
    );
    session.user = Some("tester".into());
    session.trace_id = "trace-commands".into();
    session
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn unlock_asks_first_and_a_no_changes_nothing() {
    let project = Project::copy();
    let console = ScriptedConsole::answering(&[false]);
    let result = block_on(commands::unlock::run(
        &session(&project, "staging", &console),
        commands::unlock::Request { yes: false },
    ));
    match result {
        Err(Error::Refused(Refusal::NotConfirmed(Unconfirmed::Unlock { environment }))) => {
            assert_eq!(environment, "staging");
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got an unlock"),
    }
    assert_eq!(
        console.lines(),
        ["ask: Force the deploy lock of `staging` open? -> false"]
    );
}

#[test]
fn destroy_refuses_production_without_asking() {
    let project = Project::copy();
    let console = ScriptedConsole::answering(&[true]);
    let result = block_on(commands::destroy::run(
        &session(&project, "production", &console),
        commands::destroy::Request {
            yes: false,
            max_concurrency: 8,
            stacks: Vec::new(),
        },
    ));
    let Err(error) = result else {
        panic!("production was not refused");
    };
    assert_eq!(error.exit(), Exit::Refused);
    assert!(matches!(
        error,
        Error::Refused(Refusal::ProductionDestroy { .. })
    ));
    assert!(console.lines().is_empty(), "asked: {:?}", console.lines());
}

#[test]
fn a_deploy_of_an_unknown_stack_is_a_usage_error_naming_the_stacks() {
    let project = Project::copy();
    let console = ScriptedConsole::default();
    let request = commands::deploy::Request {
        models: Vec::new(),
        stacks: vec!["netwrok".into()],
        max_concurrency: 8,
        no_wait: false,
        recreate_failed: false,
        dry_run: false,
        yes: true,
        allow_data_replacement: false,
        images: Vec::new(),
        packages: Vec::new(),
        artifacts: None,
        skip_wait: false,
        tag: None,
        allow_downgrade: false,
        plan: None,
    };
    let result = block_on(commands::deploy::run(
        &session(&project, "local", &console),
        request,
    ));
    match result {
        Err(Error::Usage(Usage::UnknownStack { name, known })) => {
            assert_eq!(name, "netwrok");
            assert!(known.iter().any(|s| s == "network"), "{known:?}");
        }
        Err(other) => panic!("expected a usage error, got {other}"),
        Ok(_) => panic!("expected a usage error, got a deploy"),
    }
}

#[test]
fn validate_returns_an_outcome_whose_exit_follows_the_blocking_findings() {
    let project = Project::copy();
    let console = ScriptedConsole::default();
    let outcome = block_on(commands::validate::run(
        &session(&project, "production", &console),
        commands::validate::Request { explain: false },
    ))
    .expect("production validates");
    let commands::validate::Outcome::Validated(validated) = &outcome else {
        panic!("expected a validation");
    };
    assert_eq!(validated.environment, "production");
    assert_eq!(validated.blocking, 0, "{}", outcome.text());
    assert_eq!(outcome.exit(), Exit::Ok);

    // A public bucket in production blocks: exit 3 from the same outcome type.
    project.replace(
        "templates/stacks/storage.yaml.tera",
        "BlockPublicAcls: true",
        "BlockPublicAcls: false",
    );
    let outcome = block_on(commands::validate::run(
        &session(&project, "production", &console),
        commands::validate::Request { explain: false },
    ))
    .expect("production still renders");
    assert_eq!(outcome.exit(), Exit::Refused, "{}", outcome.text());
}

#[test]
fn production_traffic_and_alarms_move_only_when_confirmed() {
    let project = Project::copy();
    // A hand move of production's traffic: asked, and a no changes nothing (no AWS call).
    for change in [
        commands::traffic::Change::Promote,
        commands::traffic::Change::Abort,
    ] {
        let console = ScriptedConsole::answering(&[false]);
        let result = block_on(commands::traffic::run(
            &session(&project, "production", &console),
            commands::traffic::Request {
                service: Some("validator".into()),
                change: Some(change),
                window_minutes: 60,
                watch: None,
                yes: false,
            },
        ));
        match result {
            Err(Error::Refused(Refusal::NotConfirmed(Unconfirmed::Traffic { service }))) => {
                assert_eq!(service, "validator");
            }
            Err(other) => panic!("expected a refusal, got {other}"),
            Ok(_) => panic!("expected a refusal, got a traffic change"),
        }
        assert_eq!(
            console.lines(),
            ["ask: Move the traffic of `validator` in `production`? -> false"]
        );
    }
    // Production's alarms are applied only when confirmed.
    let console = ScriptedConsole::answering(&[false]);
    let result = block_on(commands::alarms::run(
        &session(&project, "production", &console),
        commands::alarms::Request {
            apply: true,
            detailed_exitcode: false,
            yes: false,
        },
    ));
    assert!(
        matches!(
            result,
            Err(Error::Refused(Refusal::NotConfirmed(
                Unconfirmed::Alarms { .. }
            )))
        ),
        "not refused"
    );
    assert_eq!(console.lines().len(), 1, "{:?}", console.lines());
}
