//! The error corpus: bad input of every kind. Each case must exit 1 with an error that names
//! the right file and line, never panic, and never reach AWS (a tripwire listener stands in
//! for the endpoint and counts connections).

use crate::support::{Project, Tripwire, line_of};

const DEPLOY: &str = "deploy.toml";
const LOCAL: &str = "environments/local.yaml";
const STAGING: &str = "environments/staging.yaml";
const PRODUCTION: &str = "environments/production.yaml";

/// Where the error must point: the line holding a marker text, or a fixed line.
enum At {
    Marker(&'static str),
    LastMarker(&'static str),
    Line(usize),
}

struct Case {
    name: &'static str,
    env: &'static str,
    /// Breaks the project copy.
    setup: fn(&Project),
    file: &'static str,
    at: At,
    /// A fragment the message must contain.
    says: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        // Found by the render_variables fuzzer: a name the templates write unquoted.
        Case {
            name: "environment variable name with a newline",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "environment = { LOG_FORMAT = \"json\" }",
                    "environment = { LOG_FORMAT = \"json\", \"BAD\\nNAME\" = \"x\" }",
                )
            },
            file: DEPLOY,
            at: At::Marker("\"BAD\\nNAME\""),
            says: "`BAD\\nNAME` is not an environment variable name",
        },
        Case {
            name: "slack channel with a quote",
            env: "local",
            setup: |p| {
                p.replace(
                    "environments/local.yaml",
                    "channel: \"#dev-monitoring-local\"",
                    "channel: '#dev\"x: y'",
                )
            },
            file: "environments/local.yaml",
            at: At::Marker("channel: '#dev"),
            says: "is not a Slack channel name",
        },
        Case {
            name: "sentry over plain http outside the emulator",
            env: "production",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "url = \"https://sentry.io\"",
                    "url = \"http://sentry.io\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("url = \"http://sentry.io\""),
            says: "is not a Sentry server address",
        },
        Case {
            name: "sentry token in clear",
            env: "production",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "token = \"secretsmanager:facturascan/sentry-auth-token\"",
                    "token = \"sntrys_abc\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("token = \"sntrys_abc\""),
            says: "a secret must be a reference",
        },
        Case {
            name: "toml syntax error",
            env: "local",
            setup: |p| p.replace(DEPLOY, "[stacks.security]", "[stacks.security"),
            file: DEPLOY,
            at: At::Marker("[stacks.security"),
            says: "invalid TOML",
        },
        Case {
            name: "unknown top-level key",
            env: "local",
            setup: |p| p.append(DEPLOY, "\n[projet]\nname = \"x\"\n"),
            file: DEPLOY,
            at: At::Marker("[projet]"),
            says: "unknown key `projet`",
        },
        Case {
            name: "unknown key in a stack",
            env: "local",
            setup: |p| {
                p.replace(DEPLOY, "depends_on = [\"security\"]\ninputs = { KmsKeyArn = \"security.KmsKeyArn\" }\n\n[stacks.database]", "dependson = [\"security\"]\ninputs = { KmsKeyArn = \"security.KmsKeyArn\" }\n\n[stacks.database]")
            },
            file: DEPLOY,
            at: At::Marker("dependson"),
            says: "unknown key `dependson` in `stacks.storage`",
        },
        Case {
            name: "wrong type for desired_count",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "desired_count = 1\nenvironment",
                    "desired_count = \"one\"\nenvironment",
                )
            },
            file: DEPLOY,
            at: At::Marker("desired_count = \"one\""),
            says: "`services.ocr.ecs.desired_count` has the wrong type",
        },
        Case {
            name: "depends on an unknown stack",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "depends_on = [\"network\", \"security\"]\nparameters",
                    "depends_on = [\"network\", \"securty\"]\nparameters",
                )
            },
            file: DEPLOY,
            at: At::Marker("\"securty\""),
            says: "depends on `securty`, which is not a stack",
        },
        Case {
            name: "cyclic dependencies",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "template = \"security.yaml.tera\"",
                    "template = \"security.yaml.tera\"\ndepends_on = [\"storage\"]",
                )
            },
            file: DEPLOY,
            at: At::Marker("depends_on = [\"storage\"]"),
            says: "cycle: security -> storage -> security",
        },
        Case {
            name: "service on a missing stack",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "[services.ocr]\nstack = \"processing\"",
                    "[services.ocr]\nstack = \"procesing\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("stack = \"procesing\""),
            says: "belongs to stack `procesing`, which is not a stack",
        },
        Case {
            name: "service with no runtime",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "[services.parser.lambda]",
                    "[services.parser.lambdaa]",
                )
            },
            file: DEPLOY,
            at: At::Marker("lambdaa"),
            says: "unknown key `lambdaa`",
        },
        Case {
            name: "service with two runtimes",
            env: "local",
            setup: |p| {
                p.append(DEPLOY, "\n[services.parser.ecs]\nrepository = \"r\"\ncpu = 256\nmemory = 512\ndesired_count = 1\n")
            },
            file: DEPLOY,
            at: At::Marker("[services.parser]"),
            says: "exactly one of `ecs` and `lambda`",
        },
        Case {
            name: "not a fargate cpu size",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "cpu = 1024\nmemory = 2048",
                    "cpu = 1000\nmemory = 2048",
                )
            },
            file: DEPLOY,
            at: At::Marker("cpu = 1000"),
            says: "1000 is not a Fargate CPU size",
        },
        Case {
            name: "memory that does not fit the cpu",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "cpu = 1024\nmemory = 2048",
                    "cpu = 1024\nmemory = 512",
                )
            },
            file: DEPLOY,
            at: At::Marker("memory = 512"),
            says: "512 MiB of memory does not fit 1024 CPU units",
        },
        Case {
            name: "percent threshold above 100",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "threshold = 1.0\nunit = \"percent\"",
                    "threshold = 150.0\nunit = \"percent\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("threshold = 150.0"),
            says: "threshold 150 of alarm `lambda-error-rate` is out of range",
        },
        Case {
            name: "negative threshold",
            env: "local",
            setup: |p| p.replace(DEPLOY, "threshold = 5000", "threshold = -5"),
            file: DEPLOY,
            at: At::Marker("threshold = -5"),
            says: "threshold -5 of alarm `ocr-latency` is out of range",
        },
        Case {
            name: "alarm period CloudWatch does not offer",
            env: "local",
            setup: |p| {
                p.replace(DEPLOY, "channels = [\"ops-email\"]\nperiod_seconds = 300\nevaluation_periods = 1\n\n[alarms.ocr-latency]", "channels = [\"ops-email\"]\nperiod_seconds = 45\nevaluation_periods = 1\n\n[alarms.ocr-latency]")
            },
            file: DEPLOY,
            at: At::Marker("period_seconds = 45"),
            says: "period 45s is not a CloudWatch alarm period",
        },
        Case {
            name: "more datapoints than evaluation periods",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "datapoints_to_alarm = 3\n\n[alarms.validation",
                    "datapoints_to_alarm = 9\n\n[alarms.validation",
                )
            },
            file: DEPLOY,
            at: At::Marker("datapoints_to_alarm = 9"),
            says: "datapoints_to_alarm 9 is out of range",
        },
        Case {
            name: "alarm notifying an unknown channel",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "channels = [\"dev-monitoring\", \"ops-email\"]",
                    "channels = [\"dev-monitoring\", \"ops-mail\"]",
                )
            },
            file: DEPLOY,
            at: At::Marker("\"ops-mail\""),
            says: "notifies `ops-mail`, which is not a channel",
        },
        Case {
            name: "slack webhook written in clear",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "webhook = \"ssm:/facturascan/slack/dev-monitoring-webhook\"",
                    "webhook = \"https://hooks.slack.com/services/T0/B0/CANARYSECRET\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("CANARYSECRET"),
            says: "a secret must be a reference",
        },
        Case {
            name: "invalid email address",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "addresses = [\"devops@facturascan.com\"]",
                    "addresses = [\"devops-at-facturascan\"]",
                )
            },
            file: DEPLOY,
            at: At::Marker("devops-at-facturascan"),
            says: "is not an email address",
        },
        Case {
            name: "slack channel without #",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "channel = \"#dev-monitoring\"",
                    "channel = \"dev-monitoring\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("channel = \"dev-monitoring\""),
            says: "is not a Slack channel name",
        },
        Case {
            // An input's stack is a dependency: one that is disabled here is named at the
            // input.
            name: "input from a disabled stack",
            env: "local",
            setup: |p| {
                p.replace(DEPLOY, "inputs = { KmsKeyArn = \"security.KmsKeyArn\" }\n\n[stacks.database]", "inputs = { KmsKeyArn = \"security.KmsKeyArn\", Queue = \"ml.ScoringQueueUrl\" }\n\n[stacks.database]")
            },
            file: DEPLOY,
            at: At::Marker("KmsKeyArn = \"security.KmsKeyArn\", Queue = \"ml.ScoringQueueUrl\" }"),
            says: "depends on `ml`, which is disabled here",
        },
        Case {
            name: "malformed output reference",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "inputs = { KmsKeyArn = \"security.KmsKeyArn\" }\n\n[stacks.database]",
                    "inputs = { KmsKeyArn = \"security-KmsKeyArn\" }\n\n[stacks.database]",
                )
            },
            file: DEPLOY,
            at: At::Marker("security-KmsKeyArn"),
            says: "is not an output reference",
        },
        Case {
            name: "policy exception for an unknown rule",
            env: "local",
            setup: |p| {
                p.append(
                    DEPLOY,
                    "\n[[policy.exceptions]]\nrule = \"IAM_WILDCARDS\"\nresource = \"security/LambdaRole\"\nreason = \"a typo in the rule\"\n",
                )
            },
            file: DEPLOY,
            at: At::Marker("IAM_WILDCARDS"),
            says: "`IAM_WILDCARDS` is not a policy rule",
        },
        Case {
            name: "unknown rollout strategy",
            env: "local",
            setup: |p| p.replace(DEPLOY, "strategy = \"canary\"", "strategy = \"blue-green\""),
            file: DEPLOY,
            at: At::Marker("blue-green"),
            says: "does not accept `blue-green`",
        },
        Case {
            name: "project name unusable in AWS names",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "name = \"facturascan\"",
                    "name = \"FacturaScan 360\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("name = \"FacturaScan 360\""),
            says: "cannot prefix AWS resource names",
        },
        Case {
            name: "tag pattern that is not a regex",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "tag_pattern = '^v\\d+\\.\\d+\\.\\d+$'",
                    "tag_pattern = '^v(\\d+'",
                )
            },
            file: DEPLOY,
            at: At::Marker("tag_pattern = '^v("),
            says: "is not a valid regular expression",
        },
        Case {
            name: "lambda timeout above 900 s",
            env: "local",
            setup: |p| p.replace(DEPLOY, "timeout_seconds = 60", "timeout_seconds = 1000"),
            file: DEPLOY,
            at: At::Marker("timeout_seconds = 1000"),
            says: "timeout_seconds 1000 is out of range",
        },
        Case {
            name: "stack without a template",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "[stacks.auth]\ntemplate = \"auth.yaml.tera\"",
                    "[stacks.auth]\ntermination_protection = false",
                )
            },
            file: DEPLOY,
            at: At::Marker("[stacks.auth]"),
            says: "missing key `template` in `stacks.auth`",
        },
        Case {
            name: "parameter set twice",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "parameters = { InstanceClass = \"db.t4g.micro\",",
                    "parameters = { KmsKeyArn = \"arn\", InstanceClass = \"db.t4g.micro\",",
                )
            },
            file: DEPLOY,
            at: At::Marker(
                "inputs = { PrivateSubnetIds = \"network.PrivateSubnetIds\", DatabaseSecurityGroupId",
            ),
            says: "set both as a value and as an input",
        },
        Case {
            name: "input reads an output the upstream template does not declare",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "ApiTaskRoleArn = \"security.ApiTaskRoleArn\" }",
                    "ApiTaskRoleArn = \"security.ApiRoleArn\" }",
                )
            },
            file: DEPLOY,
            at: At::Marker("ApiTaskRoleArn = \"security.ApiRoleArn\" }"),
            says: "reads `security.ApiRoleArn`, which the `security` template does not declare",
        },
        Case {
            name: "parameter below the template's MinValue",
            env: "local",
            setup: |p| p.replace(DEPLOY, "AllocatedStorage = 20,", "AllocatedStorage = 5,"),
            file: DEPLOY,
            at: At::Marker("AllocatedStorage = 5,"),
            says: "breaks MinValue 20",
        },
        Case {
            name: "parameter against the template's AllowedPattern",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "InstanceClass = \"db.t4g.micro\"",
                    "InstanceClass = \"t4g.micro\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("InstanceClass = \"t4g.micro\""),
            says: "does not match the pattern",
        },
        Case {
            name: "parameter the template does not declare",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "MaxConnections = 100 }",
                    "MaxConnections = 100, MaxConection = 5 }",
                )
            },
            file: DEPLOY,
            at: At::Marker("MaxConnections = 100, MaxConection = 5 }"),
            says: "`MaxConection` is not a parameter of template",
        },
        Case {
            name: "template parameter left without a value",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    ", ApiTaskRoleArn = \"security.ApiTaskRoleArn\" }",
                    " }",
                )
            },
            file: DEPLOY,
            at: At::Marker("[stacks.database]"),
            says: "needs a value for parameter `ApiTaskRoleArn`",
        },
        Case {
            name: "template that renders no resources",
            env: "local",
            setup: |p| {
                p.write("templates/stacks/empty.yaml.tera", "Resources: {}\n");
                p.append(DEPLOY, "\n[stacks.empty]\ntemplate = \"empty.yaml.tera\"\n");
            },
            file: DEPLOY,
            at: At::Marker("template = \"empty.yaml.tera\""),
            says: "renders no resources",
        },
        Case {
            name: "tag value longer than AWS allows",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "\"app\" = \"facturascan360\"",
                    &format!("\"app\" = \"{}\"", "x".repeat(300)),
                )
            },
            file: DEPLOY,
            at: At::Marker("\"app\" = \"xxx"),
            says: "tag `app` breaks AWS's tag rules",
        },
        // Templates cannot hang or crash the tool (issue 33): each is refused at its line,
        // or stopped by the render's bounds, with the template named.
        Case {
            name: "three nested loops of range(end=10000)",
            env: "local",
            setup: |p| {
                p.append(
                "templates/stacks/auth.yaml.tera",
                "\n# {% for a in range(end=10000) %}{% for b in range(end=10000) %}{% for c in range(end=10000) %}{% endfor %}{% endfor %}{% endfor %}\n",
            )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Marker("range(end=10000)"),
            says: "more than 100000 items in all",
        },
        Case {
            name: "10,000 nested parentheses",
            env: "local",
            setup: |p| {
                p.append(
                    "templates/stacks/auth.yaml.tera",
                    &format!(
                        "\n# {{{{ {}1{} }}}}\n",
                        "(".repeat(10_000),
                        ")".repeat(10_000)
                    ),
                )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Marker("((((("),
            says: "tags may have at most 2000",
        },
        Case {
            name: "1,000 nested ifs",
            env: "local",
            setup: |p| {
                p.append(
                    "templates/stacks/auth.yaml.tera",
                    &format!(
                        "\n{}\n{{% if 25 %}}\n{}x{}\n",
                        "{% if true %}".repeat(24),
                        "{% if true %}".repeat(975),
                        "{% endif %}".repeat(1000)
                    ),
                )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Marker("{% if 25 %}"),
            says: "blocks nest 25 deep here",
        },
        Case {
            name: "500 nested fors",
            env: "local",
            setup: |p| {
                p.append(
                    "templates/stacks/auth.yaml.tera",
                    &format!(
                        "\n# {}x{}\n",
                        "{% for i in [1] %}".repeat(500),
                        "{% endfor %}".repeat(500)
                    ),
                )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Marker("{% for i in [1] %}"),
            says: "templates may nest at most 24",
        },
        Case {
            name: "a set_global string doubled in a loop",
            env: "local",
            setup: |p| {
                p.append(
                "templates/stacks/auth.yaml.tera",
                "\n# {% set_global s = \"ab\" %}{% for i in range(end=64) %}{% set_global s = s ~ s %}{% endfor %}{{ s | length }}\n",
            )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Line(0),
            says: "rendering `stacks/auth.yaml.tera` used more than 256 MiB of memory",
        },
        Case {
            name: "a stack template that imports itself",
            env: "local",
            setup: |p| {
                let text = p.read("templates/stacks/auth.yaml.tera");
                p.write(
                    "templates/stacks/auth.yaml.tera",
                    &format!("{{% import \"stacks/auth.yaml.tera\" as m %}}\n{text}"),
                );
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Line(1),
            says: "recursive import: stacks/auth.yaml.tera -> stacks/auth.yaml.tera",
        },
        // No setting vanishes.
        Case {
            name: "a guard rail of nan",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "max_error_rate_increase = 1.0",
                    "max_error_rate_increase = nan",
                )
            },
            file: DEPLOY,
            at: At::Marker("max_error_rate_increase = nan"),
            says: "`NaN` is not a finite number",
        },
        Case {
            name: "a guard rail of inf in the overlay",
            env: "staging",
            setup: |p| p.append(STAGING, "\nab_inf_probe:\n  x: .inf\n"),
            file: STAGING,
            at: At::Marker("x: .inf"),
            says: "`inf` is not a finite number",
        },
        Case {
            name: "a guard rail too large for 64 bits",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "max_error_rate_increase = 1.0",
                    "max_error_rate_increase = 1e999",
                )
            },
            file: DEPLOY,
            at: At::Marker("max_error_rate_increase = 1e999"),
            says: "floating-point number overflowed",
        },
        Case {
            name: "removing a key deploy.toml does not set",
            env: "staging",
            setup: |p| p.append(STAGING, "\nsentyr: ~\n"),
            file: STAGING,
            at: At::Marker("sentyr: ~"),
            says: "did you mean `sentry: ~`?",
        },
        Case {
            name: "a YAML tag on a map",
            env: "staging",
            setup: |p| p.append(STAGING, "\nsentry: !!map\n  project: x\n"),
            file: STAGING,
            at: At::Marker("sentry: !!map"),
            says: "YAML tags are not supported",
        },
        // Limits that keep the lock honest.
        Case {
            name: "a deploy lock that never lasts",
            env: "local",
            setup: |p| p.replace(DEPLOY, "[release]\n", "[release]\nlock_ttl_seconds = 0\n"),
            file: DEPLOY,
            at: At::Marker("lock_ttl_seconds = 0"),
            says: "lock_ttl_seconds 0 is out of range",
        },
        Case {
            name: "a lock wait of 136 years",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "[release]\n",
                    "[release]\nlock_wait_seconds = 4294967295\n",
                )
            },
            file: DEPLOY,
            at: At::Marker("lock_wait_seconds = 4294967295"),
            says: "lock_wait_seconds 4294967295 is out of range",
        },
        // Values AWS refuses, offline (issue 33, item 7).
        Case {
            name: "a retraining time zone that is not an IANA zone",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "timezone = \"Europe/Madrid\"",
                    "timezone = \"Europe/Madird\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("timezone = \"Europe/Madird\""),
            says: "`Europe/Madird` is not an IANA time zone",
        },
        Case {
            name: "a records bucket S3 would refuse",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "[release]\n",
                    "[release]\nrecords_bucket = \"Releases_Bucket\"\n",
                )
            },
            file: DEPLOY,
            at: At::Marker("records_bucket = \"Releases_Bucket\""),
            says: "`Releases_Bucket` is not an S3 bucket name",
        },
        Case {
            name: "an empty profile",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "  region: eu-west-1\n",
                    "  region: eu-west-1\n  profile: \"\"\n",
                )
            },
            file: STAGING,
            at: At::Marker("profile: \"\""),
            says: "is not a profile name",
        },
        Case {
            name: "a Ref to a name the template does not define",
            env: "local",
            setup: |p| {
                p.replace(
                    "templates/stacks/auth.yaml.tera",
                    "Outputs:\n",
                    "Outputs:\n  Probe:\n    Value: {Ref: UserPoool}\n",
                )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Marker("UserPoool"),
            says: "`Ref` names `UserPoool`, which is no parameter or resource of the template",
        },
        Case {
            name: "an unknown resource type",
            env: "local",
            setup: |p| {
                p.replace(
                    "templates/stacks/auth.yaml.tera",
                    "Outputs:\n",
                    "  Probe:\n    Type: AWS::Cognito::UserPoolz\nOutputs:\n",
                )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Marker("AWS::Cognito::UserPoolz"),
            says: "has the type `AWS::Cognito::UserPoolz`, which CloudFormation does not know",
        },
        // Config files that are not files.
        Case {
            name: "deploy.toml is a directory",
            env: "local",
            setup: |p| {
                std::fs::remove_file(p.path().join(DEPLOY)).unwrap();
                std::fs::create_dir(p.path().join(DEPLOY)).unwrap();
            },
            file: DEPLOY,
            at: At::Line(1),
            says: "not a regular file",
        },
        Case {
            name: "the overlay is /dev/zero",
            env: "local",
            setup: |p| {
                std::fs::remove_file(p.path().join(LOCAL)).unwrap();
                std::os::unix::fs::symlink("/dev/zero", p.path().join(LOCAL)).unwrap();
            },
            file: LOCAL,
            at: At::Line(1),
            says: "not a regular file",
        },
        Case {
            name: "deploy.toml is a FIFO",
            env: "local",
            setup: |p| {
                std::fs::remove_file(p.path().join(DEPLOY)).unwrap();
                let status = std::process::Command::new("mkfifo")
                    .arg(p.path().join(DEPLOY))
                    .status()
                    .unwrap();
                assert!(status.success());
            },
            file: DEPLOY,
            at: At::Line(1),
            says: "not a regular file",
        },
        Case {
            name: "template that includes itself",
            env: "local",
            setup: |p| {
                p.write(
                    "templates/partials/loop.tera",
                    "# a partial\n{% include \"partials/loop.tera\" %}\n",
                );
            },
            file: "templates/partials/loop.tera",
            at: At::Line(2),
            says: "recursive include: partials/loop.tera -> partials/loop.tera",
        },
        Case {
            name: "dependency disabled by the overlay",
            env: "local",
            setup: |p| {
                p.replace(
                    LOCAL,
                    "\nstacks:\n",
                    "\nstacks:\n  storage:\n    enabled: false\n",
                )
            },
            file: DEPLOY,
            at: At::Marker("depends_on = [\"network\", \"security\", \"storage\"]"),
            says: "depends on `storage`, which is disabled here",
        },
        Case {
            name: "container secret from the deployer's environment",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "environment = { LOG_FORMAT = \"json\" }\n\n[services.backend]",
                    "environment = { LOG_FORMAT = \"json\" }\nsecrets = { DB_URL = \"env:DB_URL\" }\n\n[services.backend]",
                )
            },
            file: DEPLOY,
            at: At::Marker("secrets = { DB_URL"),
            says: "container secret `DB_URL` reads a variable",
        },
        Case {
            name: "missing environment file",
            env: "qa",
            setup: |_| {},
            file: "environments/qa.yaml",
            at: At::Line(1),
            says: "file not found",
        },
        Case {
            name: "environment name that is a path",
            env: "../etc",
            setup: |_| {},
            file: "environments/../etc.yaml",
            at: At::Line(1),
            says: "is not an environment name",
        },
        Case {
            name: "yaml syntax error",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "  region: eu-west-1\n",
                    "  region: eu-west-1\n    extra: [\n",
                )
            },
            file: STAGING,
            at: At::Marker("extra: ["),
            says: "invalid YAML",
        },
        Case {
            name: "unknown key in the overlay",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "  retry:\n    mode: standard",
                    "  retry:\n    mdoe: standard",
                )
            },
            file: STAGING,
            at: At::Marker("mdoe"),
            says: "unknown key `mdoe` in `environment.retry`",
        },
        Case {
            name: "wrong type in the overlay",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "      desired_count: 2",
                    "      desired_count: many",
                )
            },
            file: STAGING,
            at: At::Marker("desired_count: many"),
            says: "has the wrong type: found string \"many\"",
        },
        Case {
            name: "account id that is not 12 digits",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "account_id: \"345678901234\"",
                    "account_id: \"34567890\"",
                )
            },
            file: PRODUCTION,
            at: At::Marker("account_id: \"34567890\""),
            says: "is not an AWS account id",
        },
        Case {
            name: "endpoint_url outside the local tier",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "  region: eu-west-1\n",
                    "  region: eu-west-1\n  endpoint_url: http://127.0.0.1:5000\n",
                )
            },
            file: PRODUCTION,
            at: At::Marker("endpoint_url"),
            says: "endpoint_url is set in a production environment",
        },
        Case {
            name: "secret in clear in the overlay",
            env: "local",
            setup: |p| {
                p.replace(
                    LOCAL,
                    "webhook: env:FACTURASCAN_LOCAL_SLACK_WEBHOOK",
                    "webhook: xoxb-CANARYSECRET",
                )
            },
            file: LOCAL,
            at: At::Marker("CANARYSECRET"),
            says: "a secret must be a reference",
        },
        Case {
            name: "duplicate key in yaml",
            env: "staging",
            setup: |p| p.append(STAGING, "alarms:\n  ocr-latency:\n    threshold: 1\n"),
            file: STAGING,
            at: At::LastMarker("alarms:"),
            says: "duplicate key `alarms`",
        },
        Case {
            name: "overlay that is a list",
            env: "staging",
            setup: |p| p.write(STAGING, "- tier: staging\n"),
            file: STAGING,
            at: At::Line(1),
            says: "the overlay is a list",
        },
        Case {
            name: "region display name",
            env: "staging",
            setup: |p| p.replace(STAGING, "region: eu-west-1", "region: Ireland"),
            file: STAGING,
            at: At::Marker("region: Ireland"),
            says: "`Ireland` is not an AWS region",
        },
        Case {
            name: "yaml anchors",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "      desired_count: 2",
                    "      desired_count: &n 2",
                )
            },
            file: STAGING,
            at: At::Marker("&n 2"),
            says: "anchors",
        },
        Case {
            name: "threshold out of range in the overlay",
            env: "production",
            setup: |p| {
                p.replace(PRODUCTION, "  validation-failure-spike:\n    threshold: 100", "  api-5xx-rate:\n    threshold: 101\n  validation-failure-spike:\n    threshold: 100")
            },
            file: PRODUCTION,
            at: At::Marker("threshold: 101"),
            says: "threshold 101 of alarm `api-5xx-rate` is out of range",
        },
        Case {
            name: "service enabled on a disabled stack",
            env: "local",
            setup: |p| {
                p.replace(
                    LOCAL,
                    "services:\n",
                    "services:\n  scoring:\n    enabled: true\n",
                )
            },
            file: LOCAL,
            at: At::Marker("enabled: true"),
            says: "service `scoring` is enabled but its stack `ml` is disabled",
        },
        Case {
            name: "template with an undefined variable",
            env: "local",
            setup: |p| {
                p.replace(
                    "templates/stacks/auth.yaml.tera",
                    "{{ env.prefix }}-users",
                    "{{ env.prefx }}-users",
                )
            },
            file: "templates/stacks/auth.yaml.tera",
            at: At::Line(0),
            says: "env.prefx",
        },
        Case {
            name: "template syntax error",
            env: "local",
            setup: |p| {
                p.replace(
                    "templates/stacks/auth.yaml.tera",
                    "{%- if env.production %}",
                    "{%- if env.production",
                )
            },
            file: "templates/stacks/auth.yaml.tera",
            // Tera reports where parsing stopped: the line after the unclosed tag.
            at: At::Marker("Parameters:"),
            says: "Failed to parse",
        },
        Case {
            name: "stack template file missing",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "template = \"auth.yaml.tera\"",
                    "template = \"authn.yaml.tera\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("template = \"authn.yaml.tera\""),
            says: "names the template `stacks/authn.yaml.tera`, which does not exist",
        },
        Case {
            name: "alarm using undeclared settings",
            env: "local",
            setup: |p| {
                p.replace(
                    "templates/alarms/platform.yaml.tera",
                    "settings: rds-connections",
                    "settings: rds-conections",
                )
            },
            file: "templates/alarms/platform.yaml.tera",
            at: At::Line(0),
            says: "uses settings `rds-conections`",
        },
        Case {
            name: "slack channel with neither webhook nor chatbot",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "webhook = \"ssm:/facturascan/slack/dev-monitoring-webhook\"\n",
                    "",
                )
            },
            file: DEPLOY,
            at: At::Marker("[channels.slack.dev-monitoring]"),
            says: "sets neither `webhook` nor `chatbot`",
        },
        Case {
            name: "chatbot channel id that is not a Slack id",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "webhook = \"ssm:/facturascan/slack/dev-monitoring-webhook\"",
                    "chatbot = { workspace_id = \"T0123ABCD\", channel_id = \"#dev\" }",
                )
            },
            file: DEPLOY,
            at: At::Marker("chatbot = {"),
            says: "`#dev` is not a Slack channel_id",
        },
        Case {
            name: "notifications to an unknown channel",
            env: "local",
            setup: |p| {
                p.replace(
                    LOCAL,
                    "channels: [\"ops-email\"]",
                    "channels: [\"ops-mail\"]",
                )
            },
            file: LOCAL,
            at: At::Marker("channels: [\"ops-mail\"]"),
            says: "notifications go to `ops-mail`, which is not a channel",
        },
        Case {
            name: "notification timeout out of range",
            env: "local",
            setup: |p| {
                p.replace(
                    LOCAL,
                    "  alarm_actions: false",
                    "  alarm_actions: false\n  timeout_seconds: 600",
                )
            },
            file: LOCAL,
            at: At::Marker("timeout_seconds: 600"),
            says: "timeout_seconds 600 is out of range",
        },
    ]
}

/// The cases of issue 16's classes: everything knowable offline (regions, YAML that would
/// silently drop a value, deploy.toml on its own, template parameter constraints, CIDR
/// blocks, tags, names, sizes), template errors, and AWS's own limits on services.
#[allow(clippy::too_many_lines)]
fn offline_cases() -> Vec<Case> {
    const AUTH: &str = "templates/stacks/auth.yaml.tera";
    vec![
        // ---------------------------------------------------------------- regions
        Case {
            name: "region with a typo",
            env: "local",
            setup: |p| p.replace(LOCAL, "region: eu-west-1", "region: eu-wset-1"),
            file: LOCAL,
            at: At::Marker("region: eu-wset-1"),
            says: "did you mean `eu-west-1`",
        },
        Case {
            name: "region that does not exist",
            env: "staging",
            setup: |p| p.replace(STAGING, "region: eu-west-1", "region: eu-west-9"),
            file: STAGING,
            at: At::Marker("region: eu-west-9"),
            says: "`eu-west-9` is not an AWS region",
        },
        Case {
            name: "region by its console name",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "region: eu-west-1",
                    "region: Europe (Frankfurt)",
                )
            },
            file: PRODUCTION,
            at: At::Marker("region: Europe (Frankfurt)"),
            says: "`eu-central-1`, not its name",
        },
        Case {
            name: "region in upper case",
            env: "local",
            setup: |p| p.replace(LOCAL, "region: eu-west-1", "region: EU-WEST-1"),
            file: LOCAL,
            at: At::Marker("region: EU-WEST-1"),
            says: "`EU-WEST-1` is not an AWS region",
        },
        // ---------------------------------------------------------------- YAML that drops values
        Case {
            name: "overlay key with no value",
            env: "local",
            setup: |p| p.replace(LOCAL, "      cpu: 256", "      cpu:"),
            file: LOCAL,
            at: At::Marker("      cpu:"),
            says: "`cpu` has no value",
        },
        Case {
            name: "overlay value that YAML reads as a comment",
            env: "local",
            setup: |p| {
                p.replace(
                    LOCAL,
                    "channel: \"#dev-monitoring-local\"",
                    "channel: #dev-monitoring-local",
                )
            },
            file: LOCAL,
            at: At::Marker("channel: #dev"),
            says: "starts a comment in YAML",
        },
        Case {
            name: "second YAML document in an overlay",
            env: "staging",
            setup: |p| p.append(STAGING, "---\nenvironment:\n  region: us-east-1\n"),
            file: STAGING,
            at: At::Marker("---"),
            says: "a second YAML document",
        },
        Case {
            name: "YAML tag in an overlay",
            env: "local",
            setup: |p| p.replace(LOCAL, "region: eu-west-1", "region: !!str eu-west-1"),
            file: LOCAL,
            at: At::Marker("region: !!str"),
            says: "tags are not supported",
        },
        Case {
            name: "production count left empty",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "      desired_count: 4", "      desired_count:"),
            file: PRODUCTION,
            at: At::Marker("      desired_count:"),
            says: "`desired_count` has no value",
        },
        Case {
            name: "tab indentation",
            env: "local",
            setup: |p| p.replace(LOCAL, "  tier: local", "\ttier: local"),
            file: LOCAL,
            at: At::Marker("\ttier: local"),
            says: "tabs disallowed",
        },
        Case {
            name: "duplicate key deep in the overlay",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "      cpu: 2048\n",
                    "      cpu: 2048\n      cpu: 4096\n",
                )
            },
            file: PRODUCTION,
            at: At::Marker("cpu: 4096"),
            says: "duplicate key `cpu`",
        },
        Case {
            name: "account id whose leading zero YAML drops",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "account_id: \"210987654321\"",
                    "account_id: 012345678901",
                )
            },
            file: STAGING,
            at: At::Marker("account_id: 012345678901"),
            says: "found integer `12345678901`",
        },
        Case {
            name: "yes is not a boolean",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "  ml:\n    enabled: true",
                    "  ml:\n    enabled: yes",
                )
            },
            file: STAGING,
            at: At::Marker("enabled: yes"),
            says: "`stacks.ml.enabled` has the wrong type",
        },
        Case {
            name: "quoted boolean",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "  security:\n    termination_protection: true",
                    "  security:\n    termination_protection: \"true\"",
                )
            },
            file: PRODUCTION,
            at: At::Marker("termination_protection: \"true\""),
            says: "found string \"true\"",
        },
        Case {
            name: "a fraction where a count goes",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "desired_count: 4", "desired_count: 4.5"),
            file: PRODUCTION,
            at: At::Marker("desired_count: 4.5"),
            says: "found floating point `4.5`",
        },
        Case {
            name: "a word where a list goes",
            env: "local",
            setup: |p| p.replace(LOCAL, "channels: [\"ops-email\"]", "channels: ops-email"),
            file: LOCAL,
            at: At::Marker("channels: ops-email"),
            says: "`notifications.channels` has the wrong type",
        },
        Case {
            name: "unknown key deep in the overlay",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "      desired_count: 2",
                    "      desired_count: 2\n      desired: 3",
                )
            },
            file: STAGING,
            at: At::Marker("desired: 3"),
            says: "unknown key `desired` in `services.ocr.ecs`",
        },
        // ---------------------------------------------------------------- deploy.toml on its own
        Case {
            name: "webhook in clear in deploy.toml, replaced by the overlay",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "webhook = \"ssm:/facturascan/slack/dev-monitoring-webhook\"",
                    "webhook = \"https://hooks.slack.com/services/T0/B0/CANARYSECRET\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("CANARYSECRET"),
            says: "a secret must be a reference",
        },
        Case {
            name: "token in clear in deploy.toml, removed by the overlay",
            env: "production",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "token = \"secretsmanager:facturascan/sentry-auth-token\"",
                    "token = \"sntrys_CANARYSECRET\"",
                );
                p.append(PRODUCTION, "sentry: ~\n");
            },
            file: DEPLOY,
            at: At::Marker("CANARYSECRET"),
            says: "`sentry.token`: a secret must be a reference",
        },
        Case {
            name: "wrong type in deploy.toml, replaced by the overlay",
            env: "local",
            setup: |p| p.replace(DEPLOY, "cpu = 1024", "cpu = \"lots\""),
            file: DEPLOY,
            at: At::Marker("cpu = \"lots\""),
            says: "`services.ocr.ecs.cpu` has the wrong type",
        },
        Case {
            name: "wrong type in deploy.toml, in a stack the overlay leaves alone",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "enabled = false\ninputs = { KmsKeyArn",
                    "enabled = \"no\"\ninputs = { KmsKeyArn",
                )
            },
            file: DEPLOY,
            at: At::Marker("enabled = \"no\""),
            says: "`stacks.ml.enabled` has the wrong type",
        },
        Case {
            name: "unknown strategy in deploy.toml, replaced by production",
            env: "production",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "rollout = { strategy = \"canary\", step_percent = 10, step_interval_seconds = 300 }",
                    "rollout = { strategy = \"big-bang\" }",
                )
            },
            file: DEPLOY,
            at: At::Marker("big-bang"),
            says: "does not accept `big-bang`",
        },
        Case {
            name: "negative count in deploy.toml, replaced by production",
            env: "production",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "desired_count = 1\nenvironment = { LOG_FORMAT = \"json\" }\n\n[services.backend]",
                    "desired_count = -1\nenvironment = { LOG_FORMAT = \"json\" }\n\n[services.backend]",
                )
            },
            file: DEPLOY,
            at: At::Marker("desired_count = -1"),
            says: "found integer `-1`",
        },
        Case {
            name: "duplicate key in deploy.toml",
            env: "local",
            setup: |p| p.replace(DEPLOY, "cpu = 1024\n", "cpu = 1024\ncpu = 2048\n"),
            file: DEPLOY,
            at: At::Marker("cpu = 2048"),
            says: "duplicate key",
        },
        // ---------------------------------------------------------------- template parameters
        Case {
            name: "VPC block with host bits set",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "VpcCidr: 10.42.0.0/16", "VpcCidr: 10.42.1.0/16"),
            file: PRODUCTION,
            at: At::Marker("VpcCidr: 10.42.1.0/16"),
            says: "sets host bits (the block is `10.42.0.0/16`)",
        },
        Case {
            name: "subnet block with an octet over 255",
            env: "staging",
            setup: |p| {
                p.replace(
                    STAGING,
                    "PublicSubnetCidrs: [10.41.0.0/20,",
                    "PublicSubnetCidrs: [10.41.300.0/20,",
                )
            },
            file: STAGING,
            at: At::Marker("10.41.300.0/20"),
            says: "not four octets of 0 to 255",
        },
        Case {
            name: "subnet prefix over 32",
            env: "local",
            setup: |p| p.replace(DEPLOY, "\"10.40.32.0/20\"", "\"10.40.32.0/33\""),
            file: DEPLOY,
            at: At::Marker("10.40.32.0/33"),
            says: "prefix `/33`, not 0 to 32",
        },
        Case {
            name: "VPC block without a prefix",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "VpcCidr = \"10.40.0.0/16\"",
                    "VpcCidr = \"10.40.0.0\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("VpcCidr = \"10.40.0.0\""),
            says: "does not match the pattern",
        },
        Case {
            name: "NAT gateways outside AllowedValues",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "NatGateways: 2", "NatGateways: 3"),
            file: PRODUCTION,
            at: At::Marker("NatGateways: 3"),
            says: "is not one of 0, 1, 2",
        },
        Case {
            name: "a word for a Number parameter",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "NatGateways: 2", "NatGateways: two"),
            file: PRODUCTION,
            at: At::Marker("NatGateways: two"),
            says: "is not a number",
        },
        Case {
            name: "instance class without db.",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "InstanceClass: db.r6g.large",
                    "InstanceClass: r6g.large",
                )
            },
            file: PRODUCTION,
            at: At::Marker("InstanceClass: r6g.large"),
            says: "does not match the pattern",
        },
        Case {
            name: "backup retention over MaxValue",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "BackupRetentionDays: 30",
                    "BackupRetentionDays: 40",
                )
            },
            file: PRODUCTION,
            at: At::Marker("BackupRetentionDays: 40"),
            says: "breaks MaxValue 35",
        },
        Case {
            name: "storage under MinValue",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "AllocatedStorage: 200", "AllocatedStorage: 10"),
            file: PRODUCTION,
            at: At::Marker("AllocatedStorage: 10"),
            says: "breaks MinValue 20",
        },
        Case {
            name: "certificate id instead of its ARN",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "CertificateArn: arn:aws:acm:eu-west-1:345678901234:certificate/4f1c2a9e-facture-api",
                    "CertificateArn: 4f1c2a9e-facture-api",
                )
            },
            file: PRODUCTION,
            at: At::Marker("CertificateArn: 4f1c2a9e"),
            says: "`CertificateArn` = \"4f1c2a9e-facture-api\" does not match",
        },
        Case {
            name: "bootstrap stack depending on a later one",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "template = \"registry.yaml.tera\"\nbootstrap = true\n",
                    "template = \"registry.yaml.tera\"\nbootstrap = true\ndepends_on = [\"network\"]\n",
                )
            },
            file: DEPLOY,
            at: At::Marker("depends_on = [\"network\"]"),
            says: "bootstrap stack `registry` depends on `network`, which is not one",
        },
        Case {
            name: "promoted to an environment that does not exist",
            env: "staging",
            setup: |p| p.replace(STAGING, "promoted_to: production", "promoted_to: prod"),
            file: STAGING,
            at: At::Marker("promoted_to: prod"),
            says: "`promoted_to: prod`: environments/prod.yaml does not load",
        },
        Case {
            name: "source account id too short",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "SourceAccountId: \"210987654321\"",
                    "SourceAccountId: \"21098765\"",
                )
            },
            file: PRODUCTION,
            at: At::Marker("SourceAccountId: \"21098765\""),
            says: "`SourceAccountId` = \"21098765\" does not match",
        },
        Case {
            name: "domain name in upper case",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "ApiDomainName: api.facturascan.com",
                    "ApiDomainName: API.facturascan.com",
                )
            },
            file: PRODUCTION,
            at: At::Marker("ApiDomainName: API"),
            says: "`ApiDomainName` = \"API.facturascan.com\" does not match",
        },
        Case {
            name: "overlay input reading an output that does not exist",
            env: "local",
            setup: |p| {
                p.replace(
                    LOCAL,
                    "PublicSubnetIds: network.PublicSubnetIds",
                    "PublicSubnetIds: network.PublicSubnets",
                )
            },
            file: LOCAL,
            at: At::Marker("network.PublicSubnets"),
            says: "which the `network` template does not declare",
        },
        Case {
            name: "overlay parameter the template does not declare",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "InstanceClass: db.r6g.large",
                    "InstanceClas: db.r6g.large",
                )
            },
            file: PRODUCTION,
            at: At::Marker("InstanceClas: db"),
            says: "`InstanceClas` is not a parameter",
        },
        // ---------------------------------------------------------------- tags and names
        Case {
            name: "tag key with AWS's reserved prefix",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "\"app\" = \"facturascan360\"",
                    "\"aws:app\" = \"facturascan360\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("\"aws:app\""),
            says: "tag `aws:app` breaks AWS's tag rules",
        },
        Case {
            name: "tag value with a character AWS refuses",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "\"app\" = \"facturascan360\"",
                    "\"app\" = \"facturascan#360\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("facturascan#360"),
            says: "tag `app` breaks AWS's tag rules",
        },
        Case {
            name: "empty tag key",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "\"app\" = \"facturascan360\"",
                    "\"\" = \"facturascan360\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("\"\" = \"facturascan360\""),
            says: "tag `` breaks AWS's tag rules",
        },
        Case {
            name: "more tags than a resource may carry",
            env: "local",
            setup: |p| {
                let extra: String = (1..=48).map(|i| format!("\"t{i:02}\" = \"x\"\n")).collect();
                p.replace(
                    DEPLOY,
                    "\"managed-by\" = \"facturactl\"\n",
                    &format!("\"managed-by\" = \"facturactl\"\n{extra}"),
                );
            },
            file: DEPLOY,
            at: At::Marker("[stacks.network]"),
            says: "`network` would carry 53 tags",
        },
        Case {
            name: "project name too long for a load balancer",
            env: "staging",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "name = \"facturascan\"",
                    "name = \"facturascan-invoices-platform\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("template = \"api.yaml.tera\""),
            says: "would be named `facturascan-invoices-platform-staging-api-int` (45 characters)",
        },
        Case {
            name: "repository name in upper case",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "repository = \"facturascan/ocr\"",
                    "repository = \"FacturaScan/OCR\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("FacturaScan/OCR"),
            says: "is not an ECR repository name",
        },
        // ---------------------------------------------------------------- services
        Case {
            name: "A/B confidence that is not a probability",
            env: "local",
            setup: |p| p.replace(DEPLOY, "confidence = 0.95", "confidence = 95"),
            file: DEPLOY,
            at: At::Marker("confidence = 95"),
            says: "a confidence of 95 is not a probability between 0.5 and 1",
        },
        Case {
            name: "A/B limit below zero",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "max_false_negative_increase = 0.5",
                    "max_false_negative_increase = -0.5",
                )
            },
            file: DEPLOY,
            at: At::Marker("max_false_negative_increase = -0.5"),
            says: "max_false_negative_increase = -0.5 is not a change one can accept",
        },
        Case {
            name: "model name the registry cannot key",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "name = \"fraud-scoring\"",
                    "name = \"Fraud Scoring\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("name = \"Fraud Scoring\""),
            says: "`Fraud Scoring` is not a model name",
        },
        Case {
            name: "model without input fields",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "input = { supplier = \"string\", vat = \"string\", total = \"number\", currency = \"string\", issued_at = \"string\" }",
                    "input = {}",
                )
            },
            file: DEPLOY,
            at: At::Marker("input = {}"),
            says: "the model's input lists no field",
        },
        Case {
            name: "model on a service whose template takes none",
            env: "staging",
            setup: |p| {
                p.append(
                    DEPLOY,
                    "\n[services.parser.model]\nname = \"parser-model\"\ninput = { text = \"string\" }\n",
                )
            },
            file: DEPLOY,
            at: At::Marker("[services.parser.model]"),
            says: "service `parser` declares a model, but template `stacks/processing.yaml.tera` has no parameter `ParserModelUri`",
        },
        Case {
            name: "retired Lambda runtime",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "runtime = \"python3.12\"",
                    "runtime = \"python2.7\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("python2.7"),
            says: "`python2.7` is not a runtime Lambda takes",
        },
        Case {
            name: "handler without a function",
            env: "local",
            setup: |p| {
                p.replace(
                    DEPLOY,
                    "handler = \"parser.handler\"",
                    "handler = \"parser\"",
                )
            },
            file: DEPLOY,
            at: At::Marker("handler = \"parser\""),
            says: "handler `parser` does not name a function",
        },
        Case {
            name: "health check path without a slash",
            env: "local",
            setup: |p| p.replace(DEPLOY, "path = \"/health\"", "path = \"health\""),
            file: DEPLOY,
            at: At::Marker("path = \"health\""),
            says: "does not start with `/`",
        },
        Case {
            name: "container port over 65535",
            env: "local",
            setup: |p| p.replace(DEPLOY, "container_port = 8000", "container_port = 70000"),
            file: DEPLOY,
            at: At::Marker("container_port = 70000"),
            says: "found integer `70000`",
        },
        Case {
            name: "Lambda memory under 128 MB",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "memory_mb: 1024", "memory_mb: 100"),
            file: PRODUCTION,
            at: At::Marker("memory_mb: 100"),
            says: "memory_mb 100 is out of range",
        },
        Case {
            name: "canary step of 0%",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "step_percent: 10", "step_percent: 0"),
            file: PRODUCTION,
            at: At::Marker("step_percent: 0"),
            says: "step_percent 0 is out of range",
        },
        Case {
            name: "negative reserved concurrency",
            env: "production",
            setup: |p| {
                p.replace(
                    PRODUCTION,
                    "reserved_concurrency: 200",
                    "reserved_concurrency: -5",
                )
            },
            file: PRODUCTION,
            at: At::Marker("reserved_concurrency: -5"),
            says: "found integer `-5`",
        },
        Case {
            name: "more tasks than the limit",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "desired_count: 4", "desired_count: 5000"),
            file: PRODUCTION,
            at: At::Marker("desired_count: 5000"),
            says: "desired_count 5000 is out of range",
        },
        Case {
            name: "retry attempts of 0",
            env: "local",
            setup: |p| p.replace(LOCAL, "max_attempts: 8", "max_attempts: 0"),
            file: LOCAL,
            at: At::Marker("max_attempts: 0"),
            says: "max_attempts 0 is out of range",
        },
        Case {
            name: "retry mode the SDK does not have",
            env: "production",
            setup: |p| p.replace(PRODUCTION, "mode: standard", "mode: fast"),
            file: PRODUCTION,
            at: At::Marker("mode: fast"),
            says: "does not accept `fast`",
        },
        Case {
            name: "alarm unit abbreviated",
            env: "local",
            setup: |p| p.replace(DEPLOY, "unit = \"milliseconds\"", "unit = \"ms\""),
            file: DEPLOY,
            at: At::Marker("unit = \"ms\""),
            says: "does not accept `ms`",
        },
        // ---------------------------------------------------------------- templates
        Case {
            name: "macros calling each other",
            env: "local",
            setup: |p| {
                p.write(
                    "templates/partials/ping.tera",
                    "{% macro ping(n) %}\n{{ self::pong(n=n) }}\n{% endmacro ping %}\n{% macro pong(n) %}\n{{ self::ping(n=n) }}\n{% endmacro pong %}\n",
                );
            },
            file: "templates/partials/ping.tera",
            at: At::Marker("self::ping"),
            says: "macros call each other in a cycle",
        },
        // Tera resolves imports while it parses, before any check on the parsed templates:
        // a cycle of imports overflowed the stack as soon as a stack imported one of them.
        Case {
            name: "partials importing each other",
            env: "local",
            setup: |p| {
                p.write(
                    "templates/partials/ping.tera",
                    "{% import \"partials/pong.tera\" as pong %}\n{% macro ping(n) %}1{% endmacro ping %}\n",
                );
                p.write(
                    "templates/partials/pong.tera",
                    "{% import \"partials/ping.tera\" as ping %}\n{% macro pong(n) %}{{ ping::ping(n=n) }}{% endmacro pong %}\n",
                );
            },
            file: "templates/partials/pong.tera",
            at: At::Line(1),
            says: "recursive import: partials/ping.tera -> partials/pong.tera -> partials/ping.tera",
        },
        Case {
            name: "partials including each other",
            env: "local",
            setup: |p| {
                p.append(
                    "templates/partials/lambda-function.tera",
                    "\n{%- include \"partials/ecs-service.tera\" %}\n",
                );
                p.append(
                    "templates/partials/ecs-service.tera",
                    "\n{%- include \"partials/lambda-function.tera\" %}\n",
                );
            },
            file: "templates/partials/lambda-function.tera",
            at: At::Marker("{%- include \"partials/ecs-service.tera\" %}"),
            says: "recursive include",
        },
        Case {
            name: "filter that does not exist",
            env: "local",
            setup: |p| {
                p.replace(
                    AUTH,
                    "{{ env.prefix }}-users",
                    "{{ env.prefix | shout }}-users",
                )
            },
            file: AUTH,
            at: At::Marker("| shout"),
            says: "Filter 'shout' not found",
        },
        Case {
            name: "include of a partial that does not exist",
            env: "local",
            setup: |p| {
                p.replace(
                    "templates/stacks/processing.yaml.tera",
                    "{%- include \"partials/lambda-function.tera\" %}",
                    "{%- include \"partials/lambda-fn.tera\" %}",
                )
            },
            file: "templates/stacks/processing.yaml.tera",
            at: At::Marker("partials/lambda-fn.tera"),
            says: "not found",
        },
        Case {
            name: "undefined variable in a partial",
            env: "local",
            setup: |p| {
                p.replace(
                    "templates/partials/lambda-function.tera",
                    "{{ env.prefix }}",
                    "{{ env.prefixx }}",
                )
            },
            file: "templates/partials/lambda-function.tera",
            at: At::Marker("env.prefixx"),
            says: "Variable `env.prefixx` not found",
        },
        Case {
            name: "range that would loop forever",
            env: "local",
            setup: |p| {
                p.replace(
                    AUTH,
                    "{{ env.prefix }}-users",
                    "{% for i in range(end=3, step_by=0) %}{% endfor %}{{ env.prefix }}-users",
                )
            },
            file: AUTH,
            at: At::Marker("step_by=0"),
            says: "`range` needs a `step_by` of 1 or more",
        },
        Case {
            name: "template reading the deployer's environment",
            env: "local",
            setup: |p| {
                p.replace(
                    AUTH,
                    "{{ env.prefix }}-users",
                    "{{ get_env(name=\"AWS_SECRET_ACCESS_KEY\") }}-users",
                )
            },
            file: AUTH,
            at: At::Marker("get_env"),
            says: "`get_env()` is not available in facturactl templates",
        },
        Case {
            name: "template over CloudFormation's 1 MB",
            env: "local",
            setup: |p| {
                let line = "0123456789".repeat(13);
                p.append(
                    AUTH,
                    &format!("\n# {{{{ range(end=9000) | join(sep='{line}') }}}}\n"),
                );
            },
            file: AUTH,
            at: At::Line(0),
            says: "over the 1048576 bytes CloudFormation accepts",
        },
    ]
}

/// Line 0 in a case means "the file only"; otherwise `file:line:`.
fn location(case: &Case, project: &Project) -> String {
    let line = match case.at {
        At::Line(n) => n,
        At::Marker(m) => line_of(&project.read(case.file), m),
        At::LastMarker(m) => {
            let text = project.read(case.file);
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains(m))
                .map(|(i, _)| i + 1)
                .last()
                .unwrap_or(0)
        }
    };
    if line == 0 {
        format!("--> {}", case.file)
    } else {
        format!("--> {}:{line}", case.file)
    }
}

#[test]
fn every_bad_input_is_located_and_exits_1_without_touching_aws() {
    let tripwire = Tripwire::start();
    let mut cases = cases();
    cases.extend(offline_cases());
    assert!(cases.len() >= 120, "the corpus keeps at least 120 cases");
    let mut failures = Vec::new();
    for case in &cases {
        let project = Project::copy();
        (case.setup)(&project);
        // The render's own deadline is 20 s: a case still running at 60 s hangs, and is
        // killed and failed.
        let output = project
            .cmd()
            .args([
                "validate",
                "--env",
                case.env,
                "--endpoint-url",
                &tripwire.url,
            ])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap_or_else(|e| panic!("{}: did not end: {e}", case.name));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let want = location(case, &project);
        let problems: Vec<String> = [
            (output.status.code() != Some(1)).then(|| format!("exit {:?}", output.status.code())),
            (!stderr.contains(&want)).then(|| format!("no `{want}`")),
            (!stderr.contains(case.says)).then(|| format!("no `{}`", case.says)),
            (!stderr.contains("= help: ")).then(|| "no fix (`= help:`)".to_string()),
            stderr.contains("panicked").then(|| "panicked".to_string()),
            stderr
                .contains("CANARYSECRET")
                .then(|| "echoed the secret".to_string()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n{stderr}", case.name, problems.join(", ")));
        }
    }
    assert_eq!(tripwire.hits(), 0, "bad input reached the AWS endpoint");
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn config_errors_in_json_name_file_line_and_column() {
    let project = Project::copy();
    project.replace(
        STAGING,
        "      desired_count: 2",
        "      desired_count: many",
    );
    let output = project
        .cmd()
        .args(["validate", "--env", "staging", "--output", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let doc: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    let error = &doc["errors"][0];
    assert_eq!(doc["status"], "error");
    assert_eq!(error["file"], STAGING);
    assert_eq!(
        error["line"],
        line_of(&project.read(STAGING), "desired_count: many")
    );
    assert_eq!(error["column"], 22);
    assert_eq!(error["expected"], "a whole number of 0 or more");
}

#[test]
fn several_problems_are_reported_together() {
    let project = Project::copy();
    project.replace(DEPLOY, "timeout_seconds = 60", "timeout_seconds = 1000");
    project.replace(
        DEPLOY,
        "cpu = 1024\nmemory = 2048",
        "cpu = 1000\nmemory = 2048",
    );
    let output = project
        .cmd()
        .args(["validate", "--env", "staging"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1000 is not a Fargate CPU size"),
        "{stderr}"
    );
    assert!(
        stderr.contains("timeout_seconds 1000 is out of range"),
        "{stderr}"
    );
    assert!(stderr.contains("2 configuration errors"), "{stderr}");
}
