//! Rendering: config + Tera templates -> CloudFormation templates and alarm definitions.
//!
//! Pure and deterministic: the same config and templates give the same bytes, so the content
//! hash of a rendered template can tell a deploy whether a stack changed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::alarms::{self, AlarmDefinition};
use crate::config::names::logical_id;
use crate::config::{Config, LoadedConfig, OutputRef};
use crate::graph::StackGraph;

pub mod bound;
mod recursion;
mod references;
mod shape;

/// Everything one environment deploys, rendered.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RenderedEnv {
    pub environment: String,
    /// Enabled stacks, dependencies first.
    pub stacks: Vec<RenderedStack>,
    pub alarms: Vec<AlarmDefinition>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RenderedStack {
    /// The key in `deploy.toml`.
    pub name: String,
    /// The CloudFormation stack name.
    pub stack_name: String,
    /// The template file, relative to the templates directory.
    pub template_file: String,
    #[serde(skip)]
    pub body: String,
    /// The parsed body, for policy rules.
    #[serde(skip)]
    pub document: yaml_serde::Value,
    /// `sha256:<hex>` of the body.
    pub hash: String,
    pub parameters: BTreeMap<String, String>,
    pub inputs: BTreeMap<String, OutputRef>,
    pub depends_on: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub termination_protection: bool,
    pub timeout_minutes: u32,
}

/// CloudFormation's hard limit on a template read from S3 (1 MB); templates over 51,200
/// bytes go by TemplateURL (`stacks::template`), larger ones cannot be deployed at all.
pub const MAX_TEMPLATE_BYTES: usize = 1_048_576;

/// Written where a template names its API Gateway deployment (`Deployment{placeholder}`):
/// replaced by a hash of the API's definition, so that any change to its resources,
/// methods, integrations or authorizers creates a new deployment, which CloudFormation
/// otherwise never does, and the stage serves the edited API.
const API_HASH_PLACEHOLDER: &str = "ApiDefinitionHash";

/// A short hash of what a deployment snapshots: the API Gateway resources of a stack (every
/// `AWS::ApiGateway::*` but deployments and stages) and the values of the parameters they
/// `Ref` (`parameters`, else the template's `Default`): a method that reads
/// `ApiDomainName` changes when the domain does, and the stage must get a new deployment
/// then too. None without any API resource.
pub fn api_definition_hash(
    document: &yaml_serde::Value,
    parameters: &BTreeMap<String, String>,
) -> Option<String> {
    use sha2::{Digest, Sha256};
    let resources = document.get("Resources")?.as_mapping()?;
    let mut hasher = Sha256::new();
    let mut any = false;
    let mut referenced = std::collections::BTreeSet::new();
    for (id, resource) in resources {
        let kind = resource.get("Type").and_then(yaml_serde::Value::as_str)?;
        let snapshotted = kind.starts_with("AWS::ApiGateway::")
            && !matches!(
                kind,
                "AWS::ApiGateway::Deployment" | "AWS::ApiGateway::Stage"
            );
        if snapshotted {
            any = true;
            hasher.update(yaml_serde::to_string(id).unwrap_or_default());
            hasher.update(yaml_serde::to_string(resource).unwrap_or_default());
            references::referenced_names(resource, &mut referenced);
        }
    }
    let declared = document
        .get("Parameters")
        .and_then(yaml_serde::Value::as_mapping);
    for name in referenced {
        let value = parameters.get(&name).cloned().or_else(|| {
            let default = declared?.get(name.as_str())?.get("Default")?;
            Some(yaml_serde::to_string(default).unwrap_or_default())
        });
        if let Some(value) = value {
            hasher.update(format!("\0{name}={value}"));
        }
    }
    let digest = hasher.finalize();
    any.then(|| digest.iter().take(6).map(|b| format!("{b:02x}")).collect())
}

/// The stack with its API deployment's logical id hashed over every parameter value its
/// API resources reference, other stacks' outputs included: those are known at deploy, not
/// at render, and a replaced user pool or a new domain must give the stage a new
/// deployment too. `None` when the stack has no stamped deployment or nothing changes.
pub fn restamp_api(stack: &RenderedStack, all: &BTreeMap<String, String>) -> Option<RenderedStack> {
    let rendered = api_definition_hash(&stack.document, &stack.parameters)?;
    let complete = api_definition_hash(&stack.document, all)?;
    let stamped = format!("Deployment{rendered}");
    if rendered == complete || !stack.body.contains(&stamped) {
        return None;
    }
    let body = stack
        .body
        .replace(&stamped, &format!("Deployment{complete}"));
    let document = yaml_serde::from_str(&body).ok()?;
    Some(RenderedStack {
        hash: content_hash(&body),
        body,
        document,
        ..stack.clone()
    })
}

/// A rendering failure, naming the template (and line) and what went wrong in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub template: PathBuf,
    pub line: Option<usize>,
    pub problem: RenderProblem,
}

/// What went wrong in a template; the words are in `Display` and `help`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderProblem {
    /// The render ran past its time bound; `place` says what was under way.
    TimedOut {
        place: String,
        seconds: u64,
    },
    OutOfMemory {
        place: String,
        mib: usize,
    },
    NoThread {
        place: String,
    },
    Alarms(alarms::DefinitionError),
    StackTooLarge {
        stack: String,
        bytes: usize,
    },
    Reference {
        stack: String,
        problem: references::Problem,
    },
    UnreadableDirectory {
        error: String,
    },
    /// The text fails a check made before Tera parses it.
    Shape {
        message: String,
        help: &'static str,
    },
    NotRegular,
    FileTooLarge {
        limit: usize,
    },
    Unreadable {
        error: String,
    },
    NotUtf8,
    MissingTemplate {
        stack: String,
        template: String,
        templates: String,
    },
    Recursion {
        message: String,
    },
    UnreadableFunction {
        error: String,
    },
    NoSuchTemplate {
        name: String,
    },
    /// Tera's error, its chain flattened.
    Tera {
        message: String,
    },
    InvalidYaml {
        error: String,
    },
    NoResources,
    DuplicateAlarm {
        name: String,
    },
}

impl fmt::Display for RenderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut { place, seconds } => {
                write!(f, "{place} did not finish within {seconds} s")
            }
            Self::OutOfMemory { place, mib } => {
                write!(f, "{place} used more than {mib} MiB of memory")
            }
            Self::NoThread { place } => {
                write!(f, "{place} could not start: no thread could be created")
            }
            Self::Alarms(e) => write!(f, "{e}"),
            Self::StackTooLarge { stack, bytes } => write!(
                f,
                "stack `{stack}` renders to {bytes} bytes, over the {MAX_TEMPLATE_BYTES} bytes CloudFormation accepts for a template in S3"
            ),
            Self::Reference { stack, problem } => {
                write!(f, "stack `{stack}`: {}", problem.message())
            }
            Self::UnreadableDirectory { error } => {
                write!(f, "cannot read the templates directory: {error}")
            }
            Self::Shape { message, .. } => f.write_str(message),
            Self::NotRegular => f.write_str("the template is not a regular file"),
            Self::FileTooLarge { limit } => write!(f, "the template is larger than {limit} bytes"),
            Self::Unreadable { error } => write!(f, "cannot read the template: {error}"),
            Self::NotUtf8 => f.write_str("the template is not UTF-8 text"),
            Self::MissingTemplate {
                stack,
                template,
                templates,
            } => write!(
                f,
                "stack `{stack}` names the template `{template}`, which does not exist under {templates}"
            ),
            Self::Recursion { message } | Self::Tera { message } => f.write_str(message),
            Self::UnreadableFunction { error } => {
                write!(f, "cannot read the function source: {error}")
            }
            Self::NoSuchTemplate { name } => write!(f, "template `{name}` does not exist"),
            Self::InvalidYaml { error } => {
                write!(f, "the rendered template is not valid YAML: {error}")
            }
            Self::NoResources => f.write_str("the rendered template has no `Resources` map"),
            Self::DuplicateAlarm { name } => {
                write!(f, "two alarm definitions are named `{name}`")
            }
        }
    }
}

impl RenderProblem {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            Self::TimedOut { .. } => "a loop runs too long: look for loops nested over large ranges or lists".into(),
            Self::OutOfMemory { .. } => "a value grows without bound: look for a string or list built from itself in a loop (as `set_global s = s ~ s`)".into(),
            Self::NoThread { .. } => "the process is at its thread or memory limit (ulimit -u, -v): raise it".into(),
            Self::Alarms(e) => e.help(),
            Self::StackTooLarge { .. } => "split the stack in two (a dependent stack reads the first one's outputs through `inputs`)".into(),
            Self::Reference { problem, .. } => problem.help().into(),
            Self::UnreadableDirectory { .. } => "check `project.templates` in deploy.toml".into(),
            Self::Shape { help, .. } => (*help).into(),
            Self::NotRegular => "templates are plain files: replace it with one".into(),
            Self::FileTooLarge { .. } => "split it into partials".into(),
            Self::Unreadable { .. } | Self::UnreadableFunction { .. } => "check the file's permissions".into(),
            Self::NotUtf8 => "save it as UTF-8".into(),
            Self::MissingTemplate { .. } => "fix the stack's `template` (a file name under templates/stacks/), or add the file".into(),
            Self::Recursion { .. } => "templates may not recurse (Tera has no depth limit and would overflow the stack): break the cycle".into(),
            Self::NoSuchTemplate { .. } => "fix the stack's `template` in deploy.toml or add the file".into(),
            Self::Tera { message } => tera_help(message).into(),
            Self::InvalidYaml { .. } => "render it with `facturactl render --out DIR` and look at that line; quote interpolated strings with `| json_encode`".into(),
            Self::NoResources => "a CloudFormation template needs at least one resource".into(),
            Self::DuplicateAlarm { .. } => "include the service name in each alarm's name".into(),
        }
    }
}

impl RenderError {
    fn new(template: PathBuf, line: Option<usize>, problem: RenderProblem) -> Self {
        Self {
            template,
            line,
            problem,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> String {
        self.problem.help()
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {}\n --> {}",
            self.problem,
            self.template.display()
        )?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, "\n  = help: {}", self.help())
    }
}

impl std::error::Error for RenderError {}

/// The Tera variables every template sees. Documented in `templates/README.md`.
#[derive(Serialize)]
struct TemplateContext<'a> {
    project: &'a crate::config::Project,
    env: EnvContext<'a>,
    stacks: &'a indexmap::IndexMap<String, crate::config::Stack>,
    services: &'a indexmap::IndexMap<String, crate::config::Service>,
    alarms: &'a indexmap::IndexMap<String, crate::config::AlarmSettings>,
    channels: &'a crate::config::Channels,
    /// `[models.<name>]`: retraining, rendered into the serving service's stack.
    models: &'a indexmap::IndexMap<String, crate::config::ModelSettings>,
    /// Sources under `templates/functions/`, by file stem, for inline Lambda code: the code
    /// stays a real file that can be linted and tested on its own.
    functions: BTreeMap<String, String>,
    /// The environment promoted from this one, in another account (`environment.promoted_to`):
    /// `environment`, `account_id`, `region`, `repositories`; null when there is none.
    promotion: Option<&'a crate::config::PromotionTarget>,
}

#[derive(Serialize)]
struct EnvContext<'a> {
    name: &'a str,
    tier: crate::config::Tier,
    production: bool,
    account_id: &'a str,
    region: &'a str,
    /// `<project>-<env>`: the prefix of resource names.
    prefix: String,
}

/// `stack`: set while rendering one stack's template.
#[derive(Serialize)]
struct StackContext {
    name: String,
    stack_name: String,
}

/// Renders every enabled stack and every alarm definition of the loaded environment.
/// Errors name template files relative to the project root, as config errors do. Runs
/// under `bound::Limits::default()`: no template can hang or crash the tool.
pub fn render(loaded: &LoadedConfig) -> Result<RenderedEnv, RenderError> {
    render_within(loaded, bound::Limits::default())
}

/// `render` under the given limits (the fuzzer's are smaller).
pub fn render_within(
    loaded: &LoadedConfig,
    limits: bound::Limits,
) -> Result<RenderedEnv, RenderError> {
    let owned = loaded.clone();
    let progress = std::sync::Arc::new(Progress::default());
    let watched = progress.clone();
    let outcome = bound::run(limits, move || render_inner(&owned, &watched))
        .unwrap_or_else(|exceeded| Err(stopped(loaded, &progress, exceeded)));
    outcome.map_err(|mut e| {
        if let Ok(relative) = e.template.strip_prefix(&loaded.root) {
            e.template = relative.to_path_buf();
        }
        e
    })
}

/// The templates being rendered right now, to name in an error if the render is stopped.
#[derive(Default)]
struct Progress(std::sync::Mutex<Vec<String>>);

impl Progress {
    fn start(&self, name: &str) {
        let name = name.to_string();
        if let Ok(mut names) = self.0.lock() {
            names.push(name);
        }
    }

    fn end(&self, name: &str) {
        if let Ok(mut names) = self.0.lock() {
            names.retain(|n| n != name);
        }
    }

    /// The first template under way. `try_lock`: a render thread stopped while holding
    /// the lock must not stop the caller too.
    fn first(&self) -> Option<String> {
        self.0.try_lock().ok()?.first().cloned()
    }
}

/// The error for a render stopped by its bounds.
fn stopped(loaded: &LoadedConfig, progress: &Progress, exceeded: bound::Exceeded) -> RenderError {
    let dir = loaded.templates_dir();
    let under_way = progress.first();
    let (template, place) = match &under_way {
        Some(name) => (dir.join(name), format!("rendering `{name}`")),
        None => (dir, "parsing the templates".to_string()),
    };
    let problem = match exceeded {
        bound::Exceeded::Time(limit) => RenderProblem::TimedOut {
            place,
            seconds: limit.as_secs(),
        },
        bound::Exceeded::Memory(limit) => RenderProblem::OutOfMemory {
            place,
            mib: limit >> 20,
        },
        bound::Exceeded::NoThread => RenderProblem::NoThread { place },
    };
    RenderError::new(template, None, problem)
}

fn render_inner(loaded: &LoadedConfig, progress: &Progress) -> Result<RenderedEnv, RenderError> {
    let templates_dir = loaded.templates_dir();
    let config = &loaded.config;
    let order = stack_order(config);
    // Parsing dominates rendering time: skip the templates of disabled stacks.
    let wanted: Vec<String> = order
        .iter()
        .map(|name| format!("stacks/{}", config.stacks[name].template))
        .collect();
    let tera = load_templates(&templates_dir, |name| {
        !name.starts_with("stacks/") || wanted.iter().any(|w| w == name)
    })?;
    missing_template(loaded, &tera, &order, &wanted)?;
    let ctx = TemplateContext {
        project: &config.project,
        env: EnvContext {
            name: &config.environment.name,
            tier: config.environment.tier,
            production: config.environment.tier == crate::config::Tier::Production,
            account_id: &config.environment.account_id,
            region: &config.environment.region,
            prefix: config.prefix(),
        },
        stacks: &config.stacks,
        services: &config.services,
        alarms: &config.alarms,
        channels: &config.channels,
        models: &config.models,
        functions: load_functions(&templates_dir)?,
        promotion: config.promotion.as_ref(),
    };
    // Serialized once; each stack only adds its own `stack` entry.
    let context =
        tera::Context::from_serialize(&ctx).map_err(|e| tera_error(&templates_dir, None, &e))?;

    // Stacks render independently: spread them over the cores, keeping their order.
    let jobs: Vec<(String, String)> = order.into_iter().zip(wanted).collect();
    let stacks = parallel_map(jobs, |(name, template_name)| {
        let mut context = context.clone();
        context.insert(
            "stack",
            &StackContext {
                name: name.clone(),
                stack_name: config.stack_name(&name),
            },
        );
        progress.start(&template_name);
        let rendered = render_stack(
            config,
            &tera,
            &templates_dir,
            name,
            &template_name,
            &context,
        );
        progress.end(&template_name);
        rendered
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;

    let mut alarm_defs = Vec::new();
    for template_name in tera
        .get_template_names()
        .filter(|n| n.starts_with("alarms/"))
        .collect::<std::collections::BTreeSet<_>>()
    {
        if !template_name.ends_with(".yaml.tera") {
            continue;
        }
        progress.start(template_name);
        let text = render_one(&tera, &templates_dir, template_name, &context)?;
        progress.end(template_name);
        let defined = alarms::from_rendered(&text, config).map_err(|e| {
            RenderError::new(
                templates_dir.join(template_name),
                e.line(),
                RenderProblem::Alarms(e),
            )
        })?;
        alarm_defs.extend(defined);
    }
    check_unique(&alarm_defs, &templates_dir)?;

    Ok(RenderedEnv {
        environment: config.environment.name.clone(),
        stacks,
        alarms: alarm_defs,
    })
}

fn render_stack(
    config: &Config,
    tera: &tera::Tera,
    templates_dir: &Path,
    name: String,
    template_name: &str,
    context: &tera::Context,
) -> Result<RenderedStack, RenderError> {
    let stack = &config.stacks[&name];
    let body = render_one(tera, templates_dir, template_name, context)?;
    if body.len() > MAX_TEMPLATE_BYTES {
        return Err(RenderError::new(
            templates_dir.join(template_name),
            None,
            RenderProblem::StackTooLarge {
                stack: name,
                bytes: body.len(),
            },
        ));
    }
    let mut document = parse_stack(&templates_dir.join(template_name), &body)?;
    if let Some(problem) = references::check(&document) {
        let template = templates_dir.join(template_name);
        let line = line_of_text(&template, problem.needle());
        return Err(RenderError::new(
            template,
            line,
            RenderProblem::Reference {
                stack: name,
                problem,
            },
        ));
    }
    let parameters: BTreeMap<String, String> = stack
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    let body = match api_definition_hash(&document, &parameters) {
        Some(hash) if body.contains(API_HASH_PLACEHOLDER) => {
            let body = body.replace(API_HASH_PLACEHOLDER, &hash);
            document = parse_stack(&templates_dir.join(template_name), &body)?;
            body
        }
        _ => body,
    };
    Ok(RenderedStack {
        stack_name: config.stack_name(&name),
        template_file: template_name.to_string(),
        hash: content_hash(&body),
        body,
        document,
        parameters,
        inputs: stack
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        depends_on: stack.dependencies(),
        tags: stack_tags(config, &name),
        termination_protection: stack.termination_protection,
        timeout_minutes: stack.timeout_minutes,
        name,
    })
}

/// Maps `items` on up to one thread per core, and returns the results in input order.
/// Workers take items from one queue and this thread works too, so a thread that cannot be
/// started costs only speed. Workers inherit the render's bounds (`bound`).
fn parallel_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    use std::sync::{Mutex, PoisonError};
    let count = items.len();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(count);
    if workers <= 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>());
    // Room for every result up front: pushing never allocates under the lock.
    let results = Mutex::new(Vec::with_capacity(count));
    let work = &|| {
        loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some((i, item)) = next else { return };
            let result = f(item);
            results
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((i, result));
        }
    };
    std::thread::scope(|scope| {
        let inherited = bound::inherit();
        for _ in 1..workers {
            let inherited = inherited.clone();
            let mut builder = std::thread::Builder::new();
            if let Some(stack) = inherited.stack() {
                builder = builder.stack_size(stack);
            }
            // A worker that cannot start leaves its share to the others.
            let _ = builder.spawn_scoped(scope, move || inherited.run(work));
        }
        work();
    });
    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Enabled stacks in dependency order (config validation has ruled out cycles).
fn stack_order(config: &Config) -> Vec<String> {
    let dependencies: Vec<(&str, Vec<String>)> = config
        .enabled_stacks()
        .map(|(n, s)| (n.as_str(), s.dependencies()))
        .collect();
    let graph = StackGraph::new(dependencies.iter().map(|(n, d)| (*n, d.as_slice())));
    graph
        .topological_order()
        .unwrap_or_else(|| config.enabled_stacks().map(|(n, _)| n.clone()).collect())
}

fn stack_tags(config: &Config, stack: &str) -> BTreeMap<String, String> {
    let mut tags = config.project.tags.clone();
    tags.extend(config.stacks[stack].tags.clone());
    tags.insert("facturactl:project".into(), config.project.name.clone());
    tags.insert(
        "facturactl:environment".into(),
        config.environment.name.clone(),
    );
    tags.insert("facturactl:stack".into(), stack.into());
    tags
}

pub fn content_hash(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// Reads the `*.tera` files under the templates directory that `wanted` accepts, sorted.
/// Partials (`partials/`) and alarm templates are always wanted.
fn load_templates(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<tera::Tera, RenderError> {
    let mut files = Vec::new();
    collect_templates(dir, dir, &mut files).map_err(|e| {
        RenderError::new(
            dir.to_path_buf(),
            None,
            RenderProblem::UnreadableDirectory {
                error: e.to_string(),
            },
        )
    })?;
    files.sort();
    let mut raw = Vec::with_capacity(files.len());
    for (name, path) in files.into_iter().filter(|(name, _)| wanted(name)) {
        let text = read_template(&path)?;
        raw.push((name, text));
    }
    shape::check(&raw).map_err(|p| {
        RenderError::new(
            dir.join(&p.file),
            Some(p.line),
            RenderProblem::Shape {
                message: p.message,
                help: p.help,
            },
        )
    })?;
    let tera = parse_templates(raw).map_err(|e| tera_error(dir, None, &e))?;
    // Tera recurses without a limit: a template that includes itself (directly or through
    // others), or macros that call each other, would overflow the stack, not fail.
    match recursion(dir, &tera) {
        Some(error) => Err(error),
        None => Ok(tera),
    }
}

/// A template's text: a regular file of at most `shape::MAX_FILE_BYTES` (a FIFO would
/// block the read, a device would never end), in UTF-8.
fn read_template(path: &Path) -> Result<String, RenderError> {
    let failed = |problem| RenderError::new(path.to_path_buf(), None, problem);
    let text = crate::files::read_bounded(path, shape::MAX_FILE_BYTES).map_err(|e| match e {
        crate::files::ReadError::NotRegular => failed(RenderProblem::NotRegular),
        crate::files::ReadError::TooLarge { limit } => {
            failed(RenderProblem::FileTooLarge { limit })
        }
        crate::files::ReadError::Io(e) => failed(RenderProblem::Unreadable {
            error: e.to_string(),
        }),
    })?;
    String::from_utf8(text).map_err(|_| failed(RenderProblem::NotUtf8))
}

/// A stack whose template file does not exist, reported where deploy.toml names it (the
/// file that is missing cannot be pointed at).
fn missing_template(
    loaded: &LoadedConfig,
    tera: &tera::Tera,
    stacks: &[String],
    templates: &[String],
) -> Result<(), RenderError> {
    let Some((stack, template)) = stacks
        .iter()
        .zip(templates)
        .find(|(_, t)| !tera.get_template_names().any(|n| n == t.as_str()))
    else {
        return Ok(());
    };
    let origin = loaded
        .sources
        .locate(&crate::config::source::path(["stacks", stack, "template"]));
    Err(RenderError::new(
        loaded.root.join(origin.file.as_path()),
        Some(origin.line),
        RenderProblem::MissingTemplate {
            stack: stack.clone(),
            template: template.clone(),
            templates: loaded.config.project.templates.clone(),
        },
    ))
}

/// The first recursion among the parsed templates, as an error naming the template and
/// the line of the call or include that closes the cycle.
fn recursion(dir: &Path, tera: &tera::Tera) -> Option<RenderError> {
    let cycle = recursion::find(tera)?;
    // Read again only on this error path: the parsed templates keep no text.
    let template = dir.join(&cycle.file);
    let line = line_of_text(&template, &cycle.needle);
    Some(RenderError::new(
        template,
        line,
        RenderProblem::Recursion {
            message: cycle.message,
        },
    ))
}

/// The `*.py` files of `templates/functions/`, by stem. No directory means no functions.
fn load_functions(dir: &Path) -> Result<BTreeMap<String, String>, RenderError> {
    let functions_dir = dir.join("functions");
    let Ok(entries) = std::fs::read_dir(&functions_dir) else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "py") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            RenderError::new(
                path.clone(),
                None,
                RenderProblem::UnreadableFunction {
                    error: e.to_string(),
                },
            )
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.insert(stem, text);
    }
    Ok(out)
}

/// A Tera instance with this project's filters, and Tera's global functions made safe for
/// infrastructure: `range` bounded (Tera's loops forever on `step_by=0` and allocates
/// whatever `end` asks), and no function that makes a render differ from run to run or read
/// the deployer's environment (`now`, `get_random`, `get_env`): the same config and
/// templates must always render the same stacks, and a template must not be able to copy a
/// credential into a stack.
fn new_tera() -> tera::Tera {
    let mut tera = tera::Tera::default();
    tera.register_filter("logical_id", logical_id_filter);
    // One count per Tera instance, that is per render: nested loops multiply.
    let given = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tera.register_function(
        "range",
        move |args: &std::collections::HashMap<String, tera::Value>| bounded_range(args, &given),
    );
    for name in ["now", "get_random", "get_env"] {
        tera.register_function(name, move |_: &std::collections::HashMap<String, tera::Value>| {
            Err(tera::Error::msg(format!(
                "`{name}()` is not available in facturactl templates: renders must be the same on every run and machine; pass the value through deploy.toml instead"
            )))
        });
    }
    tera
}

/// The most items one `range()` may give: far above any template's loop, far below memory.
const MAX_RANGE: usize = 10_000;
/// The most items all `range()` calls of one render may give together: a loop nested in a
/// loop calls `range` once per outer item, so three nested `range(end=10000)` (10^12
/// iterations) fail at once instead of running for days.
const MAX_RANGE_TOTAL: usize = 100_000;

fn bounded_range(
    args: &std::collections::HashMap<String, tera::Value>,
    given: &std::sync::atomic::AtomicUsize,
) -> tera::Result<tera::Value> {
    let number = |key: &str, default: Option<u64>| -> tera::Result<u64> {
        match args.get(key) {
            Some(value) => value.as_u64().ok_or_else(|| {
                tera::Error::msg(format!(
                    "`range` needs a whole number of 0 or more for `{key}`, got {value}"
                ))
            }),
            None => default.ok_or_else(|| tera::Error::msg(format!("`range` needs `{key}`"))),
        }
    };
    let start = number("start", Some(0))?;
    let end = number("end", None)?;
    let step = number("step_by", Some(1))?;
    if step == 0 {
        return Err(tera::Error::msg("`range` needs a `step_by` of 1 or more"));
    }
    if start > end {
        return Err(tera::Error::msg(
            "`range` needs `start` no greater than `end`",
        ));
    }
    let count = (end - start).div_ceil(step);
    if count > MAX_RANGE as u64 {
        return Err(tera::Error::msg(format!(
            "`range` would give {count} items; templates may loop at most {MAX_RANGE} times"
        )));
    }
    let before = given.fetch_add(count as usize, std::sync::atomic::Ordering::Relaxed);
    if before + count as usize > MAX_RANGE_TOTAL {
        return Err(tera::Error::msg(format!(
            "`range` calls would give more than {MAX_RANGE_TOTAL} items in all (loops over `range` nested in loops); templates may loop at most that many times per render"
        )));
    }
    Ok(tera::Value::from(
        (start..end)
            .step_by(usize::try_from(step).unwrap_or(usize::MAX))
            .collect::<Vec<u64>>(),
    ))
}

/// `"ops-email" | logical_id` is `OpsEmail`: a name made usable as a CloudFormation logical
/// id. (Tera's `title` would do it through a Unicode regex whose compilation costs more than
/// the rest of a render.)
fn logical_id_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("logical_id takes a string"))?;
    Ok(tera::Value::String(logical_id(text)))
}

/// Parsing is most of a render's time, and templates parse independently: parse shards on
/// the available cores, then merge. A shard can fail only because a template refers to one
/// in another shard (macro imports), or on a real error; either way a plain sequential parse
/// then decides, and reports the error exactly as it would have.
fn parse_templates(raw: Vec<(String, String)>) -> tera::Result<tera::Tera> {
    let sequential = |raw: Vec<(String, String)>| {
        let mut tera = new_tera();
        tera.add_raw_templates(raw)?;
        Ok(tera)
    };
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if workers <= 1 || raw.len() < 2 {
        return sequential(raw);
    }
    // Largest first onto the lightest shard balances parse time.
    let mut by_size = raw.clone();
    by_size.sort_by_key(|(_, text)| std::cmp::Reverse(text.len()));
    let mut shards: Vec<(usize, Vec<(String, String)>)> =
        (0..workers).map(|_| (0, Vec::new())).collect();
    for item in by_size {
        if let Some(lightest) = shards.iter_mut().min_by_key(|(size, _)| *size) {
            lightest.0 += item.1.len();
            lightest.1.push(item);
        }
    }
    let parsed = parallel_map(shards.into_iter().map(|(_, s)| s).collect(), sequential);
    let mut merged = new_tera();
    for shard in &parsed {
        match shard {
            Ok(shard) => merged.extend(shard)?,
            Err(_) => return sequential(raw),
        }
    }
    Ok(merged)
}

fn collect_templates(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_templates(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "tera") {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
    Ok(())
}

fn render_one(
    tera: &tera::Tera,
    dir: &Path,
    name: &str,
    context: &tera::Context,
) -> Result<String, RenderError> {
    if !tera.get_template_names().any(|n| n == name) {
        return Err(RenderError::new(
            dir.join(name),
            None,
            RenderProblem::NoSuchTemplate {
                name: name.to_string(),
            },
        ));
    }
    tera.render(name, context)
        .map_err(|e| tera_error(dir, Some(name), &e))
}

/// Tera nests the useful message in the error's sources; flatten the chain.
fn tera_error(dir: &Path, name: Option<&str>, error: &tera::Error) -> RenderError {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let message = parts.join(": ");
    // The innermost template named: a render error inside a partial says "while rendering
    // 'partials/x.tera'"; a parse error names its template in quotes; otherwise `name`.
    let named = message
        .split('\'')
        .rfind(|t| t.ends_with(".tera"))
        .map(str::to_string)
        .or_else(|| name.map(str::to_string));
    let template = named
        .as_ref()
        .map_or_else(|| dir.to_path_buf(), |n| dir.join(n));
    // Tera's parse errors carry `--> LINE:COLUMN`; render errors carry no line, so the line
    // is the first that holds what the error names (the variable, filter, function or file).
    let line = message
        .split("--> ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .or_else(|| line_naming(&template, &message));
    RenderError::new(template, line, RenderProblem::Tera { message })
}

/// The first line of `template` holding `needle`.
fn line_of_text(template: &Path, needle: &str) -> Option<usize> {
    let text = std::fs::read_to_string(template).ok()?;
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The first line of `template` holding a name the message quotes (not a template's).
fn line_naming(template: &Path, message: &str) -> Option<usize> {
    let text = std::fs::read_to_string(template).ok()?;
    let quoted = regex::Regex::new(r"[`']\[?([^`'\]]+)\]?[`']").ok()?;
    let current = template.to_string_lossy();
    quoted
        .captures_iter(message)
        .map(|c| c[1].to_string())
        .filter(|n| !n.ends_with(".tera") || !current.ends_with(n.as_str()))
        .find_map(|needle| text.lines().position(|l| l.contains(&needle)))
        .map(|index| index + 1)
}

fn tera_help(message: &str) -> &'static str {
    if message.contains("Filter '") && message.contains("not found") {
        "Tera's built-in filters and `logical_id` are available: check the filter's name"
    } else if message.contains("Template '") && message.contains("not found") {
        "include and import name files under the templates directory, as \"partials/ecs-service.tera\""
    } else if message.contains("Function") {
        "Tera's `range` and `throw` are available; values from outside come through deploy.toml"
    } else {
        "variables templates can use are listed in templates/README.md"
    }
}

fn parse_stack(path: &Path, body: &str) -> Result<yaml_serde::Value, RenderError> {
    let document: yaml_serde::Value = yaml_serde::from_str(body).map_err(|e| {
        RenderError::new(
            path.to_path_buf(),
            e.location().map(|l| l.line()),
            RenderProblem::InvalidYaml {
                error: e.to_string(),
            },
        )
    })?;
    if document
        .get("Resources")
        .and_then(|r| r.as_mapping())
        .is_none()
    {
        return Err(RenderError::new(
            path.to_path_buf(),
            None,
            RenderProblem::NoResources,
        ));
    }
    Ok(document)
}

impl RenderedStack {
    /// A stack known by its deployed template alone (one the configuration no longer
    /// defines), so that it can be deleted as a rendered one is: its buckets emptied first.
    pub fn deployed(name: &str, stack_name: &str, body: &str) -> Self {
        Self {
            name: name.to_string(),
            stack_name: stack_name.to_string(),
            template_file: String::new(),
            body: body.to_string(),
            document: yaml_serde::from_str(body).unwrap_or(yaml_serde::Value::Null),
            hash: content_hash(body),
            parameters: BTreeMap::new(),
            inputs: BTreeMap::new(),
            depends_on: Vec::new(),
            tags: BTreeMap::new(),
            termination_protection: false,
            timeout_minutes: 60,
        }
    }

    /// The template's resources: logical id and definition, in template order.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &yaml_serde::Value)> {
        section(&self.document, "Resources")
    }

    /// The template's parameter declarations: name and definition.
    pub fn declared_parameters(&self) -> impl Iterator<Item = (&str, &yaml_serde::Value)> {
        section(&self.document, "Parameters")
    }

    /// Logical ids of the resources of one type.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a yaml_serde::Value)> {
        self.resources()
            .filter(move |(_, r)| r.get("Type").and_then(|t| t.as_str()) == Some(kind))
    }
}

fn section<'a>(
    document: &'a yaml_serde::Value,
    name: &str,
) -> impl Iterator<Item = (&'a str, &'a yaml_serde::Value)> {
    document
        .get(name)
        .and_then(|s| s.as_mapping())
        .into_iter()
        .flat_map(|m| m.iter())
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
}

impl RenderedEnv {
    /// Writes `<stack>.yaml`, `<stack>.params.json` and `alarms.json` into `dir`, and an
    /// `index.json` with every hash. Returns the files written.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for stack in &self.stacks {
            files.push((
                format!("{}.yaml", stack.name),
                stack.body.clone().into_bytes(),
            ));
            let params = serde_json::json!({
                "stack_name": stack.stack_name,
                "hash": stack.hash,
                "parameters": stack.parameters,
                "inputs": stack.inputs,
                "tags": stack.tags,
            });
            files.push((
                format!("{}.params.json", stack.name),
                to_pretty_json(&params),
            ));
        }
        files.push(("alarms.json".into(), to_pretty_json(&self.alarms)));
        files.push(("index.json".into(), to_pretty_json(self)));
        write_all_or_none(dir, &files)
    }
}

/// Writes every file or none: each goes to a temporary name first, and only when all are
/// written are they renamed into place; a failure removes the temporary files, so a full
/// disk or a bad path never leaves half a rendering that looks whole.
fn write_all_or_none(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    for (name, _) in files {
        let path = dir.join(name);
        if path.exists() && !path.is_file() {
            return Err(std::io::Error::other(format!(
                "{} exists and is not a file",
                path.display()
            )));
        }
    }
    let temporary = |name: &str| dir.join(format!(".{name}.partial-{}", std::process::id()));
    let mut written = Vec::new();
    for (name, contents) in files {
        let path = temporary(name);
        if let Err(e) = std::fs::write(&path, contents) {
            let _ = std::fs::remove_file(&path);
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        written.push(path);
    }
    let mut placed = Vec::with_capacity(files.len());
    for (name, _) in files {
        let path = dir.join(name);
        std::fs::rename(temporary(name), &path)?;
        placed.push(path);
    }
    Ok(placed)
}

fn to_pretty_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Alarm names are CloudWatch's identity: two definitions with one name would overwrite
/// each other on every deploy.
fn check_unique(alarms: &[AlarmDefinition], dir: &Path) -> Result<(), RenderError> {
    let mut seen = std::collections::BTreeSet::new();
    for alarm in alarms {
        if !seen.insert(alarm.name.as_str()) {
            return Err(RenderError::new(
                dir.join("alarms"),
                None,
                RenderProblem::DuplicateAlarm {
                    name: alarm.name.clone(),
                },
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_fails_midway_leaves_no_file_behind() {
        let dir = std::env::temp_dir().join(format!("facturactl-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The second file's temporary name is taken by a directory: its write fails after
        // the first file's has succeeded.
        std::fs::create_dir(dir.join(format!(".b.json.partial-{}", std::process::id()))).unwrap();
        let files = vec![
            ("a.yaml".to_string(), b"a".to_vec()),
            ("b.json".to_string(), b"b".to_vec()),
        ];
        assert!(super::write_all_or_none(&dir, &files).is_err());
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".b.json"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        // A target that is a directory is refused before anything is written.
        std::fs::remove_dir(dir.join(format!(".b.json.partial-{}", std::process::id()))).unwrap();
        std::fs::create_dir(dir.join("b.json")).unwrap();
        assert!(super::write_all_or_none(&dir, &files).is_err());
        assert!(!dir.join("a.yaml").exists());
        std::fs::remove_dir(dir.join("b.json")).unwrap();
        let placed = super::write_all_or_none(&dir, &files).unwrap();
        assert_eq!(placed.len(), 2);
        assert_eq!(std::fs::read(dir.join("b.json")).unwrap(), b"b");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn logical_ids_are_pascal_case_alphanumerics() {
        assert_eq!(logical_id("ops-email"), "OpsEmail");
        assert_eq!(logical_id("invoices"), "Invoices");
        assert_eq!(logical_id("dev_monitoring-2"), "DevMonitoring2");
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            content_hash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

#[cfg(test)]
mod function_tests {
    use super::*;

    fn render(text: &str) -> Result<String, String> {
        let mut tera = new_tera();
        tera.add_raw_template("t", text)
            .map_err(|e| e.to_string())?;
        tera.render("t", &tera::Context::new()).map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            message
        })
    }

    #[test]
    fn range_is_bounded_and_never_loops_forever() {
        assert_eq!(
            render("{% for i in range(end=3) %}{{ i }}{% endfor %}"),
            Ok("012".into())
        );
        assert_eq!(
            render("{% for i in range(start=1, end=8, step_by=3) %}{{ i }}{% endfor %}"),
            Ok("147".into())
        );
        assert!(
            render("{{ range(end=3, step_by=0) }}")
                .unwrap_err()
                .contains("step_by")
        );
        assert!(
            render("{{ range(end=100000000000) }}")
                .unwrap_err()
                .contains("at most 10000")
        );
        assert!(
            render("{{ range(start=5, end=3) }}")
                .unwrap_err()
                .contains("no greater")
        );
    }

    #[test]
    fn renders_cannot_read_the_clock_randomness_or_environment() {
        for call in ["now()", "get_random(end=9)", "get_env(name=\"HOME\")"] {
            let error = render(&format!("{{{{ {call} }}}}")).unwrap_err();
            assert!(
                error.contains("not available in facturactl templates"),
                "{call}: {error}"
            );
        }
    }
}
