//! ECS A/B on the emulator: the scoring service on Fargate behind the internal load
//! balancer, its path routed by the listener rule facturactl creates on the first rollout;
//! `traffic set` runs a revision as the `-variant` service and weighs the two target
//! groups, `traffic` reads the weights back, `abort` and `promote` end the experiment.

use serde_json::Value;

use crate::rollouts::{project, push_image};
use crate::support::emulator::Account;
use crate::support::{Project, run_json};

pub(crate) fn ecs_scoring(account: &Account) -> Project {
    let project = project(account);
    project.replace(
        "environments/local.yaml",
        "stacks:\n",
        "stacks:\n  ml:\n    enabled: true\n    inputs:\n      VpcId: network.VpcId\n      LoadBalancerSecurityGroupId: network.LoadBalancerSecurityGroupId\n      ListenerArn: api.ListenerArn\n",
    );
    project.replace(
        "environments/local.yaml",
        "services:\n",
        "services:\n  scoring:\n    enabled: true\n    lambda: ~\n    ecs:\n      repository: facturascan/scoring\n      cpu: 256\n      memory: 512\n      desired_count: 2\n      container_port: 8080\n      path: \"/predict*\"\n",
    );
    project
}

async fn weights(account: &Account) -> Vec<(String, i32)> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&account.sdk_config(3).await);
    let balancer = elb
        .describe_load_balancers()
        .names("facturascan-local-api")
        .send()
        .await
        .expect("the api load balancer");
    let arn = balancer.load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_string();
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(arn)
        .send()
        .await
        .expect("listeners");
    let listener = listeners.listeners()[0].listener_arn().expect("listener");
    let rules = elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("rules");
    let rule = rules
        .rules()
        .iter()
        .find(|r| {
            r.conditions()
                .iter()
                .any(|c| c.field() == Some("path-pattern"))
        })
        .expect("the /predict* rule facturactl created");
    rule.actions()[0]
        .forward_config()
        .expect("a weighted forward")
        .target_groups()
        .iter()
        .map(|g| {
            (
                g.target_group_arn().unwrap_or_default().to_string(),
                g.weight().unwrap_or(1),
            )
        })
        .collect()
}

/// The rule's weights alone, control first.
async fn shares(account: &Account) -> Vec<i32> {
    weights(account).await.into_iter().map(|(_, w)| w).collect()
}

fn traffic(project: &Project, account: &Account, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["traffic", "--env", "local"];
    all.extend_from_slice(args);
    run_json(project, account, &all)
}

/// DescribeTargetHealth as the load balancer answers it for a target failing its checks.
const UNHEALTHY: &str = r#"<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult>
    <TargetHealthDescriptions>
      <member>
        <Target><Id>10.0.3.17</Id><Port>8080</Port></Target>
        <HealthCheckPort>8080</HealthCheckPort>
        <TargetHealth>
          <State>unhealthy</State>
          <Reason>Target.ResponseCodeMismatch</Reason>
          <Description>Health checks failed with these codes: [500]</Description>
        </TargetHealth>
      </member>
    </TargetHealthDescriptions>
  </DescribeTargetHealthResult>
  <ResponseMetadata><RequestId>9f1c7a52-1b1e-4c39-9a57-5d1e0c7f2a11</RequestId></ResponseMetadata>
</DescribeTargetHealthResponse>"#;

#[tokio::test]
async fn an_ecs_split_is_weighed_by_target_groups_set_read_back_and_ended() {
    let account = Account::new();
    let project = ecs_scoring(&account);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "stacks first: {stderr}");
    push_image(&account, "facturascan/scoring", "v1", "a").await;
    push_image(&account, "facturascan/scoring", "v2", "b").await;
    let deploy = |image: &str| {
        run_json(
            &project,
            &account,
            &[
                "deploy",
                "--env",
                "local",
                "--image",
                &format!("scoring={image}"),
            ],
        )
    };
    let (code, _, stderr) = deploy("v1");
    assert_eq!(code, Some(0), "{stderr}");
    // The first rollout routed the path: everything on the control's target group.
    let first = weights(&account).await;
    assert_eq!(first.iter().map(|(_, w)| *w).collect::<Vec<_>>(), [100, 0]);
    let (code, _, stderr) = deploy("v2");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        weights(&account).await,
        first,
        "a deploy leaves the route as it is"
    );

    // The model goes to ECS as to Lambda: by reference, in a new revision of the control.
    project.write("m1.bin", "model one");
    project.write("input.json", crate::models::SCORING_INPUT);
    let (code, _, stderr) = crate::models::model(
        &project,
        &account,
        &[
            "register",
            "fraud-scoring",
            "--file",
            "m1.bin",
            "--input",
            "input.json",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &["deploy", "--env", "local", "--model", "scoring=1"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, out, stderr) = traffic(&project, &account, &["scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        out["control"]["version"], "facturascan-local-scoring:3",
        "{out}"
    );
    let model_sha = out["control"]["model_sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(model_sha.len(), 64, "the control runs the model: {out}");

    // Revision 1 (v1, no model) as the variant, at 10%.
    let (code, out, stderr) = traffic(
        &project,
        &account,
        &["set", "scoring", "--variant", "1", "--percent", "10"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        out["control"]["version"], "facturascan-local-scoring:3",
        "{out}"
    );
    assert_eq!(
        out["variant"]["version"], "facturascan-local-scoring:1",
        "{out}"
    );
    assert_eq!(out["control"]["model_sha256"], model_sha.as_str(), "{out}");
    assert_eq!(out["variant"]["model_sha256"], "", "{out}");
    assert_eq!(out["control"]["percent"], 90.0);
    assert_eq!(out["variant"]["percent"], 10.0);
    assert!(
        out["function"]
            .as_str()
            .is_some_and(|f| f.ends_with("/scoring")),
        "{out}"
    );
    assert_eq!(shares(&account).await, [90, 10]);
    let (code, out, stderr) = traffic(&project, &account, &["scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(out["variant"]["percent"], 10.0, "read back: {out}");
    assert!(
        out["comparisons"].as_array().is_some_and(|c| !c.is_empty()),
        "both sides compared: {out}"
    );

    // A revision that does not exist, and the control itself, are refused.
    let (code, _, stderr) = traffic(
        &project,
        &account,
        &["set", "scoring", "--variant", "9", "--percent", "10"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, stderr) = traffic(
        &project,
        &account,
        &["set", "scoring", "--variant", "3", "--percent", "10"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("already the control"), "{stderr}");

    // Abort: all on the control, the variant scaled to zero.
    let (code, out, stderr) = traffic(&project, &account, &["abort", "scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(out["variant"].is_null(), "{out}");
    assert_eq!(shares(&account).await, [100, 0]);

    // A variant whose targets fail their health checks gets no traffic: refused (exit 3),
    // scaled back to zero, the split unchanged. (A failed check is a recorded answer: the
    // emulator's targets are always healthy.)
    account
        .script(
            "elasticloadbalancing:DescribeTargetHealth",
            vec![serde_json::json!({"status": 200, "content_type": "text/xml", "body": UNHEALTHY})],
        )
        .await;
    let (code, out, stderr) = traffic(
        &project,
        &account,
        &["set", "scoring", "--variant", "1", "--percent", "10"],
    );
    assert_eq!(code, Some(3), "{stderr}\n{out}");
    assert!(
        stderr.contains("failed their health checks")
            && stderr.contains("Health checks failed with these codes: [500]"),
        "{stderr}"
    );
    assert_eq!(shares(&account).await, [100, 0], "the split is unchanged");
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let variant = ecs
        .describe_services()
        .cluster("facturascan-local")
        .services("scoring-variant")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        variant.services()[0].desired_count(),
        0,
        "scaled back to zero"
    );

    // A registered model as the variant, on the control's image: a revision is made for it.
    project.write("m2.bin", "model two");
    crate::models::register(&project, &account, "m2.bin", &[]);
    let (code, out, stderr) = traffic(
        &project,
        &account,
        &["set", "scoring", "--model", "2", "--percent", "20"],
    );
    assert_eq!(code, Some(0), "{stderr}\n{out}");
    assert_eq!(
        out["control"]["version"], "facturascan-local-scoring:3",
        "{out}"
    );
    assert_eq!(
        out["variant"]["version"], "facturascan-local-scoring:4",
        "{out}"
    );
    assert_eq!(
        out["variant"]["model_sha256"],
        crate::support::sha256_hex(b"model two").as_str(),
        "{out}"
    );
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let mut images = Vec::new();
    for revision in ["facturascan-local-scoring:3", "facturascan-local-scoring:4"] {
        let described = ecs
            .describe_task_definition()
            .task_definition(revision)
            .send()
            .await
            .expect("the revision");
        let definition = described.task_definition().expect("a task definition");
        images.push(
            definition.container_definitions()[0]
                .image()
                .map(str::to_string),
        );
    }
    assert_eq!(images[0], images[1], "the control's image");
    let (code, _, stderr) = traffic(&project, &account, &["abort", "scoring"]);
    assert_eq!(code, Some(0), "{stderr}");

    // Promote: the variant's revision becomes the control's.
    let (code, _, stderr) = traffic(
        &project,
        &account,
        &["set", "scoring", "--variant", "1", "--percent", "50"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, out, stderr) = traffic(&project, &account, &["promote", "scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        out["control"]["version"], "facturascan-local-scoring:1",
        "{out}"
    );
    assert!(out["variant"].is_null(), "{out}");
    assert_eq!(shares(&account).await, [100, 0]);

    // Destroy removes what facturactl made beside the service (the variant service and the
    // rule, which would keep the target groups in use) before the stacks.
    let (code, _, stderr) = run_json(&project, &account, &["destroy", "--env", "local", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let active: Vec<String> = ecs
        .describe_services()
        .cluster("facturascan-local")
        .services("scoring")
        .services("scoring-variant")
        .send()
        .await
        .map(|o| {
            o.services()
                .iter()
                .filter(|s| s.status() == Some("ACTIVE"))
                .filter_map(|s| s.service_name().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(active.is_empty(), "no service left behind: {active:?}");
}

/// The target group an active ECS service is in.
async fn service_group(account: &Account, service: &str) -> Option<String> {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let found = ecs
        .describe_services()
        .cluster("facturascan-local")
        .services(service)
        .send()
        .await
        .expect("describe");
    found
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))?
        .load_balancers()
        .first()?
        .target_group_arn()
        .map(str::to_string)
}

/// A new `container_port` replaces the ML stack's target groups, which facturactl's rule
/// forwards to (CloudFormation cannot delete them: AWS leaves them DELETE_FAILED and
/// outside the stack). The deploy attaches the new groups to the rule with weight 0,
/// moves the service (and an experiment's variant) into them, moves the split onto them
/// and deletes the earlier groups; the next deploy has nothing to refuse.
#[tokio::test]
async fn replaced_target_groups_take_the_service_and_the_split_with_them() {
    let account = Account::new();
    let project = ecs_scoring(&account);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "stacks first: {stderr}");
    push_image(&account, "facturascan/scoring", "v1", "a").await;
    push_image(&account, "facturascan/scoring", "v2", "b").await;
    let deploy = |project: &Project, image: &str| {
        run_json(
            project,
            &account,
            &[
                "deploy",
                "--env",
                "local",
                "--image",
                &format!("scoring={image}"),
            ],
        )
    };
    let (code, _, stderr) = deploy(&project, "v1");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = deploy(&project, "v2");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = traffic(
        &project,
        &account,
        &["set", "scoring", "--variant", "1", "--percent", "10"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let before = weights(&account).await;
    assert_eq!(before.iter().map(|(_, w)| *w).collect::<Vec<_>>(), [90, 10]);
    assert_eq!(
        service_group(&account, "scoring").await.as_deref(),
        Some(before[0].0.as_str())
    );

    project.replace(
        "environments/local.yaml",
        "container_port: 8080",
        "container_port: 8081",
    );
    let (code, report, stderr) = deploy(&project, "v2");
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    assert!(
        stderr.contains("replaced scoring's target groups"),
        "{stderr}"
    );
    let after = weights(&account).await;
    assert_eq!(
        after.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
        [90, 10],
        "the split moved with them"
    );
    assert!(
        after
            .iter()
            .all(|(arn, _)| !before.iter().any(|(old, _)| old == arn)),
        "{after:?}"
    );
    assert_eq!(
        service_group(&account, "scoring").await.as_deref(),
        Some(after[0].0.as_str())
    );
    assert_eq!(
        service_group(&account, "scoring-variant").await.as_deref(),
        Some(after[1].0.as_str())
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&account.sdk_config(3).await);
    let groups = elb.describe_target_groups().send().await.expect("groups");
    let left: Vec<&str> = groups
        .target_groups()
        .iter()
        .filter_map(|g| g.target_group_arn())
        .filter(|arn| before.iter().any(|(old, _)| old == arn))
        .collect();
    assert!(left.is_empty(), "the earlier groups are deleted: {left:?}");
    let ports: Vec<Option<i32>> = groups
        .target_groups()
        .iter()
        .filter(|g| {
            after
                .iter()
                .any(|(arn, _)| g.target_group_arn() == Some(arn))
        })
        .map(|g| g.port())
        .collect();
    assert_eq!(ports, [Some(8081), Some(8081)]);

    // Nothing left to move: the next deploy leaves the rule as it is.
    let (code, _, stderr) = deploy(&project, "v2");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(weights(&account).await, after);

    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    assert_eq!(
        status["current"]["services"]["scoring"]["runtime"], "ecs",
        "{status}"
    );

    // Back on Lambda: the stack drops its groups, and the deploy retires what facturactl
    // made around them (both services, the rule), then the groups themselves.
    let overlay = project.read("environments/local.yaml");
    let start = overlay.find("  scoring:\n").expect("the scoring overlay");
    let last = "path: \"/predict*\"\n";
    let end = start + overlay[start..].find(last).expect("its end") + last.len();
    let lambda = format!(
        "{}  scoring:\n    enabled: true\n{}",
        &overlay[..start],
        &overlay[end..]
    )
    .replace(
        "    inputs:\n      VpcId: network.VpcId\n      LoadBalancerSecurityGroupId: network.LoadBalancerSecurityGroupId\n      ListenerArn: api.ListenerArn\n",
        "",
    );
    project.write("environments/local.yaml", &lambda);
    let (code, report, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    let scoring = report["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["service"] == "scoring"))
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(scoring["result"], "retired", "{report}");
    let groups = elb.describe_target_groups().send().await.expect("groups");
    assert!(
        groups.target_groups().iter().all(|g| !after
            .iter()
            .any(|(arn, _)| g.target_group_arn() == Some(arn))),
        "the groups are gone"
    );
    assert_eq!(service_group(&account, "scoring").await, None);
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    let recorded = &status["current"]["services"];
    assert!(recorded.is_object(), "{status}");
    assert!(
        recorded["scoring"].is_null(),
        "retired from the record: {status}"
    );
}
