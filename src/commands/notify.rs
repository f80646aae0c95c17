//! `notify`: tells the configured channels how a pipeline stage ended.

use super::{Session, steps};
use crate::error::{Error, Usage};
use crate::notify::{Delivery, Notice, Verdict};

pub struct Request {
    pub stage: String,
    pub verdict: Verdict,
    pub message: Option<String>,
    pub duration_seconds: u64,
    pub version: Option<String>,
}

pub struct Outcome {
    pub notice: Notice,
    pub notifications: Vec<Delivery>,
    /// `notifications.warning_exit`: an undelivered notice exits 4.
    pub warning_exit: bool,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let stage = request.stage;
    if stage.is_empty()
        || !stage
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(Usage::StageName { stage }.into());
    }
    let mut provenance = steps::provenance(session, &loaded, None);
    if request.version.is_some() {
        provenance.version = request.version;
    }
    let notice = provenance.stage_notice(
        &stage,
        &loaded.config.environment.name,
        request.verdict,
        request.duration_seconds.saturating_mul(1000),
        request.message.as_deref(),
    );
    let aws = session.aws(&loaded.config.environment).await?;
    let notifications = crate::notify::send(&aws, &loaded.config, &notice).await;
    session.warn_undelivered(&notifications);
    Ok(Outcome {
        notice,
        notifications,
        warning_exit: loaded.config.notifications.warning_exit,
    })
}
