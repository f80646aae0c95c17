//! Configuration: `deploy.toml` layered with `environments/<env>.yaml`, typed and validated.
//!
//! Loading reads two files and nothing else: no AWS call, no environment variable. Any
//! problem is a [`ConfigErrors`] naming file, line and column.

// Config errors are rare and on the cold path; boxing them would buy nothing.
#![allow(clippy::result_large_err)]

pub mod diagnostic;
mod endpoint;
pub mod merge;
pub mod model;
pub mod names;
pub mod problems;
pub mod regions;
pub mod secret;
pub mod source;
pub mod validate;
pub mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use diagnostic::Origin;
pub use diagnostic::{ConfigError, ConfigErrors};
pub use endpoint::endpoint_problem;
pub use model::*;
use problems::{EnvironmentProblem, MissingHint, ReadFailure, SerdeProblem, Unreadable, Untyped};
pub use secret::{Secret, SecretRef};
use source::{Node, PathSegment};

pub const PROJECT_FILE: &str = "deploy.toml";
pub const ENVIRONMENTS_DIR: &str = "environments";

/// A validated configuration and the located tree it came from (for later diagnostics).
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub root: PathBuf,
    pub sources: Node,
}

impl LoadedConfig {
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join(&self.config.project.templates)
    }
}

/// Loads and validates the configuration of environment `env` from the project at `root`.
/// `rule_ids` are the policy rules that exceptions may name.
pub fn load(root: &Path, env: &str, rule_ids: &[&str]) -> Result<LoadedConfig, ConfigErrors> {
    let mut texts = HashMap::new();
    let result = load_inner(root, env, rule_ids, &mut texts).and_then(|mut loaded| {
        if let Some(target) = loaded.config.environment.promoted_to.clone() {
            loaded.config.promotion = promotion_target(root, &loaded, &target, rule_ids)?;
        }
        Ok(loaded)
    });
    result.map_err(|mut errors| {
        quote_lines(&mut errors, &texts);
        errors
    })
}

/// Fills in each error's offending line from the files' texts (never for secrets).
pub(crate) fn quote_lines(errors: &mut ConfigErrors, texts: &HashMap<PathBuf, String>) {
    for e in errors.0.iter_mut().filter(|e| !e.sensitive()) {
        e.line_text = texts
            .get(e.origin.file.as_path())
            .and_then(|t: &String| t.lines().nth(e.origin.line.saturating_sub(1)))
            .map(str::to_string);
    }
}

fn load_inner(
    root: &Path,
    env: &str,
    rule_ids: &[&str],
    texts: &mut HashMap<PathBuf, String>,
) -> Result<LoadedConfig, ConfigErrors> {
    let project_path = PathBuf::from(PROJECT_FILE);
    let env_path = Path::new(ENVIRONMENTS_DIR).join(format!("{env}.yaml"));
    let single = |e: ConfigError| ConfigErrors(vec![e]);

    if env.is_empty()
        || !env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(single(ConfigError::new(
            whole_file(&env_path),
            EnvironmentProblem::BadName {
                name: env.to_string(),
                hint: MissingHint::Environments(environments(root)),
            },
        )));
    }

    // A missing file's help says where the tool looks; other failures keep their own.
    let project_text = read_text(root, &project_path, || MissingHint::ProjectRoot)
        .map_err(|e| single(unreadable(e)))?;
    let env_text = read_text(root, &env_path, || {
        MissingHint::Environments(environments(root))
    })
    .map_err(|e| single(unreadable(e)))?;
    texts.insert(project_path.clone(), project_text.clone());
    texts.insert(env_path.clone(), env_text.clone());
    from_texts(root, env, &project_text, &env_text, rule_ids)
}

/// The environment promoted from `loaded` (`environment.promoted_to`), read from its own
/// file (read as `load_inner` reads it: its own `promoted_to` is not followed, so two
/// environments may name each other). None
/// when both share one account: within an account, IAM alone grants access, and there is
/// nothing to replicate.
fn promotion_target(
    root: &Path,
    loaded: &LoadedConfig,
    target: &str,
    rule_ids: &[&str],
) -> Result<Option<PromotionTarget>, ConfigErrors> {
    let env_path =
        Path::new(ENVIRONMENTS_DIR).join(format!("{}.yaml", loaded.config.environment.name));
    let at = loaded
        .sources
        .get("environment")
        .and_then(|e| e.node.get("promoted_to"))
        .map(|e| e.node.origin.clone())
        .unwrap_or_else(|| whole_file(&env_path));
    let refuse = |problem| ConfigErrors(vec![ConfigError::new(at.clone(), problem)]);
    let target_name = target.to_string();
    if target == loaded.config.environment.name {
        return Err(refuse(EnvironmentProblem::PromotedToItself {
            target: target_name,
        }));
    }
    let other = load_inner(root, target, rule_ids, &mut HashMap::new()).map_err(|_| {
        refuse(EnvironmentProblem::TargetDoesNotLoad {
            target: target_name,
        })
    })?;
    let other = other.config;
    if other.environment.account_id == loaded.config.environment.account_id {
        return Ok(None);
    }
    Ok(Some(PromotionTarget {
        environment: target.to_string(),
        account_id: other.environment.account_id.clone(),
        region: other.environment.region.clone(),
        repositories: other.repositories(),
    }))
}

/// Parses, layers and validates the two files' texts (no file is read: the fuzzer's entry).
/// `root` is only recorded, for the templates.
pub fn from_texts(
    root: &Path,
    env: &str,
    project_text: &str,
    env_text: &str,
    rule_ids: &[&str],
) -> Result<LoadedConfig, ConfigErrors> {
    let project_path = PathBuf::from(PROJECT_FILE);
    let env_path = Path::new(ENVIRONMENTS_DIR).join(format!("{env}.yaml"));
    let single = |e: ConfigError| ConfigErrors(vec![e]);
    let base = source::parse_toml(&project_path, project_text).map_err(single)?;
    let overlay = source::parse_yaml(&env_path, env_text).map_err(single)?;
    if overlay.as_map().is_none() {
        return Err(single(ConfigError::new(
            overlay.origin.clone(),
            EnvironmentProblem::OverlayNotMap {
                found: overlay.kind(),
            },
        )));
    }
    if let Some(error) = project_file_alone(&base, &overlay) {
        return Err(single(error));
    }
    let sources = merge::merge(base, overlay).map_err(single)?;

    let mut config: Config = deserialize(&sources)?;
    config.environment.name = env.to_string();
    let errors = validate::validate(&config, &sources, rule_ids);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(LoadedConfig {
        config,
        root: root.to_path_buf(),
        sources,
    })
}

pub(crate) fn whole_file(path: &Path) -> Origin {
    Origin {
        file: Arc::new(path.to_path_buf()),
        line: 1,
        column: 1,
    }
}

/// The most a configuration file may hold: far above any real one, far below memory.
const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Reads a configuration file of the project; a missing one's help suggests where to look.
pub(crate) fn read(root: &Path, relative: &Path) -> Result<String, ConfigError> {
    read_text(root, relative, || MissingHint::Create).map_err(unreadable)
}

fn unreadable(problem: Unreadable) -> ConfigError {
    ConfigError::new(whole_file(&problem.file), problem)
}

fn read_text(
    root: &Path,
    relative: &Path,
    hint: impl FnOnce() -> MissingHint,
) -> Result<String, Unreadable> {
    use crate::files::ReadError;
    let failed = |failure| Unreadable {
        file: relative.to_path_buf(),
        failure,
    };
    let bytes = crate::files::read_bounded(&root.join(relative), MAX_CONFIG_BYTES).map_err(
        |e| match e {
            ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                failed(ReadFailure::NotFound { hint: hint() })
            }
            ReadError::Io(e) => failed(ReadFailure::Io {
                reason: e.to_string(),
            }),
            ReadError::NotRegular => failed(ReadFailure::NotRegular),
            ReadError::TooLarge { limit } => failed(ReadFailure::TooLarge { limit }),
        },
    )?;
    String::from_utf8(bytes).map_err(|e| {
        failed(ReadFailure::NotUtf8 {
            offset: e.utf8_error().valid_up_to(),
        })
    })
}

/// The environments the project defines (its overlays' names), sorted.
pub fn environments(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(ENVIRONMENTS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".yaml"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// The stacks `deploy.toml` declares (`[stacks.<name>]`), in its order; empty when the file
/// cannot be read or parsed (a shell's completion, which must never fail loudly).
pub fn stack_names(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join(PROJECT_FILE)).unwrap_or_default();
    let Ok(document) = toml_edit::Document::parse(text) else {
        return Vec::new();
    };
    document
        .as_table()
        .get("stacks")
        .and_then(|s| s.as_table_like())
        .map(|stacks| stacks.iter().map(|(name, _)| name.to_string()).collect())
        .unwrap_or_default()
}

/// `deploy.toml` is committed whatever the overlays do with it, so its own values must be
/// right even where an overlay replaces or removes them (a secret written in clear stays in
/// the history). Checked by typing the project file laid over the overlay: the overlay fills
/// in what the project file leaves to it, and its removals are ignored. Only the project
/// file's own mistakes are reported here; the overlay's are the layered check's.
fn project_file_alone(base: &Node, overlay: &Node) -> Option<ConfigError> {
    // Without removals the merge cannot fail.
    let layered = merge::merge(without_removals(overlay.clone()), base.clone()).ok()?;
    let (problem, path) = typed::<Config>(&layered).err()?;
    if matches!(problem, SerdeProblem::MissingField(_)) {
        return None;
    }
    let error = describe_serde_error(problem, &path, &layered);
    (error.origin.file.as_path() == Path::new(PROJECT_FILE)).then_some(error)
}

/// The overlay without its `~` removals (which only mean something over the project file).
fn without_removals(mut node: Node) -> Node {
    if let source::NodeValue::Map(map) = &mut node.value {
        map.retain(|_, entry| entry.node.value != source::NodeValue::Null);
        for entry in map.values_mut() {
            let child = std::mem::replace(&mut entry.node.value, source::NodeValue::Null);
            entry.node.value = without_removals(Node {
                value: child,
                origin: entry.node.origin.clone(),
            })
            .value;
        }
    }
    node
}

/// Typed deserialization of the merged tree; an error points at the offending key or value.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    sources: &Node,
) -> Result<T, ConfigErrors> {
    typed(sources).map_err(|(problem, path)| {
        ConfigErrors(vec![describe_serde_error(problem, &path, sources)])
    })
}

fn typed<T: serde::de::DeserializeOwned>(
    sources: &Node,
) -> Result<T, (SerdeProblem, Vec<PathSegment>)> {
    serde_path_to_error::deserialize::<_, T>(sources.to_json()).map_err(|e| {
        let path: Vec<PathSegment> = e
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        (SerdeProblem::parse(&e.into_inner().to_string()), path)
    })
}

/// Turns serde's complaint into one that says what was expected, at the right place.
fn describe_serde_error(
    problem: SerdeProblem,
    path: &[PathSegment],
    sources: &Node,
) -> ConfigError {
    let at = match problem {
        SerdeProblem::UnknownField { .. } => sources.locate_key(path),
        _ => sources.locate(path),
    };
    ConfigError::new(
        at,
        Untyped {
            problem,
            at: source::display_path(path),
            parent: source::display_path(&path[..path.len().saturating_sub(1)]),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_environments_may_name_each_other_as_promoted_to() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(repo.join(PROJECT_FILE), dir.path().join(PROJECT_FILE)).expect("copy");
        std::fs::create_dir(dir.path().join(ENVIRONMENTS_DIR)).expect("mkdir");
        for env in ["staging", "production"] {
            let file = format!("{ENVIRONMENTS_DIR}/{env}.yaml");
            std::fs::copy(repo.join(&file), dir.path().join(&file)).expect("copy");
        }
        let production = dir.path().join(ENVIRONMENTS_DIR).join("production.yaml");
        let text = std::fs::read_to_string(&production).expect("read");
        let text = text.replacen(
            "  region: eu-west-1\n",
            "  region: eu-west-1\n  promoted_to: staging\n",
            1,
        );
        std::fs::write(&production, text).expect("write");
        let rules = crate::policy::rule_ids();
        let staging = load(dir.path(), "staging", &rules).expect("staging loads");
        let target = staging
            .config
            .promotion
            .expect("production is another account");
        assert_eq!(target.account_id, "345678901234");
        let production = load(dir.path(), "production", &rules).expect("production loads");
        assert_eq!(
            production.config.promotion.map(|p| p.account_id).as_deref(),
            Some("210987654321")
        );
    }
}
