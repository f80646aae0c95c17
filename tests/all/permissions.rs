//! The permission rules (XRAY_, LOG_, ECS_EXECUTION_, DESTINATION_PERMISSIONS,
//! KMS_SERVICE_PRINCIPALS, SERVICE_PRINCIPAL_CONDITIONS) on real rendered templates: the repository's satisfy them in every environment, and each broken
//! the way a real first deploy would break is named, on the resource that needs the grant.

use crate::support::Project;

const SECURITY: &str = "templates/stacks/security.yaml.tera";

/// The environment loaded and rendered by the library.
fn rendered(
    project: &Project,
    env: &str,
) -> (
    facturactl::config::LoadedConfig,
    facturactl::render::RenderedEnv,
) {
    let rule_ids = facturactl::policy::rule_ids();
    let loaded = facturactl::config::load(project.path(), env, &rule_ids).expect("config loads");
    let rendered = facturactl::render::render(&loaded).expect("renders");
    (loaded, rendered)
}

/// The policy report of an environment, from the library.
fn policy_report(project: &Project, env: &str) -> facturactl::policy::PolicyReport {
    let (loaded, rendered) = rendered(project, env);
    facturactl::policy::check(&loaded.config, &rendered)
}

/// (rule, resource) of the permission findings of an environment, from the library.
fn permission_findings(project: &Project, env: &str) -> Vec<(String, String)> {
    let report = policy_report(project, env);
    report
        .findings
        .into_iter()
        .filter(|f| f.rule.ends_with("_PERMISSIONS") || f.rule.contains("PRINCIPAL"))
        .map(|f| (f.rule.to_string(), f.resource))
        .collect()
}

fn has(findings: &[(String, String)], rule: &str, resource: &str) -> bool {
    findings.iter().any(|(r, x)| r == rule && x == resource)
}

#[test]
fn every_environment_satisfies_the_permission_rules() {
    let project = Project::copy();
    for env in ["local", "staging", "production"] {
        let findings = permission_findings(&project, env);
        assert!(findings.is_empty(), "{env}: {findings:?}");
    }
}

#[test]
fn tracing_without_xray_permissions_is_named() {
    let project = Project::copy();
    project.replace(
        SECURITY,
        "              - Effect: Allow\n                Action: [xray:PutTraceSegments, xray:PutTelemetryRecords]\n                Resource: \"*\"\n",
        "",
    );
    project.replace(
        SECURITY,
        "Action: [xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSamplingRules, xray:GetSamplingTargets]",
        "Action: [xray:PutTraceSegments]",
    );
    let findings = permission_findings(&project, "production");
    assert!(
        has(&findings, "XRAY_PERMISSIONS", "ParserFunction"),
        "{findings:?}"
    );
    assert!(
        has(&findings, "XRAY_PERMISSIONS", "ValidatorFunction"),
        "{findings:?}"
    );
    assert!(
        has(&findings, "XRAY_PERMISSIONS", "Pipeline"),
        "{findings:?}"
    );
}

#[test]
fn functions_state_machines_and_tasks_without_log_permissions_are_named() {
    let project = Project::copy();
    project.replace(
        SECURITY,
        "                Action: [logs:CreateLogStream, logs:PutLogEvents]\n                Resource: { \"Fn::Sub\": \"{{ logs_arn }}/lambda/{{ name }}:*\" }",
        "                Action: [logs:PutLogEvents]\n                Resource: { \"Fn::Sub\": \"{{ logs_arn }}/lambda/{{ name }}:*\" }",
    );
    project.replace(
        SECURITY,
        "                Action: [logs:CreateLogStream, logs:PutLogEvents]\n                Resource: { \"Fn::Sub\": \"{{ logs_arn }}/ecs/*\" }",
        "                Action: [logs:CreateLogStream]\n                Resource: { \"Fn::Sub\": \"{{ logs_arn }}/ecs/*\" }",
    );
    project.replace(SECURITY, "logs:CreateLogDelivery, ", "");
    let findings = permission_findings(&project, "production");
    assert!(
        has(&findings, "LOG_PERMISSIONS", "ParserFunction"),
        "{findings:?}"
    );
    assert!(
        has(&findings, "LOG_PERMISSIONS", "Pipeline"),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|(r, x)| r == "LOG_PERMISSIONS" && x.ends_with("TaskDefinition")),
        "{findings:?}"
    );
}

#[test]
fn tasks_that_cannot_pull_or_read_their_secrets_are_named() {
    let project = Project::copy();
    project.replace(
        "environments/production.yaml",
        "      desired_count: 4\n",
        "      desired_count: 4\n      secrets:\n        API_KEY: \"secretsmanager:facturascan/production/ocr-api-key\"\n",
    );
    assert!(
        permission_findings(&project, "production").is_empty(),
        "the execution role reads the environment's Secrets Manager secrets"
    );
    project.replace(
        SECURITY,
        "Action: [ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability]",
        "Action: [ecr:BatchCheckLayerAvailability]",
    );
    project.replace(
        SECURITY,
        "Action: [secretsmanager:GetSecretValue]",
        "Action: [secretsmanager:DescribeSecret]",
    );
    let findings = permission_findings(&project, "production");
    let ecs: Vec<_> = findings
        .iter()
        .filter(|(r, _)| r == "ECS_EXECUTION_PERMISSIONS")
        .collect();
    // Every ECS task pulls from ECR; the OCR task also has its secret.
    assert!(ecs.len() >= 3, "{findings:?}");
}

#[test]
fn a_secret_outside_the_execution_roles_resources_is_named() {
    let project = Project::copy();
    // Under the environment's prefix (Secrets Manager and Parameter Store): readable.
    project.replace(
        "environments/production.yaml",
        "      desired_count: 4\n",
        "      desired_count: 4\n      secrets:\n        API_KEY: \"secretsmanager:facturascan/production/ocr-api-key\"\n        REGION_HINT: \"ssm:/facturascan/production/ocr/region\"\n",
    );
    assert!(
        permission_findings(&project, "production").is_empty(),
        "inside the role's resources"
    );
    // Another team's secret and another environment's parameter: the action is granted,
    // the resources are not, and ECS would stop every task (ResourceInitializationError).
    project.replace(
        "environments/production.yaml",
        "secretsmanager:facturascan/production/ocr-api-key",
        "secretsmanager:payments/ocr-api-key",
    );
    project.replace(
        "environments/production.yaml",
        "ssm:/facturascan/production/ocr/region",
        "ssm:/facturascan/staging/ocr/region",
    );
    let report = policy_report(&project, "production");
    let messages: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "ECS_EXECUTION_PERMISSIONS")
        .map(|f| f.message.clone())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("secret:payments/ocr-api-key")
                && m.contains("allows secretsmanager:GetSecretValue only on")
                && m.contains("secret:facturascan/production/*")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("parameter/facturascan/staging/ocr/region")),
        "{messages:?}"
    );
}

#[test]
fn a_destination_the_role_cannot_send_to_is_named() {
    let project = Project::copy();
    let on_failure = |destination: &str| {
        format!(
            "  ParserOnFailure:\n    Type: AWS::Lambda::EventInvokeConfig\n    Properties:\n      FunctionName: {{ Ref: ParserFunction }}\n      Qualifier: \"$LATEST\"\n      MaximumRetryAttempts: 2\n      DestinationConfig:\n        OnFailure:\n          Destination: {destination}\n\nOutputs:"
        )
    };
    project.replace(
        "templates/stacks/processing.yaml.tera",
        "\nOutputs:",
        &format!(
            "\n{}",
            on_failure("{ \"Fn::GetAtt\": [ValidationQueue, Arn] }")
        ),
    );
    assert!(
        permission_findings(&project, "production").is_empty(),
        "the parser's role may send to the validation queue"
    );
    project.replace(
        "templates/stacks/processing.yaml.tera",
        "Destination: { \"Fn::GetAtt\": [ValidationQueue, Arn] }",
        "Destination: { \"Fn::Sub\": \"arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:failures\" }",
    );
    let findings = permission_findings(&project, "production");
    assert!(
        has(&findings, "DESTINATION_PERMISSIONS", "ParserOnFailure"),
        "{findings:?}"
    );
}

#[test]
fn services_the_key_policy_does_not_let_in_are_named() {
    let project = Project::copy();
    project.replace(
        SECURITY,
        "            Action: [kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*]",
        "            Action: [kms:Decrypt, kms:Describe*]",
    );
    project.replace(
        SECURITY,
        "            Principal: { Service: cloudwatch.amazonaws.com }",
        "            Principal: { Service: events.amazonaws.com }",
    );
    let findings = permission_findings(&project, "production");
    let named = |prefix: &str| {
        findings
            .iter()
            .any(|(r, x)| r == "KMS_SERVICE_PRINCIPALS" && x.ends_with(prefix))
    };
    // Every encrypted log group, and the alert topics the alarms notify.
    assert!(named("Logs"), "{findings:?}");
    assert!(named("Topic"), "{findings:?}");
}

#[test]
fn service_principals_without_a_source_condition_are_named() {
    let project = Project::copy();
    project.replace(
        SECURITY,
        "              StringEquals:\n                aws:SourceAccount: { Ref: \"AWS::AccountId\" }\n              ArnLike:\n                aws:SourceArn:",
        "              StringEquals:\n                aws:PrincipalTag/team:",
    );
    project.replace(
        "templates/stacks/alerts.yaml.tera",
        "      Principal: sns.amazonaws.com\n      SourceArn:",
        "      Principal: sns.amazonaws.com\n      Description:",
    );
    let findings = permission_findings(&project, "local");
    assert!(
        has(&findings, "SERVICE_PRINCIPAL_CONDITIONS", "Key"),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|(r, x)| r == "SERVICE_PRINCIPAL_CONDITIONS" && x != "Key"),
        "the forwarder's invoke permission: {findings:?}"
    );
}

/// (rule, resource) of every finding of `rules` in an environment.
fn findings_of(project: &Project, env: &str, rules: &[&str]) -> Vec<(String, String)> {
    policy_report(project, env)
        .findings
        .into_iter()
        .filter(|f| rules.contains(&f.rule))
        .map(|f| (f.rule.to_string(), f.resource))
        .collect()
}

const OWNERSHIP_RULES: &[&str] = &[
    "ONE_OWNER",
    "SHARED_FUNCTION_ROLE",
    "PLAIN_HTTP_LISTENER",
    "COGNITO_SES",
];

#[test]
fn every_environment_satisfies_the_ownership_and_tls_rules() {
    let project = Project::copy();
    for env in ["local", "staging", "production"] {
        let findings = findings_of(&project, env, OWNERSHIP_RULES);
        assert!(findings.is_empty(), "{env}: {findings:?}");
    }
}

#[test]
fn a_template_that_declares_a_service_an_alias_or_a_version_is_refused() {
    let project = Project::copy();
    project.append(
        "templates/partials/lambda-function.tera",
        "  {{ id }}LiveAlias:\n    Type: AWS::Lambda::Alias\n    Properties:\n      Name: live\n      FunctionName: { Ref: {{ id }}Function }\n      FunctionVersion: \"1\"\n",
    );
    project.append(
        "templates/partials/ecs-service.tera",
        "  {{ id }}Service:\n    Type: AWS::ECS::Service\n    Properties:\n      TaskDefinition: { Ref: {{ id }}TaskDefinition }\n",
    );
    let findings = findings_of(&project, "production", OWNERSHIP_RULES);
    for resource in [
        "ParserLiveAlias",
        "ValidatorLiveAlias",
        "OcrService",
        "BackendService",
    ] {
        assert!(
            has(&findings, "ONE_OWNER", resource),
            "{resource}: {findings:?}"
        );
    }
}

#[test]
fn functions_sharing_a_role_are_named() {
    let project = Project::copy();
    project.replace(
        "templates/partials/lambda-function.tera",
        "      Role: { Ref: {{ id }}RoleArn }",
        "      Role: { Ref: ParserRoleArn }",
    );
    let findings = findings_of(&project, "production", OWNERSHIP_RULES);
    assert!(
        has(&findings, "SHARED_FUNCTION_ROLE", "ParserFunction"),
        "{findings:?}"
    );
    assert!(
        has(&findings, "SHARED_FUNCTION_ROLE", "ValidatorFunction"),
        "{findings:?}"
    );
}

#[test]
fn a_plain_http_listener_outside_local_is_named_even_behind_a_condition() {
    let project = Project::copy();
    project.replace(
        "templates/stacks/api.yaml.tera",
        "      Protocol: HTTPS\n      Port: 443\n",
        "      Protocol: { \"Fn::If\": [Always, HTTPS, HTTP] }\n      Port: 443\n",
    );
    let findings = findings_of(&project, "production", OWNERSHIP_RULES);
    assert_eq!(
        findings,
        [("PLAIN_HTTP_LISTENER".to_string(), "Listener".to_string())]
    );
    // The port 80 listener that only redirects to HTTPS is fine; locally, HTTP is allowed.
    assert!(findings_of(&project, "local", OWNERSHIP_RULES).is_empty());
}

#[test]
fn a_production_user_pool_on_cognitos_own_sender_is_named() {
    let project = Project::copy();
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "        EmailSendingAccount: DEVELOPER\n",
        "        EmailSendingAccount: COGNITO_DEFAULT\n",
    );
    let findings = findings_of(&project, "production", OWNERSHIP_RULES);
    assert_eq!(
        findings,
        [("COGNITO_SES".to_string(), "UserPool".to_string())]
    );
    // Staging may use Cognito's sender.
    assert!(findings_of(&project, "staging", OWNERSHIP_RULES).is_empty());
}

#[test]
fn a_function_whose_role_cannot_decrypt_its_environment_is_named() {
    let project = Project::copy();
    // The first such statement is the function roles' (one per function, from one loop).
    project.replace(
        SECURITY,
        "Action: [kms:Decrypt, kms:GenerateDataKey]",
        "Action: [kms:GenerateDataKey]",
    );
    let findings = permission_findings(&project, "production");
    for function in ["ParserFunction", "ValidatorFunction"] {
        assert!(
            has(&findings, "ENV_KEY_PERMISSIONS", function),
            "{function}: {findings:?}"
        );
    }
    assert!(
        !findings.iter().any(|(_, r)| r.ends_with("Forwarder")),
        "the forwarder's own role still decrypts: {findings:?}"
    );
}

#[test]
fn a_function_environment_under_another_key_than_its_roles_is_named() {
    let project = Project::copy();
    // The processing stack's functions keep their environment under a key of their own,
    // which their roles (granted the platform key) cannot decrypt with.
    project.replace(
        "templates/stacks/processing.yaml.tera",
        "\nOutputs:",
        "\n  OtherKey:\n    Type: AWS::KMS::Key\n    DeletionPolicy: Retain\n    Properties: { EnableKeyRotation: true }\n\nOutputs:",
    );
    project.replace(
        "templates/partials/lambda-function.tera",
        "      KmsKeyArn: { Ref: KmsKeyArn }",
        "      KmsKeyArn: {% if stack.name == \"processing\" %}{ \"Fn::GetAtt\": [OtherKey, Arn] }{% else %}{ Ref: KmsKeyArn }{% endif %}",
    );
    let report = policy_report(&project, "production");
    let messages: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "ENV_KEY_PERMISSIONS")
        .map(|f| format!("{}: {}", f.resource, f.message))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("ParserFunction:") && m.contains("key processing/OtherKey")),
        "{messages:?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("Forwarder")),
        "the forwarder keeps the platform key: {messages:?}"
    );
}

#[test]
fn a_destination_or_log_group_outside_the_roles_resources_is_named() {
    let project = Project::copy();
    // A dead-letter queue the action is granted for, but under another name than the
    // role's queues: SQS refuses every send, and the failed events are dropped.
    project.replace(
        "templates/stacks/processing.yaml.tera",
        "\nOutputs:",
        "\n  Elsewhere:\n    Type: AWS::SQS::Queue\n    Properties: { QueueName: payments-failures, KmsMasterKeyId: { Ref: KmsKeyArn } }\n  ParserOnFailure:\n    Type: AWS::Lambda::EventInvokeConfig\n    Properties:\n      FunctionName: { Ref: ParserFunction }\n      Qualifier: \"$LATEST\"\n      DestinationConfig:\n        OnFailure:\n          Destination: { \"Fn::GetAtt\": [Elsewhere, Arn] }\n\nOutputs:",
    );
    // Functions' log groups moved outside `/facturascan/<env>/lambda/`: their logs are lost.
    project.replace(
        "templates/partials/lambda-function.tera",
        "LogGroupName: \"/facturascan/{{ env.name }}/lambda/{{ name }}\"",
        "LogGroupName: \"/facturascan/{{ env.name }}/functions/{{ name }}\"",
    );
    let report = policy_report(&project, "production");
    let found = |rule: &str, resource: &str| {
        report
            .findings
            .iter()
            .find(|f| f.rule == rule && f.resource == resource)
            .map(|f| f.message.clone())
    };
    let queue = found("DESTINATION_PERMISSIONS", "ParserOnFailure").expect("the queue");
    assert!(
        queue.contains(":payments-failures") && queue.contains("allows sqs:SendMessage only on"),
        "{queue}"
    );
    let logs = found("LOG_PERMISSIONS", "ParserFunction").expect("the log group");
    assert!(
        logs.contains("log-group:/facturascan/production/functions/parser")
            && logs.contains("/lambda/parser:*"),
        "{logs}"
    );
}

/// An input's stack is a dependency by itself: the ML stack waits for the api stack only
/// when its scoring service runs on Fargate behind the api's listener.
#[test]
fn inputs_are_dependencies_and_the_ml_stack_waits_for_api_only_on_fargate() {
    let project = Project::copy();
    let depends_on = |project: &Project| {
        let (_, rendered) = rendered(project, "staging");
        let ml = rendered
            .stacks
            .iter()
            .find(|s| s.name == "ml")
            .expect("ml is enabled in staging");
        let order: Vec<String> = rendered.stacks.iter().map(|s| s.name.clone()).collect();
        (ml.depends_on.clone(), order)
    };
    let (lambda, _) = depends_on(&project);
    assert_eq!(
        lambda,
        ["security", "storage", "network"],
        "from its inputs"
    );

    project.replace(
        "environments/staging.yaml",
        "  ml:\n    enabled: true\n",
        "  ml:\n    enabled: true\n    inputs:\n      VpcId: network.VpcId\n      LoadBalancerSecurityGroupId: network.LoadBalancerSecurityGroupId\n      ListenerArn: api.ListenerArn\n",
    );
    project.replace(
        "environments/staging.yaml",
        "  scoring:\n    enabled: true\n",
        "  scoring:\n    enabled: true\n    lambda: ~\n    ecs: { repository: facturascan/scoring, cpu: 512, memory: 1024, desired_count: 2, container_port: 8080, path: \"/predict*\" }\n",
    );
    let (fargate, order) = depends_on(&project);
    assert!(fargate.contains(&"api".to_string()), "{fargate:?}");
    let position = |name: &str| order.iter().position(|s| s == name).expect(name);
    assert!(position("api") < position("ml"), "{order:?}");
}
