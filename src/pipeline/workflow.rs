//! GitHub Actions workflows from a pipeline definition.
//!
//! What makes them safe is decided here, once: credentials through OIDC, third-party actions
//! pinned by commit, `permissions: {}` at the top and the minimum per job, one GitHub
//! environment and one concurrency group per deploy, and no `${{ }}` expression inside a
//! `run:` script (values reach scripts through `env:`). The text is written line by line so
//! that each pin keeps its version comment and the output is byte-for-byte stable.

use std::fmt::Write as _;
use std::path::Path;

use super::{Definition, GENERATED_MARK, NotifyOn, Pipeline, Trigger, WORKFLOWS_DIR, WorkflowFile};

/// The actions every pipeline uses; a definition must pin each.
pub const REQUIRED_ACTIONS: &[&str] = &[
    "checkout",
    "setup-python",
    "configure-aws-credentials",
    "upload-artifact",
    "download-artifact",
];

/// The workflows of one definition: `<name>.yml`, and `audit.yml` when it has audits.
pub fn render(definition: &Definition) -> Vec<WorkflowFile> {
    let p = &definition.pipeline;
    let source = definition.file.display().to_string();
    let mut files = vec![WorkflowFile {
        path: Path::new(WORKFLOWS_DIR).join(format!("{}.yml", p.pipeline.name)),
        text: platform(definition, &source),
    }];
    if p.audit.is_some() {
        files.push(WorkflowFile {
            path: Path::new(WORKFLOWS_DIR).join(format!("{}-audit.yml", p.pipeline.name)),
            text: audit(definition, &source),
        });
    }
    if p.training.is_some() {
        files.push(WorkflowFile {
            path: Path::new(WORKFLOWS_DIR).join(format!("{}-training.yml", p.pipeline.name)),
            text: training(definition, &source),
        });
    }
    if !p.deploy.is_empty() {
        files.push(WorkflowFile {
            path: Path::new(WORKFLOWS_DIR).join(format!("{}-operations.yml", p.pipeline.name)),
            text: operations(definition, &source),
        });
    }
    files
}

/// By hand, from the Actions tab (`workflow_dispatch`): `rollback` (to `to`, or the
/// release before) or `unlock` (a dead run's lock, forced open and recorded) of one
/// deployed environment, in its GitHub environment (its reviewers approve), with its
/// deploy role, in the concurrency group of its deploys. The inputs reach facturactl
/// through the action's structured inputs (`--env=`, `--to=`): never as a flag.
fn operations(definition: &Definition, source: &str) -> String {
    let p = &definition.pipeline;
    let mut out = String::new();
    header(&mut out, source, &format!("{}-operations", p.pipeline.name));
    let envs: Vec<&String> = p.deploy.keys().collect();
    let _ = writeln!(out);
    let _ = writeln!(out, "on:");
    let _ = writeln!(out, "  workflow_dispatch:");
    let _ = writeln!(out, "    inputs:");
    let _ = writeln!(out, "      operation:");
    let _ = writeln!(
        out,
        "        description: \"rollback: the services back to an earlier release; unlock: a dead run's deploy lock, forced open (recorded)\""
    );
    let _ = writeln!(out, "        type: choice");
    let _ = writeln!(out, "        options: [rollback, unlock]");
    let _ = writeln!(out, "        required: true");
    let _ = writeln!(out, "      environment:");
    let _ = writeln!(out, "        description: The environment");
    let _ = writeln!(out, "        type: choice");
    let _ = writeln!(
        out,
        "        options: [{}]",
        envs.iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "        required: true");
    let _ = writeln!(out, "      to:");
    let _ = writeln!(
        out,
        "        description: \"rollback: a record id or release tag (empty: the release before)\""
    );
    let _ = writeln!(out, "        type: string");
    let _ = writeln!(out, "        required: false");
    let _ = writeln!(out, "        default: \"\"");
    let _ = writeln!(out);
    let _ = writeln!(out, "permissions: {{}}");
    let _ = writeln!(out);
    let _ = writeln!(out, "jobs:");
    for (env, stage) in &p.deploy {
        let id = format!("operate-{env}");
        let name = format!("${{{{ inputs.operation }}}} ({env})");
        let condition = format!("inputs.environment == '{env}'");
        Job {
            condition: Some(&condition),
            environment: Some(env),
            concurrency: Some(format!("deploy-{env}")),
            ..Job::aws(&id, &name)
        }
        .open_as(&mut out, p, (&stage.role_arn, region_of(definition, env)));
        for (operation, to) in [("rollback", true), ("unlock", false)] {
            let _ = writeln!(out, "      - name: \"facturactl {operation} --env {env}\"");
            let _ = writeln!(out, "        if: inputs.operation == '{operation}'");
            let _ = writeln!(out, "        uses: ./");
            let _ = writeln!(out, "        with:");
            let _ = writeln!(
                out,
                "          version: {}",
                quoted(&p.pipeline.facturactl_version)
            );
            let _ = writeln!(out, "          command: {operation}");
            let _ = writeln!(out, "          environment: {env}");
            if to {
                let _ = writeln!(out, "          to: ${{{{ inputs.to }}}}");
            }
            let _ = writeln!(out, "          args: |");
            let _ = writeln!(out, "            --yes");
        }
    }
    out
}

fn header(out: &mut String, source: &str, name: &str) {
    let _ = writeln!(out, "{GENERATED_MARK} from {source}: do not edit.");
    let _ = writeln!(
        out,
        "# Change the definition and run `facturactl pipeline render`; CI fails while this file is stale."
    );
    let _ = writeln!(out, "name: {name}");
}

/// `uses: owner/repo@sha # version` for a pinned action.
fn uses(p: &Pipeline, action: &str) -> String {
    match p.actions.get(action) {
        Some(pin) => format!("{}@{} # {}", pin.repo, pin.sha, pin.version),
        // `check` refuses a definition without the pin; this keeps render total.
        None => format!("{action}@unpinned"),
    }
}

/// A YAML double-quoted scalar.
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into())
}

/// A POSIX shell single-quoted word.
fn shell_word(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn shell_words(values: &[String]) -> String {
    values
        .iter()
        .map(|v| shell_word(v))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One job's opening lines, up to `steps:`.
struct Job<'a> {
    id: &'a str,
    name: &'a str,
    needs: Vec<String>,
    condition: Option<&'a str>,
    environment: Option<&'a str>,
    concurrency: Option<String>,
    /// Besides `contents: read`.
    id_token: bool,
    /// `pull-requests: write`, to comment on the pull request.
    pull_requests: bool,
    /// Instead of the pipeline's runner (image builds run on the tasks' architecture).
    runner: Option<&'a str>,
}

impl<'a> Job<'a> {
    /// A job that reads the repository only: no AWS, no environment, runs on every event.
    fn check(id: &'a str, name: &'a str) -> Self {
        Self {
            id,
            name,
            needs: vec![],
            condition: None,
            environment: None,
            concurrency: None,
            id_token: false,
            pull_requests: false,
            runner: None,
        }
    }

    /// A job that assumes an AWS role (OIDC): nothing else set.
    fn aws(id: &'a str, name: &'a str) -> Self {
        Self {
            id_token: true,
            ..Self::check(id, name)
        }
    }

    /// Opens the job, checks the repository out and takes `role`'s credentials: how
    /// every job that only runs facturactl against one account starts.
    fn open_as(&self, out: &mut String, p: &Pipeline, (role, region): (&str, &str)) {
        self.open(out, p);
        checkout(out, p, false);
        aws_credentials(out, p, role, region, self.id);
    }

    fn open(&self, out: &mut String, p: &Pipeline) {
        let _ = writeln!(out, "  {}:", self.id);
        let _ = writeln!(out, "    name: {}", quoted(self.name));
        if !self.needs.is_empty() {
            let _ = writeln!(out, "    needs: [{}]", self.needs.join(", "));
        }
        if let Some(condition) = self.condition {
            let _ = writeln!(out, "    if: {condition}");
        }
        let runner = self.runner.unwrap_or(&p.pipeline.runner);
        let _ = writeln!(out, "    runs-on: {runner}");
        let _ = writeln!(out, "    timeout-minutes: {}", p.pipeline.timeout_minutes);
        if let Some(environment) = self.environment {
            let _ = writeln!(out, "    environment: {environment}");
        }
        if let Some(group) = &self.concurrency {
            let _ = writeln!(out, "    concurrency:");
            let _ = writeln!(out, "      group: {group}");
            // A deploy that has started is never cancelled by the next one: it queues.
            let _ = writeln!(out, "      cancel-in-progress: false");
        }
        let _ = writeln!(out, "    permissions:");
        let _ = writeln!(out, "      contents: read");
        if self.id_token {
            let _ = writeln!(out, "      id-token: write");
        }
        if self.pull_requests {
            let _ = writeln!(out, "      pull-requests: write");
        }
        let _ = writeln!(out, "    steps:");
    }
}

fn checkout(out: &mut String, p: &Pipeline, full_history: bool) {
    let _ = writeln!(out, "      - uses: {}", uses(p, "checkout"));
    let _ = writeln!(out, "        with:");
    let _ = writeln!(out, "          persist-credentials: false");
    if full_history {
        // The release gate needs the tags and main's history.
        let _ = writeln!(out, "          fetch-depth: 0");
    }
}

fn setup_python(out: &mut String, p: &Pipeline) {
    let _ = writeln!(out, "      - uses: {}", uses(p, "setup-python"));
    let _ = writeln!(out, "        with:");
    let _ = writeln!(
        out,
        "          python-version: {}",
        quoted(&p.pipeline.python_version)
    );
}

/// The job's AWS credentials by OIDC, its session named after the job and the run (what
/// CloudTrail shows).
fn aws_credentials(out: &mut String, p: &Pipeline, role: &str, region: &str, job: &str) {
    let session = format!("{job}-${{{{ github.run_id }}}}");
    let _ = writeln!(out, "      - name: AWS credentials (OIDC)");
    let _ = writeln!(
        out,
        "        uses: {}",
        uses(p, "configure-aws-credentials")
    );
    let _ = writeln!(out, "        with:");
    let _ = writeln!(out, "          role-to-assume: {role}");
    let _ = writeln!(out, "          role-session-name: {session}");
    let _ = writeln!(out, "          aws-region: {region}");
}

fn run(out: &mut String, name: &str, env: &[(&str, String)], script: &str) {
    run_if(out, name, None, env, script);
}

/// A `run` step that runs under `condition` (an `if:` expression).
fn run_if(
    out: &mut String,
    name: &str,
    condition: Option<&str>,
    env: &[(&str, String)],
    script: &str,
) {
    let _ = writeln!(out, "      - name: {}", quoted(name));
    if let Some(condition) = condition {
        let _ = writeln!(out, "        if: {condition}");
    }
    if !env.is_empty() {
        let _ = writeln!(out, "        env:");
        for (key, value) in env {
            let _ = writeln!(out, "          {key}: {value}");
        }
    }
    if needs_block(script) {
        let _ = writeln!(out, "        run: |");
        for line in script.lines() {
            let _ = writeln!(out, "          {line}");
        }
    } else {
        let _ = writeln!(out, "        run: {script}");
    }
}

/// A step that runs `facturactl ARGS` (words without spaces), named after its command line.
fn facturactl_step(out: &mut String, p: &Pipeline, args: &str) {
    let words: Vec<&str> = args.split_whitespace().collect();
    facturactl(out, p, &format!("facturactl {args}"), None, &words);
}

/// The composite action at the repository root, installing the pinned facturactl, with
/// `args` one per line: the action takes each line as one argument, exactly.
fn facturactl(out: &mut String, p: &Pipeline, name: &str, condition: Option<&str>, args: &[&str]) {
    let _ = writeln!(out, "      - name: {}", quoted(name));
    if let Some(condition) = condition {
        let _ = writeln!(out, "        if: {condition}");
    }
    let _ = writeln!(out, "        uses: ./");
    let _ = writeln!(out, "        with:");
    let _ = writeln!(
        out,
        "          version: {}",
        quoted(&p.pipeline.facturactl_version)
    );
    let _ = writeln!(out, "          args: |");
    for arg in args {
        let _ = writeln!(out, "            {arg}");
    }
}

/// The environment's region, from its configuration.
fn region_of<'a>(definition: &'a Definition, env: &str) -> &'a str {
    definition
        .environments
        .get(env)
        .map_or(definition.pipeline.build.region.as_str(), |c| {
            c.environment.region.as_str()
        })
}

fn account_of(role: &str) -> &str {
    role.strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .map_or("", |(account, _)| account)
}

const ON_BRANCH: &str = "github.event_name == 'push' && github.ref_type == 'branch'";
const ON_TAG: &str = "github.event_name == 'push' && github.ref_type == 'tag'";

fn platform(definition: &Definition, source: &str) -> String {
    let p = &definition.pipeline;
    let s = &p.pipeline;
    let mut out = String::new();
    header(&mut out, source, &s.name);
    let _ = writeln!(out);
    let _ = writeln!(out, "on:");
    let _ = writeln!(out, "  push:");
    let _ = writeln!(out, "    branches: [{}]", quoted(&s.branch));
    let _ = writeln!(out, "    tags: [{}]", quoted(&s.release_tags));
    let _ = writeln!(out, "  pull_request:");
    let _ = writeln!(out, "    branches: [{}]", quoted(&s.branch));
    let _ = writeln!(out);
    let _ = writeln!(out, "permissions: {{}}");
    let _ = writeln!(out);
    let _ = writeln!(out, "jobs:");

    let mut checks = Vec::new();
    if !p.lint.python.is_empty() {
        checks.push("lint-python".to_string());
        lint_python(&mut out, p);
    }
    if p.lint.rust {
        checks.push("lint-rust".to_string());
        lint_rust(&mut out, p);
    }
    if !p.test.python.is_empty() || p.test.rust {
        checks.push("test".to_string());
        test(&mut out, p);
    }
    if let Some(plan) = &p.plan {
        plan_job(&mut out, p, plan, region_of(definition, &plan.environment));
    }
    let branch = p
        .deploy
        .iter()
        .find(|(_, stage)| stage.trigger == Trigger::Branch);
    let branch_env = branch.and_then(|(env, _)| definition.environments.get(env));
    // Day 0 first: the registry and the release store exist before anything is pushed.
    let mut bootstrap = Vec::new();
    if let Some((env, stage)) = branch {
        let id = format!("bootstrap-{env}");
        bootstrap_job(
            &mut out,
            p,
            (env, region_of(definition, env)),
            stage,
            &id,
            &checks,
        );
        bootstrap.push(id);
    }
    let after_bootstrap = [checks.clone(), bootstrap.clone()].concat();
    let images = build_jobs(&mut out, p, branch_env, &checks, &after_bootstrap);
    let mut deploys = Vec::new();
    let verify_id = p
        .verify
        .as_ref()
        .map(|v| format!("verify-{}", v.environment));
    for (env, stage) in &p.deploy {
        let id = format!("deploy-{env}");
        let mut needs = match stage.trigger {
            Trigger::Branch => [after_bootstrap.clone(), images.clone()].concat(),
            Trigger::Tag => checks.clone(),
        };
        // A promotion waits for the verification of what it promotes.
        let verified = stage.promote_from.as_ref().and(verify_id.as_deref());
        needs.extend(verified.map(str::to_string));
        let region = region_of(definition, env);
        // ... and for its plan, made and saved before the approval: what runs is it.
        if let (Some(source), Some(role)) = (&stage.promote_from, &stage.plan_role_arn) {
            let plan_id = format!("plan-{env}-promotion");
            let planned = Promotion {
                source,
                env,
                region,
                role,
            };
            let condition = tag_condition(verified);
            promotion_plan_job(&mut out, p, &planned, (&plan_id, &condition), needs.clone());
            needs.push(plan_id.clone());
            deploys.push(plan_id);
        }
        deploy_job(&mut out, p, (env, region), stage, (&id, verified), needs);
        deploys.push(id.clone());
        if let Some(verify) = p.verify.as_ref().filter(|v| &v.environment == env) {
            let verify_id = format!("verify-{env}");
            verify_job(&mut out, p, verify, region, &verify_id, &id);
            deploys.push(verify_id);
        }
    }
    notify_job(
        &mut out,
        definition,
        [checks, bootstrap, images, deploys].concat(),
    );
    out
}

/// One job per image, package and training image of the branch environment; their ids.
/// What is pushed to ECR waits for the bootstrap; packages touch no AWS.
fn build_jobs(
    out: &mut String,
    p: &Pipeline,
    branch_env: Option<&crate::config::Config>,
    checks: &[String],
    after_bootstrap: &[String],
) -> Vec<String> {
    let mut images = Vec::new();
    for image in &p.build.images {
        let id = format!("image-{}", image.service);
        let repository = branch_env
            .and_then(|c| c.services.get(&image.service))
            .and_then(|s| s.ecs.as_ref())
            .map_or(image.service.as_str(), |e| e.repository.as_str());
        image_job(out, p, image, repository, &id, after_bootstrap);
        images.push(id);
    }
    for package in &p.build.packages {
        let id = format!("package-{}", package.service);
        package_job(out, p, package, &id, checks);
        images.push(id);
    }
    for training in &p.build.training {
        let id = format!("image-{}-training", training.model);
        let job = branch_env
            .and_then(|c| c.models.get(&training.model))
            .and_then(|m| m.retraining.as_ref())
            .map(|r| &r.job);
        let (repository, tag) = job.map_or((training.model.as_str(), "latest"), |j| {
            (j.repository.as_str(), j.image.as_str())
        });
        training_job(out, p, training, (repository, tag), &id, after_bootstrap);
        images.push(id);
    }
    images
}

fn lint_python(out: &mut String, p: &Pipeline) {
    Job::check("lint-python", "lint (Python: black, flake8)").open(out, p);
    checkout(out, p, false);
    setup_python(out, p);
    let paths = shell_words(&p.lint.python);
    run(
        out,
        "Install the linters",
        &[],
        &format!(
            "python -m pip install {}",
            shell_words(&p.lint.python_tools)
        ),
    );
    run(out, "Black", &[], &format!("black --check --diff {paths}"));
    run(out, "flake8 (PEP 8)", &[], &format!("flake8 {paths}"));
}

fn lint_rust(out: &mut String, p: &Pipeline) {
    Job::check("lint-rust", "lint (Rust: fmt, clippy)").open(out, p);
    checkout(out, p, false);
    run(out, "Toolchain", &[], "rustup component add rustfmt clippy");
    run(out, "rustfmt", &[], "cargo fmt --check");
    run(
        out,
        "clippy",
        &[],
        "cargo clippy --all-targets --locked -- -D warnings",
    );
}

fn test(out: &mut String, p: &Pipeline) {
    Job::check("test", "tests").open(out, p);
    checkout(out, p, false);
    if !p.test.python.is_empty() {
        setup_python(out, p);
        run(
            out,
            "Install the test tools",
            &[],
            &format!(
                "python -m pip install {}",
                shell_words(&p.test.python_tools)
            ),
        );
        run(
            out,
            "pytest",
            &[],
            &format!("python -m pytest {}", shell_words(&p.test.python)),
        );
    }
    if p.test.rust {
        run(out, "Rust tests", &[], &p.test.rust_command);
    }
}

/// A job that builds on the tasks' architecture and pushes to the build account's ECR.
fn open_build_job(out: &mut String, p: &Pipeline, id: &str, name: &str, needs: &[String]) {
    Job {
        needs: needs.to_vec(),
        condition: Some(ON_BRANCH),
        runner: Some(&p.build.runner),
        ..Job::aws(id, name)
    }
    .open_as(out, p, (&p.build.role_arn, &p.build.region));
}

/// The registry the build role pushes to: its account's ECR in the build region.
fn build_registry(p: &Pipeline) -> String {
    format!(
        "{}.dkr.ecr.{}.amazonaws.com",
        account_of(&p.build.role_arn),
        p.build.region
    )
}

fn image_job(
    out: &mut String,
    p: &Pipeline,
    image: &super::Image,
    repository: &str,
    id: &str,
    checks: &[String],
) {
    open_build_job(out, p, id, &format!("image ({})", image.service), checks);
    let dockerfile = image
        .dockerfile
        .clone()
        .unwrap_or_else(|| format!("{}/Dockerfile", image.context));
    let env = [
        ("SERVICE", quoted(&image.service)),
        ("CONTEXT", quoted(&image.context)),
        ("DOCKERFILE", quoted(&dockerfile)),
        ("REGISTRY", quoted(&build_registry(p))),
        ("REPOSITORY", quoted(repository)),
        ("REGION", quoted(&p.build.region)),
        // The tasks' architecture (RuntimePlatform ARM64 in the ECS partial).
        ("PLATFORM", quoted(super::TASK_PLATFORM)),
        ("COMMIT", "${{ github.sha }}".to_string()),
    ];
    // A re-run of the same commit finds its tag taken (tags are immutable): the image
    // pushed then is the one, and its digest is what the deploy gets.
    let script = r#"set -euo pipefail
image="$REGISTRY/$REPOSITORY:$COMMIT"
if pushed="$(aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" --image-ids imageTag="$COMMIT" --query 'imageDetails[0].imageDigest' --output text 2> /dev/null)"; then
  echo "$image is already pushed (tags are immutable): using its digest $pushed"
  digest="$REGISTRY/$REPOSITORY@$pushed"
else
  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"
  docker build --platform "$PLATFORM" --file "$DOCKERFILE" --tag "$image" "$CONTEXT"
  docker push "$image"
  digest="$(docker inspect --format '{{index .RepoDigests 0}}' "$image")"
fi
mkdir -p image-artifacts
jq -n --arg s "$SERVICE" --arg d "$digest" '{services: {($s): {image: $d}}}' > "image-artifacts/$SERVICE.json""#;
    run(out, "Build and push", &env, script);
    let _ = writeln!(out, "      - uses: {}", uses(p, "upload-artifact"));
    let _ = writeln!(out, "        with:");
    let _ = writeln!(out, "          name: {id}");
    let _ = writeln!(
        out,
        "          path: image-artifacts/{}.json",
        image.service
    );
    let _ = writeln!(out, "          if-no-files-found: error");
    let _ = writeln!(out, "          retention-days: 7");
}

fn deploy_job(
    out: &mut String,
    p: &Pipeline,
    (env, region): (&str, &str),
    stage: &super::DeployStage,
    (id, verified_by): (&str, Option<&str>),
    needs: Vec<String>,
) {
    let name = format!("deploy ({env})");
    let condition = match stage.trigger {
        Trigger::Branch => ON_BRANCH.to_string(),
        Trigger::Tag => tag_condition(verified_by),
    };
    Job {
        id,
        name: &name,
        needs,
        condition: Some(&condition),
        environment: Some(env),
        concurrency: Some(format!("deploy-{env}")),
        id_token: true,
        pull_requests: false,
        runner: None,
    }
    .open(out, p);
    checkout(out, p, true);
    let built = p.build.images.len() + p.build.packages.len() + p.build.training.len();
    let args = match &stage.promote_from {
        // Exactly the plan shown before the approval (its job saved it).
        Some(source) if stage.plan_role_arn.is_some() => {
            let _ = writeln!(out, "      - uses: {}", uses(p, "download-artifact"));
            let _ = writeln!(out, "        with:");
            let _ = writeln!(out, "          name: {env}-plan");
            let _ = writeln!(out, "          path: ${{{{ runner.temp }}}}/plan");
            format!(
                "promote --from {source} --to {env} --plan {RUNNER_TEMP}/plan/{env}.plan.json --yes"
            )
        }
        Some(source) => format!("promote --from {source} --to {env} --yes"),
        None if built == 0 => format!("deploy --env {env} --yes"),
        None => {
            let mut folders = Vec::new();
            for (pattern, folder, any) in [
                ("image-*", "image-artifacts", !p.build.images.is_empty()),
                (
                    "package-*",
                    "package-artifacts",
                    !p.build.packages.is_empty(),
                ),
            ] {
                if !any {
                    continue;
                }
                let _ = writeln!(out, "      - uses: {}", uses(p, "download-artifact"));
                let _ = writeln!(out, "        with:");
                let _ = writeln!(out, "          pattern: {pattern}");
                let _ = writeln!(out, "          path: {folder}");
                let _ = writeln!(out, "          merge-multiple: true");
                folders.push(format!("{folder}/*.json"));
            }
            run(
                out,
                "Artifacts file",
                &[],
                &format!(
                    "jq -s '{{services: (map(.services) | add)}}' {} > artifacts.json",
                    folders.join(" ")
                ),
            );
            format!("deploy --env {env} --artifacts artifacts.json --yes")
        }
    };
    aws_credentials(out, p, &stage.role_arn, region, id);
    if stage.promote_from.is_some() && stage.plan_role_arn.is_none() {
        // Day 0 of the target, in the same job (its reviewers approve once): its registry
        // and release store exist before the promotion looks for what it promotes. With a
        // saved plan, bootstrap is day 0's by hand (docs/guide/day-0.md): a bootstrap stack
        // changed here would move the plan under its approval.
        facturactl_step(out, p, &format!("bootstrap --env {env}"));
    }
    facturactl_step(out, p, &args);
}

/// `${{runner.temp}}` as one word (facturactl steps split their command line on spaces).
const RUNNER_TEMP: &str = "${{runner.temp}}";

/// The condition of a tag-triggered job; after a verify job, which runs on a tag push
/// although the deploy it follows was skipped, `!cancelled()` lets it run after that one,
/// only when it and every other job it needs passed.
fn tag_condition(verified_by: Option<&str>) -> String {
    match verified_by {
        None => ON_TAG.to_string(),
        Some(verify) => format!(
            "${{{{ !cancelled() && {ON_TAG} && needs.{verify}.result == 'success' && !contains(needs.*.result, 'failure') && !contains(needs.*.result, 'skipped') }}}}"
        ),
    }
}

/// A promotion and the role its plan job assumes.
struct Promotion<'a> {
    source: &'a str,
    env: &'a str,
    region: &'a str,
    role: &'a str,
}

/// The promotion's plan, before the protected job: `promote --dry-run --save` with a role
/// that reads and makes change sets, outside the deployment environment, so reviewers
/// approve what they saw (the step summary); the saved plan goes to the deploy job as an
/// artifact, kept outside the checkout (a file in it is a change the release gate refuses).
fn promotion_plan_job(
    out: &mut String,
    p: &Pipeline,
    promotion: &Promotion<'_>,
    (id, condition): (&str, &str),
    needs: Vec<String>,
) {
    let Promotion {
        source,
        env,
        region,
        role,
    } = promotion;
    let name = format!("plan ({env} promotion)");
    Job {
        id,
        name: &name,
        needs,
        condition: Some(condition),
        environment: None,
        concurrency: None,
        id_token: true,
        pull_requests: false,
        runner: None,
    }
    .open(out, p);
    checkout(out, p, true);
    aws_credentials(out, p, role, region, id);
    let file = format!("{RUNNER_TEMP}/{env}.plan.json");
    facturactl_step(
        out,
        p,
        &format!("promote --from {source} --to {env} --dry-run --save {file}"),
    );
    let _ = writeln!(out, "      - uses: {}", uses(p, "upload-artifact"));
    let _ = writeln!(out, "        with:");
    let _ = writeln!(out, "          name: {env}-plan");
    let _ = writeln!(
        out,
        "          path: ${{{{ runner.temp }}}}/{env}.plan.json"
    );
    let _ = writeln!(out, "          if-no-files-found: error");
    let _ = writeln!(out, "          retention-days: 7");
}

/// `facturactl verify` of the branch environment: after its deploy on a push of the
/// branch, and on a release tag (whose push deploys nothing to it) before the promotion
/// that needs it. Locust's report is uploaded; the Markdown goes to the step summary.
fn verify_job(
    out: &mut String,
    p: &Pipeline,
    verify: &super::VerifyStage,
    region: &str,
    id: &str,
    deploy: &str,
) {
    let env = &verify.environment;
    let name = format!("verify ({env})");
    let condition = format!(
        "${{{{ !cancelled() && github.event_name == 'push' && ((github.ref_type == 'branch' && needs.{deploy}.result == 'success') || github.ref_type == 'tag') }}}}"
    );
    Job {
        needs: vec![deploy.to_string()],
        condition: Some(&condition),
        environment: Some(env),
        ..Job::aws(id, &name)
    }
    .open(out, p);
    checkout(out, p, false);
    setup_python(out, p);
    run(
        out,
        "Locust",
        &[],
        &format!(
            "python -m pip install {}",
            shell_words(std::slice::from_ref(&verify.locust))
        ),
    );
    aws_credentials(out, p, &verify.role_arn, region, id);
    facturactl_step(
        out,
        p,
        &format!("verify --env {env} --artifacts verify-report"),
    );
    let _ = writeln!(out, "      - uses: {}", uses(p, "upload-artifact"));
    let _ = writeln!(out, "        if: ${{{{ !cancelled() }}}}");
    let _ = writeln!(out, "        with:");
    let _ = writeln!(out, "          name: {id}-locust");
    let _ = writeln!(out, "          path: verify-report/");
    let _ = writeln!(out, "          if-no-files-found: ignore");
    let _ = writeln!(out, "          retention-days: 30");
}

/// Day 0 of the branch environment, before its images: `facturactl bootstrap` creates the
/// release store and the registry (idempotent: unchanged stacks are skipped).
fn bootstrap_job(
    out: &mut String,
    p: &Pipeline,
    (env, region): (&str, &str),
    stage: &super::DeployStage,
    id: &str,
    checks: &[String],
) {
    let name = format!("bootstrap ({env})");
    Job {
        id,
        name: &name,
        needs: checks.to_vec(),
        condition: Some(ON_BRANCH),
        // The deploy role's trust is for this GitHub environment's jobs.
        environment: Some(env),
        concurrency: None,
        id_token: true,
        pull_requests: false,
        runner: None,
    }
    .open_as(out, p, (&stage.role_arn, region));
    let args = format!("bootstrap --env {env}");
    facturactl_step(out, p, &args);
}

/// A Lambda service's zip, built from its directory (and its pure-Python requirements),
/// with the artifacts-file entry that names it; no AWS.
fn package_job(
    out: &mut String,
    p: &Pipeline,
    package: &super::Package,
    id: &str,
    checks: &[String],
) {
    let name = format!("package ({})", package.service);
    Job {
        id,
        name: &name,
        needs: checks.to_vec(),
        condition: Some(ON_BRANCH),
        environment: None,
        concurrency: None,
        id_token: false,
        pull_requests: false,
        runner: None,
    }
    .open(out, p);
    checkout(out, p, false);
    setup_python(out, p);
    let env = [
        ("SERVICE", quoted(&package.service)),
        ("CONTEXT", quoted(&package.context)),
    ];
    let script = r#"set -euo pipefail
build="$RUNNER_TEMP/package-$SERVICE"
rm -rf "$build" && mkdir -p "$build" package-artifacts
cp -R "$CONTEXT"/. "$build"/
if [ -f "$CONTEXT/requirements.txt" ]; then
  python -m pip install --quiet --requirement "$CONTEXT/requirements.txt" --target "$build"
fi
find "$build" -name '__pycache__' -type d -prune -exec rm -rf {} +
(cd "$build" && zip -q -r -X "$GITHUB_WORKSPACE/package-artifacts/$SERVICE.zip" .)
jq -n --arg s "$SERVICE" --arg p "package-artifacts/$SERVICE.zip" '{services: {($s): {package: $p}}}' > "package-artifacts/$SERVICE.json""#;
    run(out, "Build the package", &env, script);
    let _ = writeln!(out, "      - uses: {}", uses(p, "upload-artifact"));
    let _ = writeln!(out, "        with:");
    let _ = writeln!(out, "          name: {id}");
    let _ = writeln!(out, "          path: |");
    let _ = writeln!(out, "            package-artifacts/{}.zip", package.service);
    let _ = writeln!(
        out,
        "            package-artifacts/{}.json",
        package.service
    );
    let _ = writeln!(out, "          if-no-files-found: error");
    let _ = writeln!(out, "          retention-days: 7");
}

/// A model's training image (the tasks' architecture), pushed under the tag deploy.toml
/// pins unless the repository already holds it: tags are immutable, and the tag is what
/// the training task definition runs.
fn training_job(
    out: &mut String,
    p: &Pipeline,
    training: &super::TrainingImage,
    (repository, tag): (&str, &str),
    id: &str,
    needs: &[String],
) {
    open_build_job(
        out,
        p,
        id,
        &format!("training image ({})", training.model),
        needs,
    );
    let dockerfile = training
        .dockerfile
        .clone()
        .unwrap_or_else(|| format!("{}/Dockerfile", training.context));
    let env = [
        ("CONTEXT", quoted(&training.context)),
        ("DOCKERFILE", quoted(&dockerfile)),
        ("REGISTRY", quoted(&build_registry(p))),
        ("REPOSITORY", quoted(repository)),
        ("TAG", quoted(tag)),
        ("REGION", quoted(&p.build.region)),
        ("PLATFORM", quoted(super::TASK_PLATFORM)),
    ];
    let script = r#"set -euo pipefail
image="$REGISTRY/$REPOSITORY:$TAG"
if aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" --image-ids imageTag="$TAG" > /dev/null 2>&1; then
  echo "$image is already pushed (tags are immutable): nothing to build"
  exit 0
fi
aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"
docker build --platform "$PLATFORM" --file "$DOCKERFILE" --tag "$image" "$CONTEXT"
docker push "$image""#;
    run(out, "Build and push", &env, script);
}

/// The plan of an environment on a pull request from this repository (a fork's gets no
/// OIDC token), as one comment marked by a hidden tag and updated on each push.
fn plan_job(out: &mut String, p: &Pipeline, plan: &super::PlanStage, region: &str) {
    let env = &plan.environment;
    let id = format!("plan-{env}");
    let name = format!("plan ({env})");
    Job {
        condition: Some(ON_SAME_REPO_PULL_REQUEST),
        pull_requests: true,
        ..Job::aws(&id, &name)
    }
    .open_as(out, p, (&plan.role_arn, region));
    let args = format!("plan --env {env} --output markdown --diff");
    facturactl_step(out, p, &args);
    let _ = writeln!(out, "          stdout: plan.md");
    // A failed plan updates the comment too: reviewers never see a stale green plan.
    run_if(
        out,
        "Post the plan on the pull request",
        Some("${{ !cancelled() }}"),
        &[
            ("GH_TOKEN", "${{ github.token }}".to_string()),
            ("PR", "${{ github.event.pull_request.number }}".to_string()),
            ("MARKER", quoted(&format!("<!-- facturactl plan {env} -->"))),
        ],
        PLAN_COMMENT,
    );
}

const ON_SAME_REPO_PULL_REQUEST: &str = "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository";

/// One comment per environment: found by its marker and edited, or created.
const PLAN_COMMENT: &str = r#"set -euo pipefail
run_url="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"
if [ ! -s plan.md ]; then
  printf '### Plan failed\n\nThe plan did not finish: [the run](%s) says why.\n' "$run_url" > plan.md
fi
body="$(printf '%s\n\n' "$MARKER"; cat plan.md; printf '\n\n<sub>[run](%s)</sub>\n' "$run_url")"
comments="repos/$GITHUB_REPOSITORY/issues/$PR/comments"
id="$(gh api "$comments" --paginate --jq '.[] | select(.body | startswith(env.MARKER)) | .id' | head -n 1)"
if [ -n "$id" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -f body="$body" > /dev/null
else
  gh api --method POST "$comments" -f body="$body" > /dev/null
fi"#;

fn notify_job(out: &mut String, definition: &Definition, needs: Vec<String>) {
    let p = &definition.pipeline;
    let env = &p.notify.environment;
    let region = region_of(definition, env);
    let condition = match p.notify.on {
        NotifyOn::Failure => {
            "always() && github.event_name == 'push' && contains(needs.*.result, 'failure')"
        }
        NotifyOn::Always => "always() && github.event_name == 'push'",
    };
    Job {
        id: "notify",
        name: "notify",
        needs,
        condition: Some(condition),
        // Outside any deployment environment: its role may only publish.
        environment: None,
        concurrency: None,
        id_token: true,
        pull_requests: false,
        runner: None,
    }
    .open(out, p);
    checkout(out, p, false);
    aws_credentials(out, p, &p.notify.role_arn, region, "notify");
    facturactl(
        out,
        p,
        "facturactl notify",
        None,
        &[
            "notify",
            "--env",
            env,
            "--stage",
            "pipeline",
            "--result",
            "${{ contains(needs.*.result, 'failure') && 'failure' || 'success' }}",
        ],
    );
}

fn audit(definition: &Definition, source: &str) -> String {
    let p = &definition.pipeline;
    let Some(audit) = &p.audit else {
        return String::new();
    };
    let mut out = scheduled(p, source, "audit", &audit.schedule, None);
    for (env, role) in &audit.roles {
        let id = format!("audit-{env}");
        aws_job(
            &mut out,
            definition,
            &id,
            &format!("audit ({env})"),
            env,
            role,
        );
        facturactl(
            &mut out,
            p,
            "drift",
            None,
            &["audit", "drift", "--env", env, "--notify"],
        );
        // The alarm audit runs even when drift was found (exit 2).
        facturactl(
            &mut out,
            p,
            "alarms",
            Some("${{ !cancelled() }}"),
            &["audit", "alarms", "--env", env, "--notify"],
        );
    }
    out
}

/// The repository dispatch event a training run's end sends (templates/partials/retraining.tera).
const RUN_ENDED: &str = "training-run-ended";

/// One job per environment: `retrain MODEL --register-pending` for each model it retrains,
/// so what the schedules and drift alarms trained becomes registered versions. Each step
/// runs even when an earlier model's run was refused (exit 3), which fails the job.
fn training(definition: &Definition, source: &str) -> String {
    let p = &definition.pipeline;
    let Some(training) = &p.training else {
        return String::new();
    };
    // And when a run ends: an environment whose retraining says `on_end` announces each
    // run's end as this repository dispatch event.
    let mut out = scheduled(p, source, "training", &training.schedule, Some(RUN_ENDED));
    for (env, role) in &training.roles {
        // Its concurrency group (the job id) keeps registrations of one environment one at
        // a time: two would number the same runs.
        let id = format!("register-{env}");
        let name = format!("register training runs ({env})");
        aws_job(&mut out, definition, &id, &name, env, role);
        let models = definition
            .environments
            .get(env)
            .map(super::retrained_models)
            .unwrap_or_default();
        for (i, model) in models.iter().enumerate() {
            let condition = (i > 0).then_some("${{ !cancelled() }}");
            facturactl(
                &mut out,
                p,
                &format!("register {model}"),
                condition,
                &["retrain", "--env", env, model, "--register-pending"],
            );
        }
    }
    out
}

/// The top of `<name>-<kind>.yml`, a workflow that runs on a cron schedule (and by hand),
/// up to its `jobs:` key.
fn scheduled(
    p: &Pipeline,
    source: &str,
    kind: &str,
    schedule: &str,
    dispatch: Option<&str>,
) -> String {
    let mut out = String::new();
    header(&mut out, source, &format!("{}-{kind}", p.pipeline.name));
    let _ = writeln!(out);
    let _ = writeln!(out, "on:");
    let _ = writeln!(out, "  schedule:");
    let _ = writeln!(out, "    - cron: {}", quoted(schedule));
    let _ = writeln!(out, "  workflow_dispatch:");
    if let Some(event) = dispatch {
        let _ = writeln!(out, "  repository_dispatch:");
        let _ = writeln!(out, "    types: [{event}]");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "permissions: {{}}");
    let _ = writeln!(out);
    let _ = writeln!(out, "jobs:");
    out
}

/// A scheduled job in one environment's account: the checkout and the role's credentials,
/// in a concurrency group of its own id.
fn aws_job(out: &mut String, definition: &Definition, id: &str, name: &str, env: &str, role: &str) {
    let p = &definition.pipeline;
    Job {
        concurrency: Some(id.to_string()),
        ..Job::aws(id, name)
    }
    .open_as(out, p, (role, region_of(definition, env)));
}

/// Whether a script must be a block scalar to stay one YAML string.
fn needs_block(script: &str) -> bool {
    script.contains('\n')
        || script.contains(": ")
        || script.contains(" #")
        || script.starts_with(['\'', '"', '{', '[', '*', '&', '!', '|', '>', '%', '@', '`'])
}
