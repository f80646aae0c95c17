//! `verify`: the environment's current release checked where it runs (smoke, regression,
//! load, `[verify]`), the result written to its record, which `promote` requires.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Session;
use crate::config::Config;
use crate::error::{Error, Usage};
use crate::release::record::{self, Record};
use crate::release::store::{LockInfo, Store};
use crate::release::verification::{Verification, VerificationResult};
use crate::verify::{self, Context, Findings, Options};

pub struct Request {
    /// Write the validator's answers as the new regression baseline (by hand).
    pub update_baseline: bool,
    /// Where Locust's report goes (default `<temp dir>/facturactl-verify/<env>-<trace>`).
    pub artifacts: Option<PathBuf>,
}

pub struct Outcome {
    pub environment: String,
    /// The release verified (its record).
    pub record: String,
    pub verification: Verification,
    pub findings: Findings,
    /// Whether the verification was written to the record (not with `--update-baseline`).
    pub recorded: bool,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    // A baseline is reviewed like code: written by hand, never by a pipeline.
    if request.update_baseline && session.in_ci {
        return Err(Usage::BaselineInCi.into());
    }
    let loaded = session.load_env()?;
    let config = &loaded.config;
    refuse_missing_files(config, &loaded.root, request.update_baseline)?;
    let aws = session.aws(&config.environment).await?;
    let store = Store::new(&aws, config);
    let current = store
        .current()
        .await?
        .ok_or_else(|| Usage::NothingToVerify {
            environment: config.environment.name.clone(),
        })?;
    let ctx = Context {
        aws: &aws,
        config,
        root: &loaded.root,
        http: crate::notify::slack::client(Duration::from_secs(60)),
    };
    let options = Options {
        update_baseline: request.update_baseline,
        // Outside the checkout by default (files left in it would make the tree dirty,
        // which the release gate of the promotion that follows refuses), one folder a run.
        artifacts: request.artifacts.unwrap_or_else(|| {
            let trace = session.trace_id.get(..8).unwrap_or(&session.trace_id);
            std::env::temp_dir()
                .join("facturactl-verify")
                .join(format!("{}-{trace}", config.environment.name))
        }),
    };
    let findings = verify::run(&ctx, &options).await;
    let now = SystemTime::now();
    let verification = Verification {
        at: record::stamps(now).1,
        at_epoch: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        who: session.who(),
        trace_id: session.trace_id.clone(),
        result: VerificationResult::of(&findings.checks),
        checks: findings.checks.clone(),
        services: current.services.clone(),
    };
    // A run that wrote a baseline compared nothing: it verifies nothing.
    if !request.update_baseline {
        write(session, &store, config, &current, &verification).await?;
    }
    Ok(Outcome {
        environment: config.environment.name.clone(),
        record: current.id,
        verification,
        findings,
        recorded: !request.update_baseline,
    })
}

/// The files `[verify]` names, checked before any AWS call.
fn refuse_missing_files(config: &Config, root: &Path, update_baseline: bool) -> Result<(), Error> {
    let verify = &config.verify;
    let mut wanted: Vec<(String, &Path)> = Vec::new();
    for (i, check) in verify.smoke.http.iter().enumerate() {
        if let Some(body) = &check.body {
            wanted.push((format!("verify.smoke.http[{i}].body"), body));
        }
    }
    for (i, check) in verify.smoke.invoke.iter().enumerate() {
        wanted.push((format!("verify.smoke.invoke[{i}].event"), &check.event));
    }
    if let Some(regression) = &verify.regression {
        wanted.push(("verify.regression.samples".into(), &regression.samples));
        if !update_baseline {
            wanted.push(("verify.regression.baseline".into(), &regression.baseline));
        }
    }
    if let Some(load) = &verify.load {
        wanted.push(("verify.load.locustfile".into(), &load.locustfile));
    }
    match wanted
        .into_iter()
        .find(|(_, path)| !root.join(path).exists())
    {
        Some((key, path)) => Err(Usage::VerifyFile {
            key,
            path: path.to_path_buf(),
        }
        .into()),
        None => Ok(()),
    }
}

/// Attaches the verification to the release's record, under the deploy lock (a deploy
/// finishing meanwhile must not have its `current.json` overwritten by an older release).
async fn write(
    session: &Session<'_>,
    store: &Store<'_>,
    config: &Config,
    current: &Record,
    verification: &Verification,
) -> Result<(), Error> {
    let ttl = Duration::from_secs(u64::from(config.release.lock_ttl_seconds));
    let wait = Duration::from_secs(u64::from(config.release.lock_wait_seconds));
    let info = LockInfo::new(&session.who(), &session.trace_id, "verify", ttl);
    let lock = store
        .lock(info, wait)
        .await
        .map_err(|e| super::guarded::lock_error(config, e))?;
    let written = store.put_verification(current, verification).await;
    let released = store.unlock(&lock).await;
    written?;
    released?;
    Ok(())
}
