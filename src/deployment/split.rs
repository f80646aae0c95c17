//! A service's record entry after a traffic move: its control, and the split while one
//! runs, each side as the release that deployed it recorded it.

use std::time::SystemTime;

use crate::aws::AwsContext;
use crate::config::Config;
use crate::models::ModelPin;
use crate::release::record::{Record, ServiceRecord, SplitRecord};
use crate::release::store::Store;
use crate::services::traffic::{self, Moved, TrafficError};

/// Where the sides of one service's split are looked up.
pub struct Sides<'a> {
    pub aws: &'a AwsContext,
    pub config: &'a Config,
    pub store: &'a Store<'a>,
    pub service: &'a str,
    /// The model a move just put on a new variant (`traffic set --model`): no release
    /// recorded it yet.
    pub new_model: Option<&'a ModelPin>,
}

impl Sides<'_> {
    /// The service's record entry after `moved`, on top of `previous`.
    pub async fn entry_after(
        &self,
        previous: &Record,
        moved: &Moved,
    ) -> Result<ServiceRecord, TrafficError> {
        let recorded = previous.services.get(self.service);
        // After a promotion the control is the variant, as the split recorded it.
        if let Moved::Promoted { variant, .. } = moved
            && let Some(split) = recorded
                .and_then(|c| c.split.as_ref())
                .filter(|split| runs(&split.variant, variant))
        {
            return Ok((*split.variant).clone());
        }
        // The service's history, read once and only when a side is not in `previous`.
        let mut history = None;
        let control = match recorded.filter(|c| runs(c, moved.control())) {
            Some(c) => c.clone(),
            None => self.entry(&mut history, moved.control()).await?,
        };
        Ok(match moved {
            Moved::Set {
                variant, percent, ..
            } => {
                let variant = self.entry(&mut history, variant).await?;
                ServiceRecord {
                    split: Some(SplitRecord::starting(*percent, variant, SystemTime::now())),
                    ..control
                }
            }
            Moved::Promoted { .. } => control,
            Moved::Aborted { .. } => ServiceRecord {
                split: None,
                ..control
            },
        })
    }

    /// The record entry of a side: the newest release of the service that ran it (its
    /// code, package and model), else what AWS says it runs, with the model pin some
    /// release gave the bytes it loads. `history` holds the records once read.
    async fn entry(
        &self,
        history: &mut Option<Vec<Record>>,
        side: &str,
    ) -> Result<ServiceRecord, TrafficError> {
        if history.is_none() {
            *history = Some(self.store.records(Some(100)).await?);
        }
        let records = history.as_deref().unwrap_or_default();
        let released = records
            .iter()
            .rev()
            .filter(|r| r.succeeded())
            .filter_map(|r| r.services.get(self.service))
            .find(|s| runs(s, side));
        if let Some(entry) = released {
            return Ok(ServiceRecord {
                split: None,
                ..entry.clone()
            });
        }
        let live = traffic::live_side(self.aws, self.config, self.service, side).await?;
        let model = self
            .new_model
            .into_iter()
            .chain(
                records
                    .iter()
                    .rev()
                    .flat_map(|r| r.services.values())
                    .filter_map(|s| s.model.as_ref()),
            )
            .find(|pin| !live.model_sha256.is_empty() && pin.sha256 == live.model_sha256)
            .cloned();
        Ok(ServiceRecord {
            runtime: live.runtime,
            digest: live
                .image
                .as_deref()
                .and_then(|i| i.rsplit_once('@'))
                .map(|(_, d)| d.to_string()),
            image: live.image,
            task_definition: live.task_definition,
            base_task_definition: None,
            version: live.version,
            code_sha256: live.code_sha256,
            package: None,
            model,
            split: None,
        })
    }
}

/// Whether a record entry runs `side` (a Lambda version or an ECS task definition ARN).
fn runs(entry: &ServiceRecord, side: &str) -> bool {
    entry.version.as_deref() == Some(side) || entry.task_definition.as_deref() == Some(side)
}
