//! What AWS enforces and the emulator alone would not: the harness is made to behave as
//! AWS does (see scripts/local_aws.py), and each test shows the tool meeting it.

use crate::support::emulator::Account;
use crate::support::{Project, run_json};

/// Credentials for one account, an environment file naming another: every command that
/// reaches AWS refuses with exit 3 before its first write, naming both accounts and the
/// credentials' ARN.
#[tokio::test]
async fn credentials_for_another_account_are_refused_before_any_write() {
    let account = Account::new();
    let project = Project::copy();
    project.replace(
        "environments/local.yaml",
        "account_id: \"123456789012\"",
        "account_id: \"999988887777\"",
    );
    for args in [
        &["deploy", "--env", "local", "--yes"][..],
        &["plan", "--env", "local"],
        &["alarms", "apply", "--env", "local"],
        &["unlock", "--env", "local", "--yes"],
        &[
            "notify", "--env", "local", "--stage", "build", "--result", "success",
        ],
        &["status", "--env", "local"],
    ] {
        account.reset_requests().await;
        let (code, report, stderr) = run_json(&project, &account, args);
        assert_eq!(code, Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains("`local` is account 999988887777")
                && stderr.contains(&format!(
                    "credentials are for account {}",
                    account.account_id
                ))
                && stderr.contains(&format!("arn:aws:sts::{}:", account.account_id)),
            "{args:?}: {stderr}"
        );
        assert_eq!(report["kind"], "refused", "{args:?}: {report}");
        assert_eq!(
            report["status"], "refused",
            "exit 3 reads `refused`: {report}"
        );
        let counters = account.requests().await;
        assert_eq!(counters["writes"], 0, "{args:?}: {counters}");
        // `deploy` reads the lock's state and the current record with the account check,
        // addressed to the environment's account (ExpectedBucketOwner): AWS refuses both
        // outside it (`the_release_store_is_read_only_in_its_own_account`).
        let store_reads = if args[0] == "deploy" { 2 } else { 0 };
        assert_eq!(
            counters["by_operation"]["s3:GET"].as_u64().unwrap_or(0),
            store_reads,
            "{args:?}: {counters}"
        );
        assert_eq!(
            counters["total"],
            1 + store_reads,
            "{args:?}: only GetCallerIdentity (and deploy's store reads) may be sent: {counters}"
        );
    }
}

/// The reads made with the account check name the environment's account as the bucket's
/// expected owner: a release store of another account (a `records_bucket` named in the
/// config, created by it) answers 403 and is never read, as on AWS (the harness applies
/// ExpectedBucketOwner; moto ignores it).
#[tokio::test]
async fn the_release_store_is_read_only_in_its_own_account() {
    let account = Account::new();
    let project = Project::copy();
    let bucket = format!("shared-releases-{}", account.account_id);
    project.replace(
        "deploy.toml",
        "[release]\n",
        &format!("[release]\nrecords_bucket = \"{bucket}\"\n"),
    );
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let config = account.sdk_config(1).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let read = |owner: &str| {
        s3.get_object()
            .bucket(&bucket)
            .key("current.json")
            .expected_bucket_owner(owner)
            .send()
    };
    assert!(
        read(&account.account_id).await.is_ok(),
        "its own account reads it"
    );
    let refused = read("999988887777")
        .await
        .expect_err("another expected owner");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{refused:?}"
    );
}

/// Comment lines that take a template past CloudFormation's 51,200-byte TemplateBody limit.
fn padding(bytes: usize) -> String {
    let line = "# padding: a long template goes to CloudFormation by TemplateURL, not inline\n";
    line.repeat(bytes / line.len() + 1)
}

/// A 60 KB template: the harness refuses it inline as AWS does, and the tool sends it by
/// TemplateURL from the release bucket (content-addressed), so the deploy succeeds.
#[tokio::test]
async fn a_template_over_the_inline_limit_deploys_by_url() {
    let account = Account::new();
    let project = Project::copy();
    project.append("templates/stacks/storage.yaml.tera", &padding(60_000));
    let (code, report, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let storage = report["stacks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stack"] == "storage"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(storage["result"], "succeeded", "{report}");

    // What CloudFormation holds is the padded template, read from the bucket.
    let config = account.sdk_config(1).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let deployed = cfn
        .get_template()
        .stack_name("facturascan-local-storage")
        .send()
        .await
        .expect("GetTemplate");
    let body = deployed.template_body().unwrap_or_default();
    assert!(
        body.len() > 51_200 && body.contains("# padding"),
        "{}",
        body.len()
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("facturascan-local-releases-{}", account.account_id);
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("templates/")
        .send()
        .await
        .expect("ListObjectsV2");
    assert_eq!(listed.contents().len(), 1, "one content-addressed template");

    // The same body inline is what AWS refuses; the harness says so too.
    let inline = cfn
        .create_stack()
        .stack_name("facturascan-local-inline")
        .template_body(body)
        .send()
        .await;
    let error = inline.expect_err("a 60 KB TemplateBody is refused");
    let text = format!(
        "{}",
        aws_sdk_cloudformation::error::DisplayErrorContext(&error)
    );
    assert!(text.contains("less than or equal to 51200"), "{text}");
}

/// Every stack operation carries a ClientRequestToken, and an answer lost after the
/// operation ran is retried with it: CloudFormation (and the harness) answer the retry as
/// the first request was answered, so nothing runs twice and nothing fails.
#[tokio::test]
async fn stack_operations_carry_request_tokens_and_a_lost_answer_is_retried_safely() {
    let account = Account::new();
    let project = Project::copy();
    account
        .faults(serde_json::json!({
            "lost": 1.0,
            "limit": 1,
            "services": ["cloudformation"],
            "operations": ["CreateStack"],
        }))
        .await;
    let (code, report, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let counters = account.requests().await;
    assert_eq!(
        counters["faults"]["cloudformation:CreateStack:lost"], 1,
        "{counters}"
    );
    let stacks = report["stacks"].as_array().cloned().unwrap_or_default();
    assert!(
        stacks
            .iter()
            .all(|s| s["action"] == "create" && s["result"] == "succeeded"),
        "{report}"
    );
    let tokens = &counters["request_tokens"];
    assert_eq!(tokens["CreateStack"]["without"], 0, "{counters}");
    // Eight stacks, and the retry of the one whose answer was lost.
    assert_eq!(
        tokens["CreateStack"]["with"].as_u64(),
        Some(stacks.len() as u64 + 1),
        "{counters}"
    );
    assert_eq!(report["retries"]["retries"], 1, "{report}");

    // An update carries one too.
    account.faults_off().await;
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "          TemporaryPasswordValidityDays: 3",
        "          TemporaryPasswordValidityDays: 2",
    );
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let tokens = &account.requests().await["request_tokens"];
    assert_eq!(tokens["UpdateStack"]["without"], 0, "{tokens}");
    assert_eq!(tokens["UpdateStack"]["with"], 1, "{tokens}");
}

/// The first check of a preflight report named `check` whose subject holds `subject`.
fn check_of(report: &serde_json::Value, check: &str, subject: &str) -> Option<serde_json::Value> {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["check"] == check && c["subject"].as_str().is_some_and(|s| s.contains(subject)))
        .cloned()
}

/// `preflight` on the emulator: a missing secret blocks (exit 3) until it exists; checks
/// that cannot run (nothing deployed yet, a runner's variable) say so and are not counted
/// as passed; another account's credentials block and stop the rest.
#[tokio::test]
async fn preflight_finds_what_a_deploy_would_trip_on() {
    let account = Account::new();
    let project = Project::copy();
    project.replace(
        "environments/local.yaml",
        "  ocr:\n    ecs:\n      cpu: 256\n",
        "  ocr:\n    ecs:\n      secrets:\n        API_KEY: \"ssm:/facturascan/local/ocr-api-key\"\n      cpu: 256\n",
    );
    let status_of = |report: &serde_json::Value, check: &str, subject: &str| {
        check_of(report, check, subject)
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
    };
    let (code, report, stderr) = run_json(&project, &account, &["preflight", "--env", "local"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        status_of(&report, "account", "").as_deref(),
        Some("passed"),
        "{report}"
    );
    assert_eq!(
        status_of(&report, "secret", "ocr-api-key").as_deref(),
        Some("blocking"),
        "{report}"
    );
    assert_eq!(
        status_of(&report, "secret", "slack").as_deref(),
        Some("not_run"),
        "{report}"
    );
    assert_eq!(
        status_of(&report, "image", "ecs").as_deref(),
        Some("not_run"),
        "{report}"
    );
    assert_eq!(
        status_of(&report, "certificate", "").as_deref(),
        Some("not_run"),
        "{report}"
    );
    assert_eq!(
        account.requests().await["writes"],
        0,
        "preflight writes nothing"
    );

    let config = account.sdk_config(1).await;
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name("/facturascan/local/ocr-api-key")
        .value("not-a-real-key")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter");
    let (code, report, stderr) = run_json(&project, &account, &["preflight", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        status_of(&report, "secret", "ocr-api-key").as_deref(),
        Some("passed"),
        "{report}"
    );
    assert_eq!(report["blocking"], 0);

    project.replace(
        "environments/local.yaml",
        &format!("account_id: \"{}\"", account.account_id),
        "account_id: \"999988887777\"",
    );
    let (code, report, _) = run_json(&project, &account, &["preflight", "--env", "local"]);
    assert_eq!(code, Some(3));
    assert_eq!(
        status_of(&report, "account", "").as_deref(),
        Some("blocking"),
        "{report}"
    );
    assert_eq!(
        status_of(&report, "others", "").as_deref(),
        Some("not_run"),
        "{report}"
    );
}

/// Lambda's concurrency quota (issue 27, item 7): a function reserving 200 executions fits
/// an established account's 1,000, and blocks (exit 3, naming the quota to raise) in a new
/// account whose GetAccountSettings says 10, before any change.
#[tokio::test]
async fn preflight_blocks_reservations_the_accounts_concurrency_cannot_hold() {
    let account = Account::new();
    let project = Project::copy();
    project.replace(
        "environments/local.yaml",
        "services:\n",
        "services:\n  validator:\n    lambda:\n      reserved_concurrency: 200\n",
    );
    let concurrency =
        |report: &serde_json::Value| check_of(report, "concurrency", "").unwrap_or_default();
    let (_, report, stderr) = run_json(&project, &account, &["preflight", "--env", "local"]);
    let check = concurrency(&report);
    assert_eq!(check["status"], "passed", "{stderr}\n{report}");
    assert!(
        check["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("facturascan-local-validator (200)"),
        "{check}"
    );

    let fresh = serde_json::json!({
        "status": 200,
        "content_type": "application/json",
        "body": r#"{"AccountLimit": {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10, "CodeSizeZipped": 52428800, "CodeSizeUnzipped": 262144000, "TotalCodeSize": 80530636800}, "AccountUsage": {"FunctionCount": 0, "TotalCodeSize": 0}}"#,
    });
    account
        .script("lambda:GetAccountSettings", vec![fresh])
        .await;
    let (code, report, stderr) = run_json(&project, &account, &["preflight", "--env", "local"]);
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    let check = concurrency(&report);
    assert_eq!(check["status"], "blocking", "{check}");
    let detail = check["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("the account allows 10"), "{detail}");
    assert!(
        detail.contains("L-B99A9384") && detail.contains("at least 300"),
        "{detail}"
    );
}

/// SES senders (issue 27, item 10): an unverified `ses_from` is a warning naming the
/// address and its domain, a verified identity passes; the account in SES's sandbox (a new
/// account, as the emulator answers) is a warning, out of it passes.
#[tokio::test]
async fn preflight_warns_of_an_unverified_ses_sender_and_the_sandbox() {
    let account = Account::new();
    let project = Project::copy();
    project.replace(
        "environments/local.yaml",
        "      addresses: [\"devops+local@facturascan.com\"]",
        "      addresses: [\"devops+local@facturascan.com\"]\n      ses_from: deploys@facturascan.com",
    );
    let ses = |report: &serde_json::Value, subject: &str| {
        check_of(report, "ses", subject).unwrap_or_default()
    };
    let (_, report, stderr) = run_json(&project, &account, &["preflight", "--env", "local"]);
    let sender = ses(&report, "deploys@facturascan.com");
    assert_eq!(sender["status"], "warning", "{stderr}\n{report}");
    assert!(
        sender["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("neither deploys@facturascan.com nor facturascan.com"),
        "{sender}"
    );
    assert_eq!(ses(&report, "account")["status"], "warning", "{report}");

    // A domain becomes verified once its DKIM records are published: the emulator cannot
    // see DNS, so the verified answer is scripted.
    let verified = serde_json::json!({
        "status": 200,
        "content_type": "application/json",
        "body": r#"{"IdentityType": "DOMAIN", "VerifiedForSendingStatus": true, "VerificationStatus": "SUCCESS"}"#,
    });
    account.script("ses:GetEmailIdentity", vec![verified]).await;
    let production = serde_json::json!({
        "status": 200,
        "content_type": "application/json",
        "body": r#"{"ProductionAccessEnabled": true, "SendingEnabled": true, "EnforcementStatus": "HEALTHY"}"#,
    });
    account.script("ses:GetAccount", vec![production]).await;
    let (_, report, stderr) = run_json(&project, &account, &["preflight", "--env", "local"]);
    assert_eq!(
        ses(&report, "deploys@facturascan.com")["status"],
        "passed",
        "{stderr}\n{report}"
    );
    assert_eq!(ses(&report, "account")["status"], "passed", "{report}");
}

/// The API stage serves a new deployment whenever a value its methods use changes, other
/// stacks' outputs included (known at deploy, not at render): a replaced user pool gives
/// the deployment a new logical id; the same inputs give the same one.
#[test]
fn an_api_deployment_is_new_when_an_input_its_methods_use_changes() {
    use std::collections::BTreeMap;
    let rendered = rendered(&Project::copy(), "staging");
    let api = rendered
        .stacks
        .iter()
        .find(|s| s.name == "api")
        .expect("the api stack");
    let with_pool = |pool: &str| -> BTreeMap<String, String> {
        let mut params = api.parameters.clone();
        params.insert("UserPoolArn".into(), pool.into());
        params
    };
    let deployment = |params: &BTreeMap<String, String>| -> String {
        let stamped = facturactl::render::restamp_api(api, params).expect("restamped");
        stamped
            .document
            .get("Resources")
            .and_then(|r| r.as_mapping())
            .into_iter()
            .flatten()
            .filter_map(|(id, r)| {
                (r.get("Type")?.as_str()? == "AWS::ApiGateway::Deployment")
                    .then(|| id.as_str().map(str::to_string))
                    .flatten()
            })
            .next()
            .expect("a deployment")
    };
    let first = deployment(&with_pool(
        "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_A",
    ));
    let again = deployment(&with_pool(
        "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_A",
    ));
    let replaced = deployment(&with_pool(
        "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_B",
    ));
    assert_eq!(first, again, "the same inputs, the same deployment");
    assert_ne!(first, replaced, "a new user pool, a new deployment");
    // The stage follows its deployment.
    let stamped = facturactl::render::restamp_api(
        api,
        &with_pool("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_B"),
    )
    .expect("restamped");
    assert!(
        stamped.body.contains(&format!("Ref: {replaced}"))
            || stamped.body.contains(&format!("\"Ref\": \"{replaced}\"")),
        "the stage names the new deployment"
    );
}

/// Each role receives from its own stack's queues only: never from every
/// `<prefix>-*` queue, never from a dead-letter queue (an operator redrives those).
#[test]
fn roles_receive_from_their_own_queues_and_no_dead_letter_queue() {
    let project = Project::copy();
    for env in ["staging", "production"] {
        let rendered = rendered(&project, env);
        let security = rendered
            .stacks
            .iter()
            .find(|s| s.name == "security")
            .expect("the security stack");
        let mut receiving = 0;
        for statement in security.body.split("- Effect: Allow").skip(1) {
            let statement = statement.split("- Effect:").next().unwrap_or_default();
            if !statement.contains("sqs:ReceiveMessage") {
                continue;
            }
            receiving += 1;
            assert!(
                !statement.contains(":facturascan-") || !statement.contains("-*\""),
                "{env}: a role receives from every queue:\n{statement}"
            );
            assert!(
                !statement.contains("-dlq"),
                "{env}: a role receives from a dead-letter queue:\n{statement}"
            );
        }
        assert!(
            receiving >= 2,
            "{env}: the functions and the OCR task receive"
        );
    }
}

/// The network load balancer of the VPC link checks the application load balancer through
/// its HTTPS listener: a check in the default protocol (HTTP) on port 443 never passes,
/// and the API would answer 503 for ever.
#[test]
fn the_vpc_links_balancer_checks_the_alb_over_https() {
    let project = Project::copy();
    for env in ["staging", "production"] {
        let rendered = rendered(&project, env);
        let api = rendered
            .stacks
            .iter()
            .find(|s| s.name == "api")
            .expect("api");
        let groups: Vec<&yaml_serde::Value> = api
            .document
            .get("Resources")
            .and_then(|r| r.as_mapping())
            .into_iter()
            .flatten()
            .map(|(_, r)| r)
            .filter(|r| {
                r.get("Type").and_then(|t| t.as_str())
                    == Some("AWS::ElasticLoadBalancingV2::TargetGroup")
                    && r.get("Properties")
                        .and_then(|p| p.get("TargetType"))
                        .and_then(|t| t.as_str())
                        == Some("alb")
            })
            .collect();
        assert_eq!(groups.len(), 1, "{env}: the VPC link's target group");
        let props = &groups[0]["Properties"];
        assert_eq!(
            props["HealthCheckProtocol"].as_str(),
            Some("HTTPS"),
            "{env}"
        );
        assert_eq!(props["HealthCheckPath"].as_str(), Some("/health"), "{env}");
    }
}

/// An environment of `project` as the library renders it.
fn rendered(project: &Project, env: &str) -> facturactl::render::RenderedEnv {
    let rule_ids = facturactl::policy::rule_ids();
    let loaded = facturactl::config::load(project.path(), env, &rule_ids).expect("loads");
    facturactl::render::render(&loaded).expect("renders")
}
