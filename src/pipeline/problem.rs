//! What is wrong in a pipeline definition, as data; the words are written here.

use std::fmt;

use crate::config::diagnostic::Problem;

#[derive(Debug)]
pub enum Invalid {
    FolderUnreadable {
        reason: String,
    },
    JobTimeout {
        minutes: u32,
    },
    Unpinned {
        action: String,
    },
    MissingPin {
        action: String,
    },
    Schedule {
        section: &'static str,
    },
    Environment {
        env: String,
    },
    ProductionOnPush {
        env: String,
    },
    PromoteFrom {
        source: String,
        stages: Vec<String>,
    },
    RetrainsNothing {
        env: String,
    },
    NotEcsService {
        service: String,
    },
    NotLambdaService {
        service: String,
    },
    NotRetrained {
        model: String,
    },
    RoleArn {
        role: String,
    },
    RoleAccount {
        found: String,
        account: String,
    },
    /// The pinned facturactl is not a version, or predates a feature the definition uses
    /// (the feature and the first release that has it).
    FacturactlVersion {
        pinned: String,
        feature: Option<(String, String)>,
    },
    /// The platform's release tags would match facturactl's own release tags.
    ToolTags {
        pattern: String,
        tag: String,
    },
    /// A promotion from an environment the pipeline does not verify.
    Unverified {
        source: String,
    },
    /// `[verify] environment` is not a deploy stage.
    VerifyStage {
        env: String,
        stages: Vec<String>,
    },
    /// A promotion stage without the role its plan job assumes.
    PlanRole {
        env: String,
    },
    /// A path a job reads (lint, tests, a build context or Dockerfile) is not in the
    /// repository: the job would fail, or lint and test nothing.
    MissingPath {
        what: &'static str,
        path: String,
        kind: PathKind,
    },
}

/// What a path of the definition must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Folder,
    File,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FolderUnreadable { reason } => {
                write!(f, "cannot read the pipelines folder: {reason}")
            }
            Self::JobTimeout { minutes } => write!(f, "timeout_minutes {minutes} is out of range"),
            Self::Unpinned { action } => write!(f, "action `{action}` is not pinned to a commit"),
            Self::MissingPin { action } => write!(f, "no pin for the action `{action}`"),
            Self::Schedule { section } => {
                write!(f, "the {section} schedule is not a cron expression")
            }
            Self::Environment { env } => {
                write!(f, "`{env}` is not a valid environment of this project")
            }
            Self::ProductionOnPush { env } => {
                write!(f, "production environment `{env}` deploys on every push")
            }
            Self::PromoteFrom { source, .. } => {
                write!(f, "`{source}` is not another deploy stage of this pipeline")
            }
            Self::RetrainsNothing { env } => write!(f, "`{env}` retrains no model"),
            Self::NotEcsService { service } => {
                write!(f, "`{service}` is not an ECS service of deploy.toml")
            }
            Self::NotLambdaService { service } => {
                write!(f, "`{service}` is not a Lambda service of deploy.toml")
            }
            Self::NotRetrained { model } => {
                write!(f, "`{model}` is not a model retrained by deploy.toml")
            }
            Self::RoleArn { role } => write!(f, "`{role}` is not an IAM role ARN"),
            Self::FacturactlVersion {
                pinned,
                feature: None,
            } => write!(f, "facturactl_version `{pinned}` is not a version"),
            Self::FacturactlVersion {
                pinned,
                feature: Some((feature, since)),
            } => write!(
                f,
                "facturactl {pinned} has no {feature}: it came in {since}"
            ),
            Self::PlanRole { env } => write!(
                f,
                "the promotion to `{env}` has no `plan_role_arn`: its plan cannot be shown and saved before the approval"
            ),
            Self::MissingPath { what, path, .. } => {
                write!(f, "{what} `{path}` is not in the repository")
            }
            Self::ToolTags { pattern, tag } => write!(
                f,
                "release_tags `{pattern}` matches facturactl's own release tag `{tag}`: one tag would release the tool and promote production"
            ),
            Self::Unverified { source } => write!(
                f,
                "the promotion from `{source}` would be refused: the pipeline does not verify `{source}`"
            ),
            Self::VerifyStage { env, .. } => {
                write!(f, "`{env}` is verified but not deployed by this pipeline")
            }
            Self::RoleAccount { found, account } => write!(
                f,
                "the role is in account {found}, the environment in {account}"
            ),
        }
    }
}

impl Problem for Invalid {
    fn expected(&self) -> Option<String> {
        match self {
            Self::JobTimeout { .. } => Some(
                "a whole number from 1 to 360 (GitHub-hosted runners stop a job at 6 hours)"
                    .into(),
            ),
            Self::Unpinned { .. } => Some("the full 40-character commit SHA of the release".into()),
            Self::MissingPin { action } => {
                Some(format!("`{action} = {{ repo, sha, version }}` in [actions]"))
            }
            Self::Schedule { .. } => Some(
                "five fields: minute hour day-of-month month day-of-week, as `17 6 * * 1-5`"
                    .into(),
            ),
            Self::ProductionOnPush { .. } => {
                Some("`trigger = \"tag\"`: production deploys release tags only".into())
            }
            Self::PromoteFrom { stages, .. } => Some(format!("one of: {}", stages.join(", "))),
            Self::RetrainsNothing { .. } => Some("an environment whose enabled service serves a model with [models.<name>.retraining] in facturactl's S3 registry".into()),
            Self::RoleArn { .. } => Some("arn:aws:iam::<account>:role/<name>".into()),
            Self::ToolTags { .. } => Some("a pattern of the platform's tags only, as `v*.*.*`".into()),
            Self::FacturactlVersion { .. } => Some(format!(
                "`vX.Y.Z`, a facturactl release (this one is v{})",
                env!("CARGO_PKG_VERSION")
            )),
            Self::Unverified { source } => Some(format!(
                "[verify] environment = \"{source}\", with its role and the pinned Locust"
            )),
            Self::VerifyStage { stages, .. } => Some(format!("one of: {}", stages.join(", "))),
            Self::PlanRole { .. } => Some("`plan_role_arn = \"arn:aws:iam::<account>:role/<name>\"`".into()),
            Self::MissingPath { kind, .. } => Some(
                match kind {
                    PathKind::Folder => "a folder, relative to the repository root",
                    PathKind::File => "a file, relative to the repository root",
                }
                .into(),
            ),
            Self::FolderUnreadable { .. }
            | Self::Environment { .. }
            | Self::NotEcsService { .. }
            | Self::NotLambdaService { .. }
            | Self::NotRetrained { .. }
            | Self::RoleAccount { .. } => None,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::FolderUnreadable { .. } => Some(
                "create pipelines/<name>.toml (see pipelines/platform.toml in the README)".into(),
            ),
            Self::JobTimeout { .. } => Some("set `pipeline.timeout_minutes` between 1 and 360".into()),
            Self::Unpinned { .. } => Some("tags can be moved by whoever controls the action; look up the commit of the tag and write it here".into()),
            Self::Environment { env } => Some(format!(
                "it needs environments/{env}.yaml that `facturactl validate --env {env}` accepts"
            )),
            Self::RetrainsNothing { env } => Some(format!(
                "remove `{env}` from [training.roles], or declare the model's retraining in deploy.toml"
            )),
            Self::NotEcsService { .. } => Some(
                "images are built for ECS services; Lambda packages go under [[build.packages]]"
                    .into(),
            ),
            Self::NotLambdaService { .. } => Some(
                "packages are built for Lambda services; ECS services get [[build.images]]".into(),
            ),
            Self::NotRetrained { .. } => {
                Some("a training image is built for `[models.<name>.retraining.job]`".into())
            }
            Self::PlanRole { .. } => Some(
                "a role in the environment's account that reads its stacks, registries and release stores and makes change sets (CreateChangeSet, DescribeChangeSet); the deploy role then executes them".into(),
            ),
            Self::MissingPath { .. } => Some(
                "create it, or point the definition at the folder that holds the code (the job runs from the repository root)".into(),
            ),
            Self::RoleAccount { .. } => {
                Some("use the deploy role of the environment's own account".into())
            }
            Self::FacturactlVersion { .. } => Some(
                "pin a release that has every feature the definition uses, or leave facturactl_version out (this binary's version)".into(),
            ),
            Self::ToolTags { .. } => Some(
                "facturactl releases itself on `facturactl-vX.Y.Z` tags: keep the platform's pattern apart".into(),
            ),
            Self::Unverified { .. } => Some(
                "`promote` requires a passing verification of what it promotes: add the [verify] stage".into(),
            ),
            Self::VerifyStage { .. } => {
                Some("verify the environment whose deploy the promotion copies".into())
            }
            Self::MissingPin { .. }
            | Self::Schedule { .. }
            | Self::ProductionOnPush { .. }
            | Self::PromoteFrom { .. }
            | Self::RoleArn { .. } => None,
        }
    }
}
