//! The local AWS harness, through the Rust SDK clients facturactl uses: moto's services, the
//! CloudWatch CBOR bridge, fault injection, the request counter, and the standalone commands.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::Capability;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StateValue,
    Statistic, Tag,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, FunctionCode, Runtime};
use base64::Engine;
use facturactl::aws::{AwsContext, EndpointOverride};
use serde_json::json;
use sha2::Digest;

use crate::support::emulator::{Account, python};
use crate::support::repo_root;
use crate::support::zip::zip;

const ROLE_TEMPLATE: &str = r#"{
  "Resources": {
    "Role": {
      "Type": "AWS::IAM::Role",
      "Properties": {
        "RoleName": "harness-lambda",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
      }
    },
    "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "harness-alerts"}}
  },
  "Outputs": {
    "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
    "TopicArn": {"Value": {"Ref": "Topic"}}
  }
}"#;

#[tokio::test]
async fn cloudformation_create_describe_delete() {
    let account = Account::new();
    let cfn = aws_sdk_cloudformation::Client::new(&account.sdk_config(3).await);
    let created = cfn
        .create_stack()
        .stack_name("harness")
        .template_body(ROLE_TEMPLATE)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("create_stack");
    assert!(
        created
            .stack_id()
            .is_some_and(|id| id.contains(&account.account_id))
    );
    let stacks = cfn
        .describe_stacks()
        .stack_name("harness")
        .send()
        .await
        .expect("describe");
    let stack = &stacks.stacks()[0];
    assert_eq!(
        stack.stack_status().map(|s| s.as_str()),
        Some("CREATE_COMPLETE")
    );
    let role = stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("RoleArn"))
        .and_then(|o| o.output_value())
        .expect("RoleArn output");
    assert_eq!(
        role,
        format!("arn:aws:iam::{}:role/harness-lambda", account.account_id)
    );
    cfn.delete_stack()
        .stack_name("harness")
        .send()
        .await
        .expect("delete");
    let after = cfn.describe_stacks().stack_name("harness").send().await;
    let gone = match after {
        Err(_) => true,
        Ok(out) => out
            .stacks()
            .iter()
            .all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE")),
    };
    assert!(gone, "the stack is deleted");
}

#[tokio::test]
async fn accounts_are_isolated() {
    let (a, b) = (Account::new(), Account::new());
    let cfn_a = aws_sdk_cloudformation::Client::new(&a.sdk_config(3).await);
    let cfn_b = aws_sdk_cloudformation::Client::new(&b.sdk_config(3).await);
    cfn_a
        .create_stack()
        .stack_name("mine")
        .template_body(ROLE_TEMPLATE)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("create");
    let seen_by_b = cfn_b.describe_stacks().send().await.expect("describe");
    assert!(seen_by_b.stacks().is_empty());
}

#[tokio::test]
async fn ecs_cluster_task_definition_and_service() {
    let account = Account::new();
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    ecs.create_cluster()
        .cluster_name("harness")
        .send()
        .await
        .expect("cluster");
    let register = |image: &'static str| {
        ecs.register_task_definition()
            .family("ocr")
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("ocr")
                    .image(image)
                    .essential(true)
                    .build(),
            )
            .send()
    };
    let first = register("repo/ocr:1").await.expect("register 1");
    let second = register("repo/ocr:2").await.expect("register 2");
    let revision =
        |out: &aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput| {
            out.task_definition()
                .map(|t| t.revision())
                .unwrap_or_default()
        };
    assert_eq!(revision(&second), revision(&first) + 1);
    ecs.create_service()
        .cluster("harness")
        .service_name("ocr")
        .task_definition("ocr:1")
        .desired_count(2)
        .send()
        .await
        .expect("create service");
    ecs.update_service()
        .cluster("harness")
        .service("ocr")
        .task_definition("ocr:2")
        .send()
        .await
        .expect("update service");
    let described = ecs
        .describe_services()
        .cluster("harness")
        .services("ocr")
        .send()
        .await
        .expect("describe");
    let service = &described.services()[0];
    assert_eq!(service.desired_count(), 2);
    assert!(
        service
            .task_definition()
            .is_some_and(|t| t.ends_with("ocr:2"))
    );
}

#[tokio::test]
async fn lambda_function_versions_and_weighted_alias() {
    let account = Account::new();
    let config = account.sdk_config(3).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    cfn.create_stack()
        .stack_name("roles")
        .template_body(ROLE_TEMPLATE)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("role stack");
    let role = format!("arn:aws:iam::{}:role/harness-lambda", account.account_id);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let v1 = zip(&[("parser.py", "def handler(event, context):\n    return 1\n")]);
    let v2 = zip(&[("parser.py", "def handler(event, context):\n    return 2\n")]);
    let created = lambda
        .create_function()
        .function_name("parser")
        .runtime(Runtime::Python312)
        .handler("parser.handler")
        .role(&role)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(v1.clone()))
                .build(),
        )
        .send()
        .await
        .expect("create_function");
    let sha = |bytes: &[u8]| {
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
    };
    assert_eq!(created.code_sha256(), Some(sha(&v1).as_str()));
    let first = lambda
        .publish_version()
        .function_name("parser")
        .send()
        .await
        .expect("publish 1");
    let updated = lambda
        .update_function_code()
        .function_name("parser")
        .zip_file(Blob::new(v2.clone()))
        .send()
        .await
        .expect("update code");
    assert_eq!(updated.code_sha256(), Some(sha(&v2).as_str()));
    let second = lambda
        .publish_version()
        .function_name("parser")
        .send()
        .await
        .expect("publish 2");
    let (v_first, v_second) = (
        first.version().unwrap_or_default(),
        second.version().unwrap_or_default(),
    );
    assert_ne!(v_first, v_second);
    lambda
        .create_alias()
        .function_name("parser")
        .name("live")
        .function_version(v_first)
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights(v_second, 0.1)
                .build(),
        )
        .send()
        .await
        .expect("create alias");
    let alias = lambda
        .get_alias()
        .function_name("parser")
        .name("live")
        .send()
        .await
        .expect("get alias");
    assert_eq!(alias.function_version(), Some(v_first));
    let weights = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .expect("weights");
    assert_eq!(weights.get(v_second), Some(&0.1));
}

fn lambda_error_rate_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    name: &str,
    threshold: f64,
) -> aws_sdk_cloudwatch::operation::put_metric_alarm::builders::PutMetricAlarmFluentBuilder {
    let metric = |id: &str, metric_name: &str| {
        MetricDataQuery::builder()
            .id(id)
            .return_data(false)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/Lambda")
                            .metric_name(metric_name)
                            .dimensions(
                                Dimension::builder()
                                    .name("FunctionName")
                                    .value("parser")
                                    .build(),
                            )
                            .build(),
                    )
                    .period(300)
                    .stat("Sum")
                    .build(),
            )
            .build()
    };
    cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .alarm_description("errors over invocations")
        .metrics(metric("errors", "Errors"))
        .metrics(metric("invocations", "Invocations"))
        .metrics(
            MetricDataQuery::builder()
                .id("rate")
                .expression("IF(invocations > 0, 100 * errors / invocations, 0)")
                .label("Error rate (%)")
                .return_data(true)
                .build(),
        )
        .threshold(threshold)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .evaluation_periods(1)
        .alarm_actions("arn:aws:sns:eu-west-1:123456789012:ops")
        .tags(
            Tag::builder()
                .key("facturactl:owner")
                .value("tests")
                .build(),
        )
}

async fn describe_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    name: &str,
) -> aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput {
    cloudwatch
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .expect("describe_alarms")
}

#[tokio::test]
async fn cloudwatch_alarms_round_trip_through_the_cbor_bridge() {
    let account = Account::new();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&account.sdk_config(1).await);
    let before = DateTime::from(std::time::SystemTime::now() - Duration::from_secs(5));
    lambda_error_rate_alarm(&cloudwatch, "parser-error-rate", 1.0)
        .send()
        .await
        .expect("put_metric_alarm");

    let described = describe_alarm(&cloudwatch, "parser-error-rate").await;
    let alarm = &described.metric_alarms()[0];
    assert_eq!(alarm.threshold(), Some(1.0));
    assert_eq!(
        alarm.comparison_operator(),
        Some(&ComparisonOperator::GreaterThanThreshold)
    );
    assert_eq!(alarm.metrics().len(), 3);
    let math = alarm
        .metrics()
        .iter()
        .find(|m| m.id() == Some("rate"))
        .expect("math query");
    assert_eq!(
        math.expression(),
        Some("IF(invocations > 0, 100 * errors / invocations, 0)")
    );
    assert_eq!(alarm.state_value(), Some(&StateValue::Ok));
    let updated = alarm
        .alarm_configuration_updated_timestamp()
        .expect("timestamp parsed");
    assert!(
        updated.secs() >= before.secs(),
        "{updated:?} is now, not {before:?}"
    );

    cloudwatch
        .set_alarm_state()
        .alarm_name("parser-error-rate")
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect("set_alarm_state");
    let described = describe_alarm(&cloudwatch, "parser-error-rate").await;
    assert_eq!(
        described.metric_alarms()[0].state_value(),
        Some(&StateValue::Alarm)
    );

    let arn = described.metric_alarms()[0]
        .alarm_arn()
        .expect("arn")
        .to_string();
    cloudwatch
        .tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("platform").build())
        .send()
        .await
        .expect("tag_resource");
    let tags = cloudwatch
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("list tags");
    let keys: Vec<&str> = tags.tags().iter().filter_map(|t| t.key()).collect();
    assert!(
        keys.contains(&"team") && keys.contains(&"facturactl:owner"),
        "{keys:?}"
    );

    cloudwatch
        .delete_alarms()
        .alarm_names("parser-error-rate")
        .send()
        .await
        .expect("delete");
    let described = describe_alarm(&cloudwatch, "parser-error-rate").await;
    assert!(described.metric_alarms().is_empty());
}

#[tokio::test]
async fn cloudwatch_metrics_round_trip_with_timestamps() {
    let account = Account::new();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&account.sdk_config(1).await);
    let now = std::time::SystemTime::now();
    let at = DateTime::from_secs(DateTime::from(now).secs() / 60 * 60 - 120);
    cloudwatch
        .put_metric_data()
        .namespace("FacturaScan360/test")
        .metric_data(
            MetricDatum::builder()
                .metric_name("OcrResponseTime")
                .dimensions(Dimension::builder().name("Service").value("ocr").build())
                .timestamp(at)
                .value(4200.0)
                .build(),
        )
        .send()
        .await
        .expect("put_metric_data");
    let start = DateTime::from_secs(at.secs() - 600);
    let end = DateTime::from_secs(at.secs() + 600);
    let stats = cloudwatch
        .get_metric_statistics()
        .namespace("FacturaScan360/test")
        .metric_name("OcrResponseTime")
        .dimensions(Dimension::builder().name("Service").value("ocr").build())
        .start_time(start)
        .end_time(end)
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .expect("get_metric_statistics");
    let point = &stats.datapoints()[0];
    assert_eq!(point.maximum(), Some(4200.0));
    assert_eq!(point.timestamp().map(|t| t.secs()), Some(at.secs()));
    let data = cloudwatch
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("ocr")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("FacturaScan360/test")
                                .metric_name("OcrResponseTime")
                                .dimensions(
                                    Dimension::builder().name("Service").value("ocr").build(),
                                )
                                .build(),
                        )
                        .period(60)
                        .stat("Maximum")
                        .build(),
                )
                .build(),
        )
        .start_time(start)
        .end_time(end)
        .send()
        .await
        .expect("get_metric_data");
    let result = &data.metric_data_results()[0];
    assert_eq!(result.id(), Some("ocr"));
    assert_eq!(result.values(), [4200.0]);
    assert_eq!(
        result
            .timestamps()
            .iter()
            .map(|t| t.secs())
            .collect::<Vec<_>>(),
        [at.secs()]
    );
}

#[tokio::test]
async fn cloudwatch_errors_are_typed() {
    let account = Account::new();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&account.sdk_config(1).await);
    let missing = cloudwatch
        .set_alarm_state()
        .alarm_name("no-such-alarm")
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect_err("missing alarm");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found()),
        "{missing:?}"
    );
    // An operation moto lacks answers with a clear error, not a hang or an HTML page.
    let lacking = cloudwatch
        .describe_alarm_history()
        .send()
        .await
        .expect_err("not implemented by moto");
    let meta = aws_sdk_cloudwatch::error::ProvideErrorMetadata::meta(&lacking).clone();
    assert_eq!(meta.code(), Some("NotImplemented"), "{lacking:?}");
    assert!(
        meta.message()
            .is_some_and(|m| m.contains("DescribeAlarmHistory"))
    );
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_counted() {
    let account = Account::new();
    let cfn = aws_sdk_cloudformation::Client::new(&account.sdk_config(5).await);
    account.faults(json!({"throttle": 0.3, "seed": 7})).await;
    let mut ok = 0;
    for _ in 0..40 {
        if cfn.describe_stacks().send().await.is_ok() {
            ok += 1;
        }
    }
    let counters = account.requests().await;
    let throttled = counters["faults"]["cloudformation:DescribeStacks:throttle"]
        .as_u64()
        .unwrap_or(0);
    assert!(ok >= 38, "retries got {ok} of 40 calls through");
    assert!(
        throttled >= 5,
        "about 30% of the attempts were throttled: {counters}"
    );
    assert_eq!(
        counters["by_operation"]["cloudformation:DescribeStacks"].as_u64(),
        Some(40 + throttled)
    );

    account.faults_off().await;
    account.reset_requests().await;
    for _ in 0..20 {
        cfn.describe_stacks().send().await.expect("no faults now");
    }
    let counters = account.requests().await;
    assert_eq!(counters["total"], 20);
    assert_eq!(counters["faults"], json!({}));
}

#[tokio::test]
async fn each_service_is_throttled_in_its_own_protocol() {
    let account = Account::new();
    let config = account.sdk_config(1).await;
    account.faults(json!({"throttle": 1.0})).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config)
        .describe_stacks()
        .send()
        .await
        .expect_err("throttled");
    let ecs = aws_sdk_ecs::Client::new(&config)
        .list_clusters()
        .send()
        .await
        .expect_err("throttled");
    let lambda = aws_sdk_lambda::Client::new(&config)
        .list_functions()
        .send()
        .await
        .expect_err("throttled");
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config)
        .describe_alarms()
        .send()
        .await
        .expect_err("throttled");
    use aws_sdk_cloudwatch::error::ProvideErrorMetadata as _;
    assert_eq!(cfn.code(), Some("Throttling"), "{cfn:?}");
    assert_eq!(ecs.code(), Some("ThrottlingException"), "{ecs:?}");
    assert!(
        lambda
            .as_service_error()
            .is_some_and(|e| e.is_too_many_requests_exception()),
        "{lambda:?}"
    );
    assert_eq!(cloudwatch.code(), Some("Throttling"), "{cloudwatch:?}");
}

#[tokio::test]
async fn server_errors_resets_and_latency_are_injected() {
    let account = Account::new();
    let config = account.sdk_config(1).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);

    account
        .faults(json!({"server_error": 1.0, "services": ["cloudformation"]}))
        .await;
    let err = cfn.describe_stacks().send().await.expect_err("5xx");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(503), "{err:?}");
    // Limited to CloudFormation: ECS still answers.
    aws_sdk_ecs::Client::new(&config)
        .list_clusters()
        .send()
        .await
        .expect("ecs unaffected");

    account.faults(json!({"reset": 1.0})).await;
    let err = cfn.describe_stacks().send().await.expect_err("reset");
    assert!(
        matches!(
            err,
            aws_sdk_cloudformation::error::SdkError::DispatchFailure(_)
        ),
        "{err:?}"
    );

    account
        .faults(json!({"latency_ms": 300, "jitter_ms": 50}))
        .await;
    let started = Instant::now();
    cfn.describe_stacks().send().await.expect("slow but fine");
    assert!(started.elapsed() >= Duration::from_millis(300));
    account.faults_off().await;
}

#[tokio::test]
async fn faults_can_target_one_operation_and_repeat_with_a_seed() {
    let account = Account::new();
    let cfn = aws_sdk_cloudformation::Client::new(&account.sdk_config(1).await);
    let outcomes = |n: usize| {
        let cfn = cfn.clone();
        async move {
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(cfn.describe_stacks().send().await.is_ok());
            }
            v
        }
    };
    account
        .faults(json!({"throttle": 0.5, "seed": 42, "operations": ["DescribeStacks"]}))
        .await;
    let first = outcomes(20).await;
    // ListStacks is not targeted.
    cfn.list_stacks()
        .send()
        .await
        .expect("other operations untouched");
    account
        .faults(json!({"throttle": 0.5, "seed": 42, "operations": ["DescribeStacks"]}))
        .await;
    let second = outcomes(20).await;
    assert_eq!(first, second, "the same seed gives the same faults");
    assert!(first.contains(&true) && first.contains(&false));
    account.faults_off().await;
}

#[tokio::test]
async fn the_counter_tells_reads_from_writes() {
    let account = Account::new();
    let config = account.sdk_config(1).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    cloudwatch.describe_alarms().send().await.expect("read");
    lambda_error_rate_alarm(&cloudwatch, "a", 1.0)
        .send()
        .await
        .expect("write");
    aws_sdk_ecs::Client::new(&config)
        .list_clusters()
        .send()
        .await
        .expect("read");
    let counters = account.requests().await;
    assert_eq!(
        (
            counters["total"].as_u64(),
            counters["reads"].as_u64(),
            counters["writes"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(counters["by_operation"]["monitoring:PutMetricAlarm"], 1);
    assert_eq!(counters["by_operation"]["ecs:ListClusters"], 1);
    account.reset_requests().await;
    assert_eq!(account.requests().await["total"], 0);
}

#[tokio::test]
async fn endpoint_overrides_reach_every_client() {
    let account = Account::new();
    let loaded = facturactl::config::load(&repo_root(), "local", &facturactl::policy::rule_ids())
        .expect("config");
    let mut env = loaded.config.environment.clone();
    // The configured endpoint is dead; the overrides must win.
    env.endpoint_url = Some("http://127.0.0.1:9".into());
    let via_variable = EndpointOverride {
        flag: None,
        env_var: Some(account.endpoint.clone()),
        ..Default::default()
    };
    let aws = AwsContext::with_loader(account.loader(), &env, &via_variable).await;
    aws.cloudformation
        .describe_stacks()
        .send()
        .await
        .expect("cloudformation via AWS_ENDPOINT_URL");
    aws.ecs.list_clusters().send().await.expect("ecs");
    aws.lambda.list_functions().send().await.expect("lambda");
    aws.cloudwatch
        .describe_alarms()
        .send()
        .await
        .expect("cloudwatch");
    let via_flag = EndpointOverride {
        flag: Some(account.endpoint.clone()),
        env_var: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    let aws = AwsContext::with_loader(account.loader(), &env, &via_flag).await;
    aws.cloudformation
        .describe_stacks()
        .send()
        .await
        .expect("the flag beats the variable");
    assert_eq!(account.requests().await["total"], 5);
}

#[test]
fn standalone_start_and_stop_leave_no_process() {
    let state = tempfile::tempdir().expect("state dir");
    let run = |command: &str| {
        std::process::Command::new(python())
            .arg(repo_root().join("scripts/local_aws.py"))
            .arg(command)
            .env("LOCAL_AWS_STATE_DIR", state.path())
            .output()
            .expect("run local_aws.py")
    };
    let started = run("start");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let line = String::from_utf8_lossy(&started.stdout).trim().to_string();
    let endpoint = line.strip_prefix("endpoint ").expect("one endpoint line");
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{line}");
    let state_file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.path().join("state.json")).expect("state"),
    )
    .expect("json");
    let pid = state_file["pid"].as_u64().expect("pid");
    let health = std::process::Command::new("curl")
        .args(["-sf", &format!("{endpoint}/__harness/health")])
        .output();
    if let Ok(health) = health {
        assert!(health.status.success());
    }
    // Starting again reports the running one instead of a second emulator.
    assert_eq!(String::from_utf8_lossy(&run("start").stdout).trim(), line);
    let stopped = run("stop");
    assert!(stopped.status.success());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still running"
    );
    assert!(!state.path().join("state.json").exists());
    assert_eq!(run("status").status.code(), Some(3));
}
