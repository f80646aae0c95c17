//! `traffic`: the A/B split of a Lambda service (alias weights) or an ECS service (target
//! group weights) with each side's figures; `set`, `promote` and `abort` change it first.
//!
//! A change is a release operation: it runs under the deploy lock, writes a record (the
//! service's control, and the split with its variant and start while one runs), and is
//! told to the channels like a deploy. Figures are read from the split's recorded start.

use std::time::Duration;

use super::Session;
use super::guarded::{self, Guard, Outcome};
use crate::aws::{AwsContext, RetryTotals};
use crate::config::Config;
use crate::error::{Error, Usage};
use crate::models::{self, ModelError, ModelRef, ModelVersion};
use crate::notify::{Delivery, Notice, Provenance, Verdict as Ended};
use crate::release::record::{Operation, Record, TrafficChange};
use crate::release::store::Store;
use crate::services::evaluation::{self, Evaluation, Verdict};
use crate::services::traffic::{self, ModelVariables, TrafficError, TrafficReport};

/// What to change before showing the split.
pub enum Change {
    Set {
        variant: Variant,
        percent: u32,
    },
    Promote,
    Abort,
    /// The verdict against the guard rails; with `apply`, carried out.
    Evaluate {
        apply: bool,
    },
}

/// What the variant of `traffic set` runs.
pub enum Variant {
    /// A published Lambda version or an ECS revision, as given.
    Version(String),
    /// A registered model version or alias, run on the control's code (a new Lambda
    /// version or ECS revision is made for it).
    Model(String),
}

pub struct Request {
    pub service: Option<String>,
    pub change: Option<Change>,
    pub window_minutes: u32,
    /// `evaluate --apply --watch`: look again after this long until the experiment ends
    /// (promoted at its last step, aborted, or a sample ratio mismatch a person must see).
    pub watch: Option<Duration>,
    /// Move production's traffic by hand without asking.
    pub yes: bool,
}

/// A move to make under the lock.
enum Move {
    Set {
        variant: String,
        percent: u32,
    },
    /// A variant made for this model first, then set.
    SetModel {
        model: Box<ModelVersion>,
        percent: u32,
    },
    Promote,
    Abort,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<TrafficReport, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    let service = request.service.ok_or(Usage::TrafficNeedsService)?;
    traffic::target_of(config, &service)?;
    // A hand move of production's traffic is confirmed (`evaluate --apply` acts on the
    // guard rails' verdict, and is not asked).
    let by_hand = matches!(
        request.change,
        Some(Change::Set { .. } | Change::Promote | Change::Abort)
    );
    if by_hand
        && config.environment.tier == crate::config::Tier::Production
        && !request.yes
        && !session.console.confirm(&format!(
            "Move the traffic of `{service}` in `{}`?",
            config.environment.name
        ))
    {
        return Err(
            crate::error::Refusal::NotConfirmed(crate::error::Unconfirmed::Traffic { service })
                .into(),
        );
    }
    let aws = session.aws(&config.environment).await?;
    let store = Store::new(&aws, config);
    let look = Look {
        aws: &aws,
        config,
        store: &store,
        service: &service,
        window_minutes: request.window_minutes,
    };
    match (request.change, request.watch) {
        (Some(Change::Evaluate { apply: true }), Some(every)) => watch(session, &look, every).await,
        (change, _) => once(session, &look, change).await,
    }
}

/// `evaluate --apply` again and again, `every` apart, until the experiment ends or Ctrl-C
/// or SIGTERM stops the wait; the last evaluation is the report (and its exit code). Each
/// look that changes the split is recorded, locked and told like any traffic change.
async fn watch(
    session: &Session<'_>,
    look: &Look<'_>,
    every: Duration,
) -> Result<TrafficReport, Error> {
    let mut looks = 0;
    loop {
        let report = once(session, look, Some(Change::Evaluate { apply: true })).await?;
        looks += 1;
        let verdict = report.evaluation.as_ref().map(|e| e.verdict);
        let running = report.changed.is_none() || report.variant.is_some();
        let ended = matches!(verdict, Some(Verdict::SampleRatioMismatch)) || !running;
        if ended {
            return Ok(report);
        }
        tracing::info!(
            service = look.service,
            looks,
            "{}; next look in {} s",
            report.changed.as_deref().unwrap_or("keep collecting"),
            every.as_secs()
        );
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = guarded::interrupted() => return Ok(report),
        }
    }
}

/// What a look decided, before any lock.
enum Plan {
    /// A move to make (with the evaluation that decided it, if one did).
    Move(Move, Option<Evaluation>),
    /// Nothing to carry out: no lock, no record, no notice.
    Shown(Box<TrafficReport>),
}

/// What `change` asks for, read and checked before the lock (a model is resolved: hashed,
/// its input checked, approved in production).
async fn plan(look: &Look<'_>, change: Option<Change>) -> Result<Plan, Error> {
    let (config, service) = (look.config, look.service);
    Ok(match change {
        None => Plan::Shown(Box::new(look.show().await?)),
        Some(Change::Evaluate { apply }) => {
            let report = look.evaluate().await?;
            match report.evaluation.as_ref().map(|e| e.verdict) {
                Some(Verdict::Promote) if apply => {
                    Plan::Move(ramp(config, service, &report), report.evaluation)
                }
                Some(Verdict::Abort) if apply => Plan::Move(Move::Abort, report.evaluation),
                _ => Plan::Shown(Box::new(report)),
            }
        }
        Some(Change::Set {
            variant: Variant::Version(variant),
            percent,
        }) => Plan::Move(Move::Set { variant, percent }, None),
        Some(Change::Set {
            variant: Variant::Model(reference),
            percent,
        }) => {
            let refs = [(service.to_string(), ModelRef::parse(&reference)?)]
                .into_iter()
                .collect();
            let resolved = models::resolve::resolve(look.aws, config, &refs).await?;
            let mut resolved =
                models::resolve::into_registry(look.aws, config, resolved, true).await?;
            let model = resolved
                .remove(service)
                .ok_or_else(|| ModelError::NoModel(service.to_string()))?;
            let model = Box::new(model);
            Plan::Move(Move::SetModel { model, percent }, None)
        }
        Some(Change::Promote) => Plan::Move(Move::Promote, None),
        Some(Change::Abort) => Plan::Move(Move::Abort, None),
    })
}

/// Carries out a move on AWS.
async fn make(look: &Look<'_>, step: &Move) -> Result<traffic::Moved, TrafficError> {
    let (aws, config, service) = (look.aws, look.config, look.service);
    match step {
        Move::Set { variant, percent } => {
            traffic::set(aws, config, service, variant, *percent).await
        }
        Move::SetModel { model, percent } => {
            let pin = model.pin();
            let variables = ModelVariables {
                uri: pin.uri.clone(),
                sha256: pin.sha256.clone(),
                label: pin.to_string(),
            };
            let variant = traffic::variant_with_model(aws, config, service, &variables).await?;
            traffic::set(aws, config, service, &variant, *percent).await
        }
        Move::Promote => traffic::promote(aws, config, service).await,
        Move::Abort => traffic::abort(aws, config, service).await,
    }
}

/// One look, and the change it makes, if any.
async fn once(
    session: &Session<'_>,
    look: &Look<'_>,
    change: Option<Change>,
) -> Result<TrafficReport, Error> {
    let (config, service, aws) = (look.config, look.service.to_string(), look.aws);
    let (step, evaluation) = match plan(look, change).await? {
        Plan::Move(step, evaluation) => (step, evaluation),
        Plan::Shown(report) => return Ok(*report),
    };
    let guard = Guard {
        operation: Operation::Traffic,
        config,
        provenance: Provenance {
            who: session.who(),
            trace_id: session.trace_id.clone(),
            commit: None,
            version: None,
            link: session.run_url.clone(),
            skipped_verification: None,
        },
        from: None,
    };
    let new_model = match &step {
        Move::SetModel { model, .. } => Some(model.pin()),
        _ => None,
    };
    guarded::recorded(session, aws, &guard, async |store| {
        let previous = store
            .current()
            .await?
            .ok_or_else(|| TrafficError::NotRecorded {
                environment: config.environment.name.clone(),
            })?;
        let moved = make(look, &step).await?;
        let sides = crate::deployment::Sides {
            aws,
            config,
            store,
            service: &service,
            new_model: new_model.as_ref(),
        };
        let entry = sides.entry_after(&previous, &moved).await?;
        let change = TrafficChange {
            service: service.clone(),
            moved: moved.to_string(),
            evaluation: evaluation
                .as_ref()
                .and_then(|e| serde_json::to_value(e).ok()),
        };
        let record = crate::deployment::traffic_record(
            guard.record_input(&session.trace_id),
            &previous,
            entry,
            change,
        );
        store.put_record(&record).await?;
        let mut report = look.show_as_recorded(Some(&record)).await?;
        report.changed = Some(moved.to_string());
        report.evaluation = evaluation.map(|mut e: Evaluation| {
            e.applied = Some(moved.to_string());
            e
        });
        report.warning_exit = config.notifications.warning_exit;
        Ok(Changed(report, config.environment.name.clone()))
    })
    .await
    .map(|told| told.0)
}

/// What a promote verdict does: the ramp's next step, or the promotion at its end.
fn ramp(config: &Config, service: &str, report: &TrafficReport) -> Move {
    let steps = traffic::guards_of(config, service).steps;
    match &report.variant {
        Some(variant) => match traffic::next_step(&steps, variant.percent) {
            Some(percent) => Move::Set {
                variant: variant.version.clone(),
                percent,
            },
            None => Move::Promote,
        },
        None => Move::Promote,
    }
}

/// A traffic change's report as a guarded outcome, with the environment its notice names.
struct Changed(TrafficReport, String);

impl Outcome for Changed {
    fn notice(&self, provenance: &Provenance) -> Notice {
        let mut notice = provenance.notice("traffic", &self.1, Ended::Succeeded, 0);
        notice.changes = self
            .0
            .changed
            .iter()
            .map(|moved| format!("{}: {moved}", self.0.service))
            .collect();
        notice
    }

    fn told(&mut self, deliveries: Vec<Delivery>, _retries: RetryTotals) {
        self.0.notifications = deliveries;
    }
}

/// Where a split is looked at.
struct Look<'a> {
    aws: &'a AwsContext,
    config: &'a Config,
    store: &'a Store<'a>,
    service: &'a str,
    window_minutes: u32,
}

impl Look<'_> {
    async fn show(&self) -> Result<TrafficReport, Error> {
        let current = self.store.current().await?;
        self.show_as_recorded(current.as_ref()).await
    }

    /// The split and its figures, the window starting no earlier than the split's
    /// recorded start (a young experiment is judged on what it served).
    async fn show_as_recorded(&self, record: Option<&Record>) -> Result<TrafficReport, Error> {
        let split = record
            .and_then(|r| r.services.get(self.service))
            .and_then(|s| s.split.as_ref());
        let window = traffic::Window::since(self.window_minutes, split.map(|s| s.started()));
        let mut report = traffic::show(self.aws, self.config, self.service, window).await?;
        report.since = split.map(|s| s.since.clone());
        Ok(report)
    }

    /// The split as it is, judged against the guard rails.
    async fn evaluate(&self) -> Result<TrafficReport, Error> {
        let mut report = self.show().await?;
        if report.variant.is_none() {
            return Err(TrafficError::NoVariant {
                service: self.service.to_string(),
                control: report.control.version.clone(),
            }
            .into());
        }
        report.evaluation = Some(evaluation::evaluate(
            &report.comparisons,
            &traffic::guards_of(self.config, self.service),
            report.sample_ratio,
        ));
        Ok(report)
    }
}
