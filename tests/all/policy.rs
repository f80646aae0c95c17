//! Policy rules on real rendered templates: blocking in production, warnings elsewhere.

use crate::support::Project;

/// Runs `validate --output json`, expects exit 3 (refused), and returns the report.
fn validate_refused(project: &Project, env: &str) -> serde_json::Value {
    let output = project
        .cmd()
        .args(["validate", "--env", env, "--output", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// Makes the raw bucket public, writable by anyone's role, and unencrypted.
fn weaken(project: &Project) {
    let storage = "templates/stacks/storage.yaml.tera";
    project.replace(
        storage,
        "        RestrictPublicBuckets: true",
        "        RestrictPublicBuckets: false",
    );
    project.replace(
        storage,
        "              SSEAlgorithm: aws:kms",
        "              SSEAlgorithm: AES256",
    );
    project.replace(
        "templates/stacks/security.yaml.tera",
        "              - Effect: Allow\n                Action: [s3:PutObject]",
        "              - Effect: Allow\n                Action: [s3:PutObject]\n                Resource: \"*\"\n              - Effect: Allow\n                Action: [s3:DeleteObject]",
    );
}

#[test]
fn findings_block_production_with_exit_3() {
    let project = Project::copy();
    weaken(&project);
    let doc = validate_refused(&project, "production");
    let findings = doc["policy"]["findings"].as_array().expect("findings");
    let has = |rule: &str, resource: &str| {
        findings.iter().any(|f| {
            f["rule"] == rule
                && f["resource"] == resource
                && f["level"] == "error"
                && f["hint"].as_str().is_some_and(|h| !h.is_empty())
        })
    };
    assert!(has("S3_PUBLIC_ACCESS", "RawBucket"), "{findings:#?}");
    assert!(has("S3_ENCRYPTION", "ProcessedBucket"));
    assert!(has("IAM_WILDCARD", "ParserFunctionRole"));
    assert_eq!(
        doc["blocking"],
        findings.iter().filter(|f| f["level"] == "error").count()
    );
}

#[test]
fn the_same_findings_only_warn_in_staging() {
    let project = Project::copy();
    weaken(&project);
    let output = project
        .cmd()
        .args(["validate", "--env", "staging"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("warning[S3_PUBLIC_ACCESS]"), "{stdout}");
}

#[test]
fn enforce_mode_can_be_configured_anywhere() {
    let project = Project::copy();
    weaken(&project);
    project.append("environments/staging.yaml", "\npolicy:\n  mode: enforce\n");
    project
        .cmd()
        .args(["validate", "--env", "staging"])
        .assert()
        .code(3);
}

#[test]
fn deletion_protection_is_required_in_production_only() {
    let project = Project::copy();
    project.replace(
        "templates/stacks/database.yaml.tera",
        "DeletionProtection: {{ env.production }}",
        "DeletionProtection: false",
    );
    let doc = validate_refused(&project, "production");
    let blocking: Vec<&serde_json::Value> = doc["policy"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["level"] == "error")
        .collect();
    assert_eq!(blocking.len(), 1, "{blocking:#?}");
    assert_eq!(blocking[0]["rule"], "DELETION_PROTECTION");
    assert_eq!(blocking[0]["resource"], "Database");
    project
        .cmd()
        .args(["validate", "--env", "staging"])
        .assert()
        .code(0);
}

#[test]
fn a_service_without_its_alarms_is_found() {
    let project = Project::copy();
    project.append(
        "environments/production.yaml",
        "  ecs-memory:\n    enabled: false\n",
    );
    let doc = validate_refused(&project, "production");
    let rules: Vec<(&str, &str)> = doc["policy"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or(""),
                f["resource"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(rules.contains(&("ALARM_COVERAGE", "ocr")), "{rules:?}");
    assert!(rules.contains(&("ALARM_COVERAGE", "backend")), "{rules:?}");
}

#[test]
fn an_alarm_channel_without_a_topic_is_found() {
    let project = Project::copy();
    project.replace("templates/stacks/alerts.yaml.tera", "TopicName: \"{{ env.prefix }}-alerts-{{ name }}\"\n      DisplayName: \"FacturaScan {{ env.name }}\"", "TopicName: \"{{ env.prefix }}-mail-{{ name }}\"\n      DisplayName: \"FacturaScan {{ env.name }}\"");
    let text = validate_refused(&project, "production").to_string();
    assert!(text.contains("ALARM_CHANNEL"), "{text}");
    assert!(
        text.contains("facturascan-production-alerts-ops-email"),
        "{text}"
    );
}

#[test]
fn the_shipped_environments_pass_policy() {
    for env in ["local", "staging", "production"] {
        let output = Project::copy()
            .cmd()
            .args(["validate", "--env", env])
            .output()
            .expect("run");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{env}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

/// The API Gateway deployment is named after the API it snapshots: an edited method gets a
/// new deployment (CloudFormation creates one only for a new logical id), and a template
/// that names it plainly is refused in production.
#[test]
fn api_deployments_follow_the_api_definition() {
    let project = Project::copy();
    let deployment_id = |project: &Project| {
        let rule_ids = facturactl::policy::rule_ids();
        let loaded =
            facturactl::config::load(project.path(), "production", &rule_ids).expect("loads");
        let rendered = facturactl::render::render(&loaded).expect("renders");
        let api = rendered
            .stacks
            .iter()
            .find(|s| s.name == "api")
            .expect("api stack");
        let ids: Vec<String> = api
            .resources()
            .filter(|(_, r)| r["Type"].as_str() == Some("AWS::ApiGateway::Deployment"))
            .map(|(id, _)| id.to_string())
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert!(
            api.body
                .contains(&format!("DeploymentId: {{ Ref: {} }}", ids[0])),
            "the stage serves the deployment"
        );
        ids[0].clone()
    };
    let before = deployment_id(&project);
    project.replace(
        "templates/stacks/api.yaml.tera",
        "TimeoutInMillis: 29000",
        "TimeoutInMillis: 20000",
    );
    let after = deployment_id(&project);
    assert_ne!(before, after, "an edited integration is a new deployment");

    // A value the methods use (the backend's domain, through `${ApiDomainName}`) is part
    // of what the stage serves: changing it is a new deployment too (issue 27, item 3).
    project.replace(
        "environments/production.yaml",
        "ApiDomainName: api.facturascan.com",
        "ApiDomainName: api2.facturascan.com",
    );
    let moved = deployment_id(&project);
    assert_ne!(after, moved, "a new domain is a new deployment");

    project.replace(
        "templates/stacks/api.yaml.tera",
        "DeploymentApiDefinitionHash",
        "Deployment",
    );
    project.replace(
        "templates/stacks/api.yaml.tera",
        "DeploymentId: { Ref: DeploymentApiDefinitionHash }",
        "DeploymentId: { Ref: Deployment }",
    );
    let doc = validate_refused(&project, "production");
    let findings = doc["policy"]["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "API_DEPLOYMENT_FRESH" && f["resource"] == "Deployment"),
        "{findings:#?}"
    );
}
