//! Rollback: which earlier release an environment goes back to, and what of it each
//! service must be restored to. `commands::rollback` runs the restore.

use std::collections::BTreeMap;

use super::record::Record;
use crate::config::{Config, RuntimeKind};
use crate::services::Restore;

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoRollbackTarget {
    NoRelease {
        environment: String,
    },
    NotFound {
        environment: String,
        wanted: String,
    },
    NoEarlier {
        environment: String,
        current: String,
    },
}

impl NoRollbackTarget {
    pub fn message(&self) -> String {
        match self {
            Self::NoRelease { environment } => {
                format!("`{environment}` has no successful release to roll back from")
            }
            Self::NotFound {
                environment,
                wanted,
            } => format!("no successful release `{wanted}` in `{environment}`'s records"),
            Self::NoEarlier {
                environment,
                current,
            } => format!(
                "no earlier release of `{environment}` runs different services than the current one ({current})"
            ),
        }
    }

    pub fn help(&self) -> String {
        match self {
            Self::NoRelease { .. } => "deploy it first".into(),
            Self::NotFound { environment, .. } | Self::NoEarlier { environment, .. } => {
                format!("`facturactl history --env {environment}` lists the releases")
            }
        }
    }
}

/// (current, target): the newest successful release, and the one to go back to: `to` (a
/// record id or tag), else the newest earlier one that runs other services.
pub fn choose<'r>(
    env: &str,
    records: &'r [Record],
    to: Option<&str>,
) -> Result<(&'r Record, &'r Record), NoRollbackTarget> {
    let good: Vec<&Record> = records.iter().filter(|r| r.succeeded()).collect();
    let Some(current) = good.last().copied() else {
        return Err(NoRollbackTarget::NoRelease {
            environment: env.into(),
        });
    };
    let target = match to {
        Some(wanted) => good
            .iter()
            .rev()
            .find(|r| r.id == wanted || r.tag.as_deref() == Some(wanted)),
        None => good
            .iter()
            .rev()
            .find(|r| !super::record::run_alike(&r.services, &current.services)),
    };
    match (target, to) {
        (Some(target), _) => Ok((current, target)),
        (None, Some(wanted)) => Err(NoRollbackTarget::NotFound {
            environment: env.into(),
            wanted: wanted.into(),
        }),
        (None, None) => Err(NoRollbackTarget::NoEarlier {
            environment: env.into(),
            current: current.id.clone(),
        }),
    }
}

/// What each enabled service must be restored to: the target's entry, where it differs
/// from what runs now.
pub fn restores<'r>(
    config: &Config,
    current: &Record,
    target: &'r Record,
) -> BTreeMap<String, Restore<'r>> {
    let mut targets = BTreeMap::new();
    for (service, entry) in &target.services {
        if current
            .services
            .get(service)
            .is_some_and(|c| c.runs_as(entry))
            || !config.services.get(service).is_some_and(|s| s.enabled)
        {
            continue;
        }
        let restore = match (
            entry.runtime,
            &entry.image,
            &entry.version,
            &entry.code_sha256,
        ) {
            (RuntimeKind::Ecs, Some(image), _, _) => Restore::Image(image),
            (RuntimeKind::Lambda, _, Some(version), Some(sha)) => Restore::Version {
                version,
                code_sha256: sha,
            },
            _ => continue,
        };
        targets.insert(service.clone(), restore);
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Verdict;
    use crate::release::record::{Operation, ServiceRecord};

    fn image(tag: &str) -> ServiceRecord {
        ServiceRecord {
            runtime: RuntimeKind::Ecs,
            image: Some(format!("registry/ocr@sha256:{tag}")),
            digest: Some(format!("sha256:{tag}")),
            task_definition: None,
            base_task_definition: None,
            version: None,
            code_sha256: None,
            package: None,
            model: None,
            split: None,
        }
    }

    fn record(id: &str, tag: Option<&str>, result: Verdict, ocr: &str) -> Record {
        Record {
            id: id.into(),
            action: Operation::Deploy,
            environment: "staging".into(),
            commit: Some("c0ffee".into()),
            tag: tag.map(Into::into),
            who: "ci".into(),
            at: "2026-12-01T10:00:00Z".into(),
            trace_id: id.into(),
            result,
            stacks: BTreeMap::new(),
            services: [("ocr".to_string(), image(ocr))].into(),
            from: None,
            error: None,
            traffic: None,
            verification: None,
            skipped_verification: None,
        }
    }

    /// Oldest first, as the store lists them.
    fn history() -> Vec<Record> {
        vec![
            record("r1", Some("v1.0.0"), Verdict::Succeeded, "aaa"),
            record("r2", Some("v1.1.0"), Verdict::Succeeded, "bbb"),
            record("r3", None, Verdict::Succeeded, "bbb"),
            record("r4", Some("v1.2.0"), Verdict::Failed, "ccc"),
            record("r5", Some("v1.2.1"), Verdict::Succeeded, "ccc"),
        ]
    }

    #[test]
    fn by_default_the_newest_earlier_release_that_runs_something_else() {
        let records = history();
        let (current, target) = choose("staging", &records, None).unwrap();
        assert_eq!((current.id.as_str(), target.id.as_str()), ("r5", "r3"));
    }

    #[test]
    fn an_experiment_set_and_ended_is_not_a_release_to_go_back_to() {
        // r6 starts a split beside what r5 runs, r7 ends it: both run r5's control.
        let mut records = history();
        let mut split = record("r6", None, Verdict::Succeeded, "ccc");
        split.services.get_mut("ocr").expect("ocr").split =
            Some(crate::release::record::SplitRecord::starting(
                10,
                image("ddd"),
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_764_583_200),
            ));
        records.push(split);
        records.push(record("r7", None, Verdict::Succeeded, "ccc"));
        let (current, target) = choose("staging", &records, None).unwrap();
        assert_eq!((current.id.as_str(), target.id.as_str()), ("r7", "r3"));
    }

    #[test]
    fn to_names_a_successful_release_by_id_or_tag() {
        let records = history();
        assert_eq!(
            choose("staging", &records, Some("v1.0.0")).unwrap().1.id,
            "r1"
        );
        assert_eq!(choose("staging", &records, Some("r2")).unwrap().1.id, "r2");
        // A failed release is never a target.
        assert!(matches!(
            choose("staging", &records, Some("v1.2.0")),
            Err(NoRollbackTarget::NotFound { .. })
        ));
    }

    #[test]
    fn nothing_to_go_back_to_is_a_refusal() {
        let failed = vec![record("r1", None, Verdict::Failed, "aaa")];
        assert!(matches!(
            choose("staging", &failed, None),
            Err(NoRollbackTarget::NoRelease { .. })
        ));
        let same = vec![
            record("r1", None, Verdict::Succeeded, "aaa"),
            record("r2", None, Verdict::Succeeded, "aaa"),
        ];
        assert!(matches!(
            choose("staging", &same, None),
            Err(NoRollbackTarget::NoEarlier { .. })
        ));
    }

    #[test]
    fn only_services_that_differ_and_run_here_are_restored() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = crate::config::load(root, "staging", &crate::policy::rule_ids())
            .expect("the repository's staging config loads")
            .config;
        let current = record("r5", None, Verdict::Succeeded, "ccc");
        let mut target = record("r1", None, Verdict::Succeeded, "aaa");
        target.services.insert("retired".into(), image("ddd"));
        let restores = restores(&config, &current, &target);
        assert_eq!(restores.keys().collect::<Vec<_>>(), ["ocr"]);
        assert!(matches!(restores["ocr"], Restore::Image(i) if i.ends_with("aaa")));
        assert!(super::restores(&config, &current, &current).is_empty());
    }
}
