//! The platform's life across two accounts, rehearsed on the strict emulator: staging and
//! production each in their own account (one access key each, the cross-account rules on),
//! from empty accounts, playing the committed `platform.yml`'s jobs in their `needs:` order.
//! A job order that cannot work on AWS (an image pushed before its repository exists, a
//! promotion before the target's registry accepts replicas) fails here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::rollouts::{push_image, service};
use crate::support::emulator::Account;
use crate::support::{Project, repo_root, run_json_within};

/// The jobs of a workflow in an order their `needs:` allow (file order among the ready).
fn job_order(workflow: &str) -> Vec<(String, Value)> {
    let parsed: Value = yaml_serde::from_str(workflow).expect("the workflow is YAML");
    let jobs = parsed["jobs"].as_object().expect("jobs").clone();
    let needs = |job: &Value| -> BTreeSet<String> {
        match &job["needs"] {
            Value::String(one) => [one.clone()].into(),
            Value::Array(many) => many
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
            _ => BTreeSet::new(),
        }
    };
    let mut done: Vec<(String, Value)> = Vec::new();
    let mut left: Vec<(String, Value)> = jobs.into_iter().collect();
    while !left.is_empty() {
        let names: BTreeSet<String> = done.iter().map(|(n, _)| n.clone()).collect();
        let ready = left
            .iter()
            .position(|(_, job)| needs(job).is_subset(&names))
            .unwrap_or_else(|| panic!("a `needs:` cycle among {left:?}"));
        done.push(left.remove(ready));
    }
    done
}

/// Whether a job runs on this event (`push` of a branch or of a tag), by its `if:`.
fn runs_on(job: &Value, ref_type: &str) -> bool {
    let condition = job["if"].as_str().unwrap_or_default();
    if condition.contains("pull_request") {
        return false;
    }
    if condition.contains("&& contains(needs.*.result, 'failure')") {
        return false; // notify: only after a failure
    }
    !condition.contains("github.ref_type ==")
        || condition.contains(&format!("github.ref_type == '{ref_type}'"))
}

/// The `args:` of each facturactl step of a job, in order.
fn facturactl_steps(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["uses"] == "./")
        // The action takes one argument per line: the command line they make.
        .filter_map(|s| s["with"]["args"].as_str())
        .map(|args| args.lines().collect::<Vec<_>>().join(" "))
        .collect()
}

struct Life {
    project: Project,
    staging: Account,
    production: Account,
    /// The ML stack and the scoring service are on.
    models: bool,
}

impl Life {
    async fn new() -> Self {
        Self::with(false).await
    }

    /// `models`: the ML stack and the scoring service on in both environments.
    async fn with(models: bool) -> Self {
        let (staging, production) = (Account::new(), Account::new());
        let project = Project::copy();
        for (env, account) in [("staging", &staging), ("production", &production)] {
            account.seed_platform_secrets().await;
            let file = format!("environments/{env}.yaml");
            let text = project
                .read(&file)
                .replace("210987654321", &staging.account_id)
                .replace("345678901234", &production.account_id);
            project.write(&file, &text);
            project.use_certificate(env, account).await;
        }
        // Production's file names staging's account (SourceAccountId) and staging's
        // `promoted_to` reads production's: both were rewritten above. Left out: the
        // database (moto cannot create its parameter group outside local), and the ML stack
        // unless the rehearsal is about models.
        if models {
            project.with_scoring_everywhere();
        } else {
            project.without_ml();
        }
        project.without_database();
        // The validator's canary waits 5 and 10 minutes a step; rollout strategies have
        // their own tests (rollouts.rs): here every release goes at once.
        project.replace(
            "environments/staging.yaml",
            "services:\n",
            "services:\n  validator:\n    lambda:\n      rollout: { strategy: all-at-once }\n",
        );
        project.replace(
            "environments/production.yaml",
            "      rollout:\n        strategy: canary\n        step_percent: 10\n        step_interval_seconds: 600\n",
            "      rollout: { strategy: all-at-once }\n",
        );
        // Staging's verification (the pipeline's verify job) requests the harness's entry
        // point of staging's account: its backend and scoring, its functions.
        project.verify_on_harness("staging", &staging);
        // The local environment is not played; its account is settled now, so that no run
        // rewrites a committed file.
        project.use_account(&staging);
        Self {
            project,
            staging,
            production,
            models,
        }
    }

    /// Day 0 of production, by hand once (README "Day 0"): its registry accepts staging's
    /// replicas before staging pushes anything.
    fn bootstrap_production(&self) {
        let (code, _, stderr) = self.facturactl("bootstrap --env production");
        assert_eq!(code, Some(0), "{stderr}");
    }

    /// Release v1.0.0 with a trained model: Day 0 of production, the push to main through
    /// the pipeline, then the model registered and deployed in staging.
    async fn release_with_a_model(&self) {
        self.project
            .write("input.json", crate::models::SCORING_INPUT);
        self.project.write("m1.bin", "model one");
        self.project.git_release(Some("v1.0.0"));
        self.bootstrap_production();
        // The scoring function is deployed before any model: staging's verification asks it
        // to predict and fails, which is why a model is deployed before a release tag.
        let failed = self
            .try_play("branch", "one")
            .await
            .expect_err("no model yet");
        assert_eq!(failed.job, "verify-staging", "{failed}");
        assert!(failed.stderr.contains("scoring-predict"), "{failed}");
        self.deploy_model_in_staging();
    }

    /// The ML engineer's steps in staging: register the trained model (`m1.bin`, its
    /// input `input.json`), deploy it, approve it for production.
    fn deploy_model_in_staging(&self) {
        for args in [
            "model register fraud-scoring --file m1.bin --input input.json --env staging",
            "deploy --env staging --model scoring=1 --yes",
            "model approve fraud-scoring 1 --env staging",
        ] {
            let (code, report, stderr) = self.facturactl(args);
            assert_eq!(code, Some(0), "{args}\n{stderr}\n{report}");
        }
    }

    fn account(&self, env: &str) -> &Account {
        if env == "production" {
            &self.production
        } else {
            &self.staging
        }
    }

    fn facturactl(&self, args: &str) -> (Option<i32>, Value, String) {
        let words: Vec<&str> = args.split_whitespace().collect();
        let env = words
            .windows(2)
            .find(|w| w[0] == "--env" || w[0] == "--to")
            .map_or("staging", |w| w[1]);
        run_json_within(
            &self.project,
            self.account(env),
            &words,
            std::time::Duration::from_secs(150),
        )
    }

    /// Plays the committed workflow's jobs for a push of `ref_type`; the artifacts file is
    /// what the image and package jobs wrote. Returns each facturactl step's JSON.
    async fn play(&self, ref_type: &str, label: &str) -> Vec<(String, Value)> {
        match self.try_play(ref_type, label).await {
            Ok(reports) => reports,
            Err(failed) => panic!("{failed}"),
        }
    }

    /// `play`, stopping at the first facturactl step that fails: its job, arguments, exit
    /// code and stderr.
    async fn try_play(&self, ref_type: &str, label: &str) -> Result<Vec<(String, Value)>, Failed> {
        let workflow = std::fs::read_to_string(repo_root().join(".github/workflows/platform.yml"))
            .expect("the committed workflow");
        // Off unless the rehearsal runs the ML stack.
        let enabled = |service: &str| self.models || service != "scoring";
        let mut artifacts = serde_json::Map::new();
        let mut reports = Vec::new();
        // The runner's temporary folder, outside the checkout. One folder serves every job
        // here; `plan/` (where a deploy job downloads the plan job's artifact) is itself.
        let runner_temp = tempfile::tempdir().expect("runner temp");
        std::os::unix::fs::symlink(runner_temp.path(), runner_temp.path().join("plan"))
            .expect("plan/");
        let temp = runner_temp.path().display().to_string();
        for (id, job) in job_order(&workflow) {
            if !runs_on(&job, ref_type) {
                continue;
            }
            if let Some(name) = id.strip_prefix("image-") {
                let repository = match name.strip_suffix("-training") {
                    // The training job's own repository, under the tag deploy.toml pins.
                    Some(_) if self.models => "facturascan/fraud-training".to_string(),
                    Some(_) => continue, // the model's service is off here
                    None => format!("facturascan/{name}"),
                };
                if name.ends_with("-training") {
                    push_image(&self.staging, &repository, "1.0.0", "c3").await;
                    continue;
                }
                // A layer per release (hex), so each release's image has its own digest.
                let layer = match label {
                    "one" => "a1",
                    "two" => "b2",
                    _ => "d4",
                };
                let digest = push_image(&self.staging, &repository, label, layer).await;
                let image = format!(
                    "{}.dkr.ecr.eu-west-1.amazonaws.com/{repository}@{digest}",
                    self.staging.account_id
                );
                artifacts.insert(name.into(), serde_json::json!({ "image": image }));
            } else if let Some(name) = id.strip_prefix("package-") {
                if enabled(name) {
                    // The reference functions: the verify job invokes them and compares
                    // the validator's answers with the committed baseline.
                    let zip = self.project.reference_package(name, label);
                    artifacts.insert(name.into(), serde_json::json!({ "package": zip }));
                }
            } else {
                if !artifacts.is_empty() {
                    let file = serde_json::json!({ "services": artifacts });
                    self.project.write("artifacts.json", &file.to_string());
                    // What the jobs built is not part of the release (a dirty tree is
                    // refused by the gate).
                    // Nor is the verify job's report (its own job's checkout on GitHub).
                    self.project
                        .write(".git/info/exclude", "artifacts.json\nverify-report/\n");
                }
                for args in facturactl_steps(&job) {
                    let args = args.replace("${{runner.temp}}", &temp);
                    let (code, report, stderr) = self.facturactl(&args);
                    if code != Some(0) {
                        return Err(Failed {
                            job: id,
                            args,
                            code,
                            stderr,
                        });
                    }
                    reports.push((args, report));
                }
            }
        }
        Ok(reports)
    }
}

/// A pipeline step that failed.
#[derive(Debug)]
struct Failed {
    job: String,
    args: String,
    code: Option<i32>,
    stderr: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "job {}: facturactl {} exited {:?}\n{}",
            self.job, self.args, self.code, self.stderr
        )
    }
}

/// The cpu of the task definition an ECS service runs.
async fn task_cpu(account: &Account, cluster: &str, service: &str) -> String {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let services = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .expect("describe services");
    let task = services.services()[0]
        .task_definition()
        .expect("a task definition")
        .to_string();
    let described = ecs
        .describe_task_definition()
        .task_definition(task)
        .send()
        .await
        .expect("describe the task definition");
    described
        .task_definition()
        .and_then(|t| t.cpu())
        .unwrap_or_default()
        .to_string()
}

fn by_command<'a>(reports: &'a [(String, Value)], prefix: &str) -> &'a Value {
    &reports
        .iter()
        .find(|(args, _)| args.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` step ran: {reports:?}"))
        .1
}

async fn production_digest(life: &Life, repository: &str) -> Vec<String> {
    let ecr = aws_sdk_ecr::Client::new(&life.production.sdk_config(3).await);
    let found = ecr
        .describe_images()
        .repository_name(repository)
        .send()
        .await
        .expect("production's own repository");
    found
        .image_details()
        .iter()
        .filter_map(|d| d.image_digest().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn from_two_empty_accounts_to_production_and_back_through_the_generated_pipeline() {
    let life = Life::new().await;
    life.project.git_release(Some("v1.0.0"));
    life.bootstrap_production();

    // A push to main: bootstrap, images, packages, deploy to staging.
    let staged = life.play("branch", "one").await;
    let deployed = by_command(&staged, "deploy --env staging");
    let ocr = service(deployed, "ocr")["artifact"]
        .as_str()
        .expect("a digest")
        .to_string();
    // Replication kept the digest in production's own registry.
    let log: Value = reqwest::get(format!("{}/__harness/replications", life.staging.endpoint))
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    assert!(
        production_digest(&life, "facturascan/ocr")
            .await
            .contains(&ocr),
        "{ocr} {:?} {log}",
        production_digest(&life, "facturascan/ocr").await
    );

    // Staging's release store: TLS only, production's account may read, old versions go.
    let s3 = life.staging.s3().await;
    let bucket = format!("facturascan-staging-releases-{}", life.staging.account_id);
    let policy = s3
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .expect("policy");
    let policy = policy.policy().unwrap_or_default();
    assert!(
        policy.contains("DenyInsecureTransport")
            && policy.contains(&format!("arn:aws:iam::{}:root", life.production.account_id)),
        "{policy}"
    );
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .expect("lifecycle");
    assert_eq!(
        lifecycle.rules()[0]
            .noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(90)
    );

    // The release tag: production bootstraps (a no-op) and promotes across accounts.
    let released = life.play("tag", "one").await;
    let promoted = by_command(&released, "promote --from staging --to production --plan");
    assert_eq!(promoted["operation"], "promote");
    assert_eq!(service(promoted, "ocr")["artifact"], ocr.as_str());
    assert_eq!(
        service(promoted, "parser")["artifact"],
        service(deployed, "parser")["artifact"]
    );

    // A second release, through staging to production.
    life.project.write("release-two.txt", "two");
    life.project.git(&["add", "release-two.txt"]);
    life.project.git(&["commit", "--quiet", "-m", "two"]);
    life.project.git(&["tag", "-a", "v1.1.0", "-m", "1.1.0"]);
    let staged = life.play("branch", "two").await;
    let second = service(by_command(&staged, "deploy --env staging"), "ocr")["artifact"].clone();
    assert_ne!(second, Value::String(ocr.clone()));
    let released = life.play("tag", "two").await;
    assert_eq!(
        service(
            by_command(&released, "promote --from staging --to production --plan"),
            "ocr"
        )["artifact"],
        second
    );

    // A cpu change in deploy.toml (staging takes it; production keeps its own override),
    // through the pipeline.
    life.project.replace(
        "deploy.toml",
        "repository = \"facturascan/ocr\"\ncpu = 1024\nmemory = 2048\n",
        "repository = \"facturascan/ocr\"\ncpu = 2048\nmemory = 4096\n",
    );
    life.project
        .git(&["commit", "--quiet", "-am", "ocr: more cpu"]);
    life.project.git(&["tag", "-a", "v1.2.0", "-m", "1.2.0"]);
    life.play("branch", "three").await;
    assert_eq!(
        task_cpu(&life.staging, "facturascan-staging", "ocr").await,
        "2048"
    );
    let released = life.play("tag", "three").await;
    assert_eq!(
        by_command(&released, "promote --from staging --to production --plan")["operation"],
        "promote"
    );

    // Production rolls back to the release before (two), in its own account.
    let (code, rolled, stderr) = life.facturactl("rollback --env production --yes");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(service(&rolled, "ocr")["artifact"], second);

    // Staging goes; production stays.
    let (code, _, stderr) = life.facturactl("destroy --env staging --yes");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, status, _) = life.facturactl("status --env production");
    assert_eq!(code, Some(0));
    assert_eq!(status["current"]["action"], "rollback");
}

#[tokio::test]
async fn without_the_grant_the_promotion_fails_before_any_change_naming_it() {
    let life = Life::new().await;
    // Staging names no environment promoted from it: its release store grants nothing.
    life.project.replace(
        "environments/staging.yaml",
        "  promoted_to: production\n",
        "",
    );
    life.project.git_release(Some("v1.0.0"));
    life.bootstrap_production();
    life.play("branch", "one").await;
    let failed = life.try_play("tag", "one").await.expect_err("no grant");
    // The promotion's plan reads the source first: it fails there, before the approval.
    assert_eq!(failed.job, "plan-production-promotion");
    assert!(failed.args.starts_with("promote"), "{failed}");
    assert_eq!(failed.code, Some(3), "{failed}");
    let stderr = &failed.stderr;
    assert!(
        stderr.contains("`production` may not read what `staging` promotes")
            && stderr.contains(&format!("arn:aws:iam::{}:root", life.production.account_id))
            && stderr.contains("facturascan-staging-releases-")
            && stderr.contains("s3:ListBucket")
            && stderr.contains("set `promoted_to: production`"),
        "{stderr}"
    );
    // Nothing changed in production: no record, no lock.
    let (_, status, _) = life.facturactl("status --env production");
    assert_eq!(status["current"], Value::Null, "{status}");
}

#[test]
fn every_job_that_pushes_runs_after_the_job_that_creates_its_repository() {
    let workflow = std::fs::read_to_string(repo_root().join(".github/workflows/platform.yml"))
        .expect("the committed workflow");
    let order: Vec<String> = job_order(&workflow).into_iter().map(|(id, _)| id).collect();
    let at = |id: &str| order.iter().position(|j| j == id);
    let parsed: Value = yaml_serde::from_str(&workflow).expect("YAML");
    let mut checked = BTreeMap::new();
    for (id, job) in parsed["jobs"].as_object().expect("jobs") {
        let pushes = job["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["run"].as_str().is_some_and(|r| r.contains("docker push")));
        if pushes {
            let needs: Vec<&str> = job["needs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                needs.contains(&"bootstrap-staging"),
                "{id} pushes without needing bootstrap-staging: {needs:?}"
            );
            assert!(at("bootstrap-staging") < at(id));
            checked.insert(id.clone(), true);
        }
    }
    assert!(checked.len() >= 3, "image jobs found: {checked:?}");
    // The promotion's plan is made and saved before the protected job, which applies
    // exactly it (its target bootstrapped on day 0, by hand: docs/guide/day-0.md).
    assert_eq!(
        facturactl_steps(&parsed["jobs"]["plan-production-promotion"]),
        [
            "promote --from staging --to production --dry-run --save ${{runner.temp}}/production.plan.json"
        ]
    );
    assert_eq!(
        facturactl_steps(&parsed["jobs"]["deploy-production"]),
        [
            "promote --from staging --to production --plan ${{runner.temp}}/plan/production.plan.json --yes"
        ]
    );
    assert!(
        parsed["jobs"]["plan-production-promotion"]["environment"].is_null(),
        "the plan runs before the approval"
    );
    // The staging deploy waits for every image and package.
    let deploy = &parsed["jobs"]["deploy-staging"]["needs"];
    for job in order
        .iter()
        .filter(|j| j.starts_with("image-") || j.starts_with("package-"))
    {
        assert!(
            deploy
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x == job.as_str())),
            "deploy-staging does not wait for {job}"
        );
    }
}

#[tokio::test]
async fn images_pushed_before_the_target_accepted_replicas_are_refused_with_the_fix() {
    let life = Life::new().await;
    life.project.git_release(Some("v1.0.0"));
    // Day 0 skipped for production: staging pushes while production's registry does not
    // exist, so ECR replicates nothing.
    life.play("branch", "one").await;
    let failed = life
        .try_play("tag", "one")
        .await
        .expect_err("nothing replicated");
    // The promotion's plan reads the source first: it fails there, before the approval.
    assert_eq!(failed.job, "plan-production-promotion");
    assert!(failed.args.starts_with("promote"), "{failed}");
    assert_eq!(failed.code, Some(3), "{failed}");
    assert!(
        failed.stderr.contains("lacks images to promote")
            && failed.stderr.contains("ocr")
            && failed.stderr.contains("skopeo copy"),
        "{failed}"
    );
    // Day 0 of production, done late (by hand, docs/guide/day-0.md): its registry
    // exists, the next push replicates, and the next release goes through.
    life.bootstrap_production();
    life.project.write("release-two.txt", "two");
    life.project.git(&["add", "release-two.txt"]);
    life.project.git(&["commit", "--quiet", "-m", "two"]);
    life.project.git(&["tag", "-a", "v1.1.0", "-m", "1.1.0"]);
    life.play("branch", "two").await;
    let released = life.play("tag", "two").await;
    assert_eq!(
        by_command(&released, "promote --from staging --to production --plan")["operation"],
        "promote"
    );
    let (_, status, _) = life.facturactl("status --env production");
    assert_eq!(status["current"]["action"], "promote");
}

#[tokio::test]
async fn a_model_is_promoted_across_accounts_through_the_grants() {
    let life = Life::with(true).await;
    life.release_with_a_model().await;
    // The release tag: production reads staging's models bucket (encrypted with staging's
    // key) with its own credentials, through the storage and security stacks' grants.
    life.play("tag", "one").await;
    let (_, status, _) = life.facturactl("status --env production");
    let pin = &status["current"]["services"]["scoring"]["model"];
    let sha = crate::support::sha256_hex(b"model one");
    assert_eq!(pin["sha256"], sha.as_str(), "{status}");
    let production_bucket = format!(
        "s3://facturascan-production-models-{}/",
        life.production.account_id
    );
    assert!(
        pin["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with(&production_bucket)),
        "{pin}"
    );
}

#[tokio::test]
async fn without_the_key_grant_a_model_promotion_fails_naming_the_key() {
    let life = Life::with(true).await;
    // Staging's key policy without the statement that lets production decrypt through S3.
    let security = life.project.read("templates/stacks/security.yaml.tera");
    let start = security
        .find("{%- if promotion %}")
        .expect("the promotion statement");
    let end = security[start..].find("{%- endif %}").expect("its end") + start;
    let without = format!(
        "{}{}",
        &security[..start],
        &security[end + "{%- endif %}".len()..]
    );
    life.project
        .write("templates/stacks/security.yaml.tera", &without);
    life.release_with_a_model().await;
    let failed = life.try_play("tag", "one").await.expect_err("no key grant");
    // The plan reads the model the promotion carries: refused there, before the approval.
    assert_eq!(failed.job, "plan-production-promotion");
    assert!(
        failed.stderr.contains("kms:Decrypt")
            && failed
                .stderr
                .contains(&format!(":{}:key/", life.staging.account_id)),
        "{failed}"
    );
    let (_, status, _) = life.facturactl("status --env production");
    assert_eq!(status["current"], Value::Null, "nothing changed: {status}");
}
