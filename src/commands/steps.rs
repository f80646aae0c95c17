//! Steps that several commands take in the same way: load and check before any AWS call,
//! the release gate, who and what a run is about, and the confirmation of destructive plans.

use std::collections::{BTreeMap, BTreeSet};

use super::Session;
use crate::aws::AwsContext;
use crate::config::{Config, LoadedConfig, Tier};
use crate::error::{Error, Refusal, Unconfirmed, Usage};
use crate::notify::Provenance;
use crate::policy::{self, Level};
use crate::release::gate::{self, Accepted, GateInput};
use crate::release::record::Record;
use crate::render::{self, RenderedEnv};
use crate::stacks::plan::Plan;
use crate::stacks::template::TemplateBucket;

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

/// The template bucket, created first when a template must go by URL (a plan on a fresh
/// account runs before any deploy made the release bucket).
pub async fn prepare_templates(
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
) -> Result<TemplateBucket, Error> {
    if rendered
        .stacks
        .iter()
        .any(crate::stacks::template::needs_url)
    {
        crate::release::store::Store::new(aws, config)
            .ensure()
            .await?;
    }
    Ok(template_bucket(config))
}

/// Where an environment's templates too large to send inline are kept: its release bucket.
pub fn template_bucket(config: &Config) -> TemplateBucket {
    TemplateBucket {
        name: config.records_bucket(),
        region: config.environment.region.clone(),
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
    let repo = crate::git::Repo::new(&loaded.root);
    let commit = accepted
        .and_then(|a| a.commit.clone())
        .or_else(|| session.github_sha.clone())
        .or_else(|| repo.commit_of("HEAD"));
    let version = accepted
        .and_then(|a| a.tag.clone())
        .or_else(|| session.github_tag.clone())
        .or_else(|| {
            commit
                .as_deref()
                .and_then(|c| repo.tags_at(c).into_iter().next())
        });
    Provenance {
        who: session.who(),
        trace_id: session.trace_id.clone(),
        commit,
        version,
        link: session.run_url.clone(),
    }
}

/// The replacements and deletions a plan would make, one line each.
pub fn destructive_changes(plan: &Plan) -> Vec<String> {
    plan.stacks
        .iter()
        .flat_map(|s| {
            s.resources
                .iter()
                .filter(|r| {
                    r.action == "Remove"
                        || matches!(r.replacement.as_deref(), Some("True" | "Conditional"))
                })
                .map(move |r| {
                    let what = if r.action == "Remove" {
                        "delete"
                    } else {
                        "replace"
                    };
                    format!("{what} {}/{} ({})", s.stack, r.logical_id, r.resource_type)
                })
        })
        .collect()
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
    let templates = prepare_templates(aws, &loaded.config, rendered).await?;
    let plan =
        crate::stacks::plan::plan(aws, rendered, only(stacks).as_ref(), false, &templates).await?;
    let changes = destructive_changes(&plan);
    if changes.is_empty() {
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

/// Refuses (exit 3) deploying or promoting `requested` where the environment runs a newer
/// semantic version, unless `allowed`. Reads the current record only when there is a
/// version to compare.
pub async fn refuse_downgrade(
    aws: &crate::aws::AwsContext,
    config: &crate::config::Config,
    requested: Option<&str>,
    allowed: bool,
) -> Result<(), Error> {
    let Some(requested) = requested.filter(|_| !allowed) else {
        return Ok(());
    };
    let current = crate::release::store::Store::new(aws, config)
        .current()
        .await?;
    let Some(running) = current.and_then(|r| r.tag) else {
        return Ok(());
    };
    if crate::release::version::is_downgrade(&running, requested) == Some(true) {
        return Err(Refusal::Downgrade {
            environment: config.environment.name.clone(),
            running,
            requested: requested.to_string(),
        }
        .into());
    }
    Ok(())
}

/// The rendered templates with the model parameters set as a deploy sets them (what
/// [`pin_models`] returns).
pub struct Pinned<'r> {
    pub rendered: std::borrow::Cow<'r, RenderedEnv>,
    /// The record the pins were read from; `None` when no service declares a model (then
    /// nothing was read).
    pub current: Option<Option<crate::release::record::Record>>,
    /// The model each service runs once deployed.
    pub models: BTreeMap<String, crate::models::ModelPin>,
}

/// The model parameters as a deploy sets them: the models given (`new`), else those the
/// record says run. Without this a plan would show every deployed model going back to the
/// template's empty default. Reads the record only when a service declares a model.
pub async fn pin_models<'r>(
    store: &crate::release::store::Store<'_>,
    config: &Config,
    rendered: &'r RenderedEnv,
    new: &BTreeMap<String, crate::models::ModelPin>,
) -> Result<Pinned<'r>, Error> {
    if !config
        .services
        .values()
        .any(|s| s.enabled && s.model.is_some())
    {
        return Ok(Pinned {
            rendered: std::borrow::Cow::Borrowed(rendered),
            current: None,
            models: BTreeMap::new(),
        });
    }
    let current = store.current().await?;
    let mut pinned = rendered.clone();
    let running = current.as_ref().map(Record::model_pins).unwrap_or_default();
    let models = crate::models::pin_parameters(&mut pinned, config, new, &running);
    Ok(Pinned {
        rendered: std::borrow::Cow::Owned(pinned),
        current: Some(current),
        models,
    })
}
