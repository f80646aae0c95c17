//! Steps that several commands take in the same way: load and check before any AWS call,
//! the release gate, who and what a run is about, and the confirmation of destructive plans.

use std::collections::BTreeSet;

use super::Session;
use crate::aws::AwsContext;
use crate::config::{Config, LoadedConfig, Tier};
use crate::error::{Error, Refusal, Unconfirmed, Usage};
use crate::notify::Provenance;
use crate::policy::{self, Level};
use crate::release::gate::{self, Accepted, GateInput};
use crate::release::record::Record;
use crate::release::store::{Snapshot, Store};
use crate::render::{self, RenderedEnv};

/// Loads, renders, and refuses (exit 3) on blocking policy findings: nothing reaches AWS
/// before the environment is valid.
pub fn load_checked(
    session: &Session<'_>,
    env: &str,
) -> Result<(LoadedConfig, RenderedEnv), Error> {
    let loaded = session.load(env)?;
    let rendered = render_checked(&loaded)?;
    refuse_on_policy(&loaded, &rendered)?;
    Ok((loaded, rendered))
}

/// Renders, then checks the wiring between the config and the templates (inputs against
/// outputs, parameters against the templates' own constraints, tags): what CloudFormation
/// would refuse mid-deploy is a config error now, before any AWS call.
pub fn render_checked(loaded: &LoadedConfig) -> Result<RenderedEnv, Error> {
    let rendered = render::render(loaded)?;
    crate::wiring::check(loaded, &rendered)?;
    Ok(rendered)
}

/// Exit 3 on blocking policy findings.
pub fn refuse_on_policy(loaded: &LoadedConfig, rendered: &RenderedEnv) -> Result<(), Error> {
    let violations: Vec<_> = policy::check(&loaded.config, rendered)
        .findings
        .into_iter()
        .filter(|f| f.level == Level::Error)
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Policy { violations }.into())
    }
}

/// `--stack` names must be stacks of the environment.
pub fn check_stack_names(rendered: &RenderedEnv, names: &[String]) -> Result<(), Error> {
    match names
        .iter()
        .find(|n| !rendered.stacks.iter().any(|s| &s.name == *n))
    {
        None => Ok(()),
        Some(unknown) => Err(Usage::UnknownStack {
            name: unknown.clone(),
            known: rendered.stacks.iter().map(|s| s.name.clone()).collect(),
        }
        .into()),
    }
}

/// The stacks a `--stack` list selects: all when empty.
pub fn only(stacks: &[String]) -> Option<BTreeSet<String>> {
    (!stacks.is_empty()).then(|| stacks.iter().cloned().collect())
}

/// The release gate for this environment (exit 3 on refusal), before any AWS call.
pub fn gate(
    session: &Session<'_>,
    loaded: &LoadedConfig,
    tag: Option<String>,
    commit: Option<String>,
) -> Result<Accepted, Error> {
    let input = GateInput {
        github_sha: session.github_sha.clone(),
        github_tag: session.github_tag.clone(),
        tag,
        commit,
        may_fetch: session.in_ci,
    };
    gate::check(&loaded.config, &loaded.root, &input).map_err(|refusal| {
        Refusal::Gate {
            environment: loaded.config.environment.name.clone(),
            refusal,
        }
        .into()
    })
}

/// Who and what a notice or record is about: the user, the trace id, the commit and tag
/// (what the release gate accepted, else GitHub Actions' variables, else the checkout).
pub fn provenance(
    session: &Session<'_>,
    loaded: &LoadedConfig,
    accepted: Option<&Accepted>,
) -> Provenance {
    let (commit, tag) = known_revision(session, accepted);
    let (commit, version) = revision_of(&loaded.root, commit, tag);
    provenance_with(session, commit, version)
}

/// The commit and tag of `provenance`, found on a blocking thread from now: the git
/// processes run while the run's first requests are in flight, not after them.
pub struct Revision {
    finding: tokio::task::JoinHandle<(Option<String>, Option<String>)>,
    /// What it started from, for a thread that could not finish.
    root: std::path::PathBuf,
    known: (Option<String>, Option<String>),
}

impl Revision {
    pub fn start(
        session: &Session<'_>,
        loaded: &LoadedConfig,
        accepted: Option<&Accepted>,
    ) -> Self {
        let known = known_revision(session, accepted);
        let root = loaded.root.clone();
        let (dir, (commit, tag)) = (root.clone(), known.clone());
        Self {
            finding: tokio::task::spawn_blocking(move || revision_of(&dir, commit, tag)),
            root,
            known,
        }
    }

    /// The provenance, once the account check has said who the caller is.
    pub async fn provenance(self, session: &Session<'_>) -> Provenance {
        let (commit, version) = match self.finding.await {
            Ok(found) => found,
            Err(_) => revision_of(&self.root, self.known.0, self.known.1),
        };
        provenance_with(session, commit, version)
    }
}

/// The commit and tag known without git: the gate's, else GitHub Actions' variables.
fn known_revision(
    session: &Session<'_>,
    accepted: Option<&Accepted>,
) -> (Option<String>, Option<String>) {
    let commit = accepted
        .and_then(|a| a.commit.clone())
        .or_else(|| session.github_sha.clone());
    let tag = accepted
        .and_then(|a| a.tag.clone())
        .or_else(|| session.github_tag.clone());
    (commit, tag)
}

/// The commit (else the checkout's HEAD) and the tag (else one pointing at the commit).
fn revision_of(
    root: &std::path::Path,
    commit: Option<String>,
    tag: Option<String>,
) -> (Option<String>, Option<String>) {
    let repo = crate::git::Repo::new(root);
    let commit = commit.or_else(|| repo.commit_of("HEAD"));
    let version = tag.or_else(|| {
        commit
            .as_deref()
            .and_then(|c| repo.tags_at(c).into_iter().next())
    });
    (commit, version)
}

fn provenance_with(
    session: &Session<'_>,
    commit: Option<String>,
    version: Option<String>,
) -> Provenance {
    Provenance {
        who: session.who(),
        trace_id: session.trace_id.clone(),
        commit,
        version,
        link: session.run_url.clone(),
        skipped_verification: None,
    }
}

/// Before a deploy that would replace or remove resources: on a terminal, show them and ask;
/// without one, refuse in production (exit 3) and go on elsewhere. Only planned when it can
/// matter, so a CI deploy to staging costs no extra call.
pub async fn confirm_destructive(
    session: &Session<'_>,
    aws: &AwsContext,
    loaded: &LoadedConfig,
    rendered: &RenderedEnv,
    stacks: &[String],
) -> Result<(), Error> {
    let interactive = session.console.interactive();
    let production = loaded.config.environment.tier == Tier::Production;
    if !interactive && !production {
        return Ok(());
    }
    let templates = crate::release::template_bucket(aws, &loaded.config, rendered).await?;
    let plan = crate::stacks::plan::plan(
        aws,
        rendered,
        crate::stacks::plan::PlanOptions {
            only: only(stacks).as_ref(),
            ..Default::default()
        },
        &templates,
    )
    .await?;
    confirm_changes(session, production, plan.destructive_changes())
}

/// `confirm_destructive` for replacements and deletions already known (a saved plan's).
pub fn confirm_changes(
    session: &Session<'_>,
    production: bool,
    changes: Vec<String>,
) -> Result<(), Error> {
    let interactive = session.console.interactive();
    if changes.is_empty() || (!interactive && !production) {
        return Ok(());
    }
    if !interactive {
        return Err(Refusal::Destructive { changes }.into());
    }
    session
        .console
        .note(&format!("This deploy would:\n  {}", changes.join("\n  ")));
    if session.console.confirm("Go on?") {
        Ok(())
    } else {
        Err(Refusal::NotConfirmed(Unconfirmed::Deploy).into())
    }
}

/// The account check, and with it the release store's snapshot (the lock's state and the
/// current record: `Store::snapshot`). A snapshot that could not be read is None: the run
/// reads again under the lock, and reports what fails there.
pub async fn aws_and_snapshot(
    session: &Session<'_>,
    config: &Config,
) -> Result<(AwsContext, Option<Snapshot>), Error> {
    let account = config.environment.account_id.as_str();
    let (aws, snapshot) = session
        .aws_with(&config.environment, async |aws| {
            Store::new(aws, config).snapshot(account).await
        })
        .await?;
    Ok((aws, snapshot.ok()))
}

/// Refuses (exit 3) deploying or promoting `requested` where the environment runs a newer
/// semantic version, unless `allowed`.
/// `known` is the current record when already read.
pub async fn refuse_downgrade(
    aws: &AwsContext,
    config: &Config,
    requested: Option<&str>,
    allowed: bool,
    known: Option<Option<&Record>>,
) -> Result<(), Error> {
    let Some(requested) = requested.filter(|_| !allowed) else {
        return Ok(());
    };
    let running = match known {
        Some(current) => crate::release::downgrade_of(current, requested),
        None => crate::release::downgrade_from(aws, config, requested).await?,
    };
    match running {
        Some(running) => Err(Refusal::Downgrade {
            environment: config.environment.name.clone(),
            running,
            requested: requested.to_string(),
        }
        .into()),
        None => Ok(()),
    }
}

/// Runs the checks at the start of `deploy` and `promote` (read-only, before the lock):
/// a blocking finding refuses the run (exit 3); warnings are shown and the run goes on.
/// `known` is the current record when already read.
pub async fn preflight(
    session: &Session<'_>,
    aws: &AwsContext,
    config: &Config,
    known: Option<Option<&Record>>,
) -> Result<(), Error> {
    let checks = crate::preflight::after_account(aws, config, known).await;
    for check in checks
        .iter()
        .filter(|c| c.status == crate::preflight::Status::Warning)
    {
        let title = format!("preflight {} {}", check.check, check.subject);
        session.console.warn(&title, &check.detail);
    }
    let blocking: Vec<crate::preflight::Check> = checks
        .into_iter()
        .filter(|c| c.status == crate::preflight::Status::Blocking)
        .collect();
    if blocking.is_empty() {
        return Ok(());
    }
    Err(Refusal::Preflight {
        environment: config.environment.name.clone(),
        blocking,
    }
    .into())
}

/// The plan of `rendered` with the model parameters a deploy would set (`pins` given, the
/// others as recorded), its templates by URL where they must go so: what `plan`,
/// `deploy --dry-run` and `promote --dry-run` show.
pub async fn plan_pinned(
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
    pins: &std::collections::BTreeMap<String, crate::models::ModelPin>,
    options: crate::stacks::plan::PlanOptions<'_>,
) -> Result<crate::stacks::plan::Plan, Error> {
    let store = Store::new(aws, config);
    let pinned = crate::release::pin_models(&store, config, rendered, pins).await?;
    let templates = crate::release::template_bucket(aws, config, &pinned.rendered).await?;
    Ok(crate::stacks::plan::plan(aws, &pinned.rendered, options, &templates).await?)
}

/// Writes a kept plan to `path` (`plan --save`, `promote --dry-run --save`). A stack the
/// deploy could not execute as planned is refused, and a plan not saved keeps nothing:
/// its change sets are deleted.
pub async fn save_plan(
    aws: &AwsContext,
    config: &Config,
    plan: &crate::stacks::plan::Plan,
    path: &std::path::Path,
    promotion: Option<crate::stacks::saved::PlannedPromotion>,
) -> Result<(), Error> {
    use crate::stacks::saved::{self, SavedPlan};
    let stacks = match plan.saved() {
        Ok(stacks) => stacks,
        Err(unsavable) => {
            saved::discard(aws, &plan.kept()).await;
            return Err(Refusal::PlanUnsavable {
                environment: config.environment.name.clone(),
                stack: unsavable.stack,
                why: unsavable.why,
            }
            .into());
        }
    };
    let saved = SavedPlan {
        format: saved::FORMAT,
        environment: config.environment.name.clone(),
        account_id: config.environment.account_id.clone(),
        region: aws.region.clone(),
        created_at: crate::logging::rfc3339(std::time::SystemTime::now()),
        promotion,
        stacks,
    };
    if let Err(e) = saved.write(path) {
        saved::discard(aws, &saved.stacks).await;
        return Err(Usage::PlanNotWritten {
            path: path.to_path_buf(),
            problem: e.to_string(),
        }
        .into());
    }
    Ok(())
}

/// A plan file `plan --save` (or, with `promotion`, `promote --dry-run --save`) wrote,
/// read before any AWS call: anything else is refused with what is wrong.
pub fn read_plan(
    path: &std::path::Path,
    promotion: bool,
) -> Result<crate::stacks::saved::SavedPlan, Error> {
    let refused = |problem: String| Usage::PlanFile {
        path: path.to_path_buf(),
        problem,
    };
    let plan = crate::stacks::saved::SavedPlan::read(path).map_err(refused)?;
    match (&plan.promotion, promotion) {
        (Some(p), false) => Err(refused(format!(
            "it is the plan of a promotion from `{}`: apply it with `promote --plan`",
            p.from
        ))
        .into()),
        (None, true) => Err(refused(
            "it is a deploy's plan (`plan --save`): apply it with `deploy --plan`".into(),
        )
        .into()),
        _ => Ok(plan),
    }
}

/// Refuses (exit 3, nothing changed) a saved plan that no longer holds: the stacks, the
/// templates and parameters the deploy would send (models pinned as the deploy will pin
/// them), and the change sets, against the plan.
pub async fn check_plan(
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
    models: &std::collections::BTreeMap<String, crate::models::ModelPin>,
    saved: &crate::stacks::saved::SavedPlan,
) -> Result<Vec<String>, Error> {
    use crate::stacks::saved::CheckError;
    let store = crate::release::store::Store::new(aws, config);
    let pinned = crate::release::pin_models(&store, config, rendered, models).await?;
    match saved
        .check(aws, &config.environment.account_id, &pinned.rendered)
        .await
    {
        Ok(destructive) => Ok(destructive),
        Err(CheckError::Moved(moved)) => Err(Refusal::PlanMoved {
            environment: config.environment.name.clone(),
            moved,
        }
        .into()),
        Err(CheckError::Aws(e)) => Err(e.into()),
    }
}
