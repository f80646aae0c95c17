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
use crate::config::{Config, LoadedConfig, OutputRef};
use crate::graph::StackGraph;

/// Everything one environment deploys, rendered.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedEnv {
    pub environment: String,
    /// Enabled stacks, dependencies first.
    pub stacks: Vec<RenderedStack>,
    pub alarms: Vec<AlarmDefinition>,
}

#[derive(Debug, Clone, Serialize)]
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
    pub document: serde_yaml::Value,
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
pub const API_HASH_PLACEHOLDER: &str = "ApiDefinitionHash";

/// A short hash of the API Gateway resources of a stack that a deployment snapshots
/// (every `AWS::ApiGateway::*` but deployments and stages); none without any.
pub fn api_definition_hash(document: &serde_yaml::Value) -> Option<String> {
    use sha2::{Digest, Sha256};
    let resources = document.get("Resources")?.as_mapping()?;
    let mut hasher = Sha256::new();
    let mut any = false;
    for (id, resource) in resources {
        let kind = resource.get("Type").and_then(serde_yaml::Value::as_str)?;
        let snapshotted = kind.starts_with("AWS::ApiGateway::")
            && !matches!(
                kind,
                "AWS::ApiGateway::Deployment" | "AWS::ApiGateway::Stage"
            );
        if snapshotted {
            any = true;
            hasher.update(serde_yaml::to_string(id).unwrap_or_default());
            hasher.update(serde_yaml::to_string(resource).unwrap_or_default());
        }
    }
    let digest = hasher.finalize();
    any.then(|| digest.iter().take(6).map(|b| format!("{b:02x}")).collect())
}

/// A rendering failure, naming the template and what went wrong in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub template: PathBuf,
    pub line: Option<usize>,
    pub message: String,
    pub help: String,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {}\n --> {}",
            self.message,
            self.template.display()
        )?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, "\n  = help: {}", self.help)
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
    /// Sources under `templates/functions/`, by file stem, for inline Lambda code: the code
    /// stays a real file that can be linted and tested on its own.
    functions: BTreeMap<String, String>,
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
/// Errors name template files relative to the project root, as config errors do.
pub fn render(loaded: &LoadedConfig) -> Result<RenderedEnv, RenderError> {
    render_inner(loaded).map_err(|mut e| {
        if let Ok(relative) = e.template.strip_prefix(&loaded.root) {
            e.template = relative.to_path_buf();
        }
        e
    })
}

fn render_inner(loaded: &LoadedConfig) -> Result<RenderedEnv, RenderError> {
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
        functions: load_functions(&templates_dir)?,
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
        render_stack(config, &tera, &templates_dir, name, template_name, &context)
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
        let text = render_one(&tera, &templates_dir, template_name, &context)?;
        let defined = alarms::from_rendered(&text, config).map_err(|e| RenderError {
            template: templates_dir.join(template_name),
            line: e.line,
            message: e.message,
            help: e.help,
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
    template_name: String,
    context: &tera::Context,
) -> Result<RenderedStack, RenderError> {
    let stack = &config.stacks[&name];
    let body = render_one(tera, templates_dir, &template_name, context)?;
    if body.len() > MAX_TEMPLATE_BYTES {
        return Err(RenderError {
            template: templates_dir.join(&template_name),
            line: None,
            message: format!(
                "stack `{name}` renders to {} bytes, over the {MAX_TEMPLATE_BYTES} bytes CloudFormation accepts for a template in S3",
                body.len()
            ),
            help: "split the stack in two (a dependent stack reads the first one's outputs through `inputs`)".into(),
        });
    }
    let mut document = parse_stack(&templates_dir.join(&template_name), &body)?;
    let body = match api_definition_hash(&document) {
        Some(hash) if body.contains(API_HASH_PLACEHOLDER) => {
            let body = body.replace(API_HASH_PLACEHOLDER, &hash);
            document = parse_stack(&templates_dir.join(&template_name), &body)?;
            body
        }
        _ => body,
    };
    Ok(RenderedStack {
        stack_name: config.stack_name(&name),
        template_file: template_name,
        hash: content_hash(&body),
        body,
        document,
        parameters: stack
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
        inputs: stack
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        depends_on: stack.depends_on.clone(),
        tags: stack_tags(config, &name),
        termination_protection: stack.termination_protection,
        timeout_minutes: stack.timeout_minutes,
        name,
    })
}

/// Maps `items` on up to one thread per core, and returns the results in input order.
fn parallel_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len());
    if workers <= 1 {
        return items.into_iter().map(f).collect();
    }
    // Round-robin into one bucket per worker, remembering each item's position.
    let mut buckets: Vec<Vec<(usize, T)>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        buckets[i % workers].push((i, item));
    }
    let f = &f;
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = buckets
            .into_iter()
            .map(|bucket| {
                scope.spawn(move || {
                    bucket
                        .into_iter()
                        .map(|(i, t)| (i, f(t)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Enabled stacks in dependency order (config validation has ruled out cycles).
fn stack_order(config: &Config) -> Vec<String> {
    let graph = StackGraph::new(
        config
            .enabled_stacks()
            .map(|(n, s)| (n.as_str(), s.depends_on.as_slice())),
    );
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
    collect_templates(dir, dir, &mut files).map_err(|e| RenderError {
        template: dir.to_path_buf(),
        line: None,
        message: format!("cannot read the templates directory: {e}"),
        help: "check `project.templates` in deploy.toml".into(),
    })?;
    files.sort();
    let mut raw = Vec::with_capacity(files.len());
    for (name, path) in files.into_iter().filter(|(name, _)| wanted(name)) {
        let text = std::fs::read_to_string(&path).map_err(|e| RenderError {
            template: path.clone(),
            line: None,
            message: format!("cannot read the template: {e}"),
            help: "check the file's permissions".into(),
        })?;
        raw.push((name, text));
    }
    // Tera recurses without a limit: a template that includes itself (directly or through
    // others), or a macro that calls itself, would overflow the stack, not fail.
    if let Some(error) = recursion(dir, &raw) {
        return Err(error);
    }
    parse_templates(raw).map_err(|e| tera_error(dir, None, &e))
}

/// The first include/import cycle or self-calling macro among the templates, as an error
/// naming the template and line.
fn recursion(dir: &Path, raw: &[(String, String)]) -> Option<RenderError> {
    let include = regex::Regex::new(r#"\{%-?\s*(?:include|import|extends)\s+"([^"]+)""#).ok()?;
    let mut edges: BTreeMap<&str, Vec<(String, usize)>> = BTreeMap::new();
    for (name, text) in raw {
        for (index, line) in text.lines().enumerate() {
            for found in include.captures_iter(line) {
                edges
                    .entry(name.as_str())
                    .or_default()
                    .push((found[1].to_string(), index + 1));
            }
        }
        if let Some(error) = self_calling_macro(dir, name, text) {
            return Some(error);
        }
    }
    for (name, _) in raw {
        let mut path = vec![name.clone()];
        if let Some(line) = cycle_from(&edges, name, &mut path) {
            return Some(RenderError {
                template: dir.join(name),
                line: Some(line),
                message: format!("recursive include: {}", path.join(" -> ")),
                help:
                    "a template cannot include itself, directly or through others: break the cycle"
                        .into(),
            });
        }
    }
    None
}

/// The line of the include in `start` that leads back to `start`, with `path` holding the
/// cycle (`start`, ..., `start`).
fn cycle_from(
    edges: &BTreeMap<&str, Vec<(String, usize)>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<usize> {
    for (next, line) in edges.get(start).into_iter().flatten() {
        path.push(next.clone());
        if next == start || reaches(edges, next, start, path) {
            return Some(*line);
        }
        path.pop();
    }
    None
}

/// Whether `target` is reachable from `from` through includes not yet on `path`; on
/// success `path` ends with `target`.
fn reaches(
    edges: &BTreeMap<&str, Vec<(String, usize)>>,
    from: &str,
    target: &str,
    path: &mut Vec<String>,
) -> bool {
    for (next, _) in edges.get(from).into_iter().flatten() {
        if next == target {
            path.push(next.clone());
            return true;
        }
        if path.contains(next) {
            continue;
        }
        path.push(next.clone());
        if reaches(edges, next, target, path) {
            return true;
        }
        path.pop();
    }
    false
}

/// A macro whose body calls the macro itself (`self::name(` or `<ns>::name(`).
fn self_calling_macro(dir: &Path, name: &str, text: &str) -> Option<RenderError> {
    let definition = regex::Regex::new(r"\{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").ok()?;
    let mut open: Option<(String, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        if let Some(found) = definition.captures(line) {
            open = Some((found[1].to_string(), index + 1));
            continue;
        }
        if line.contains("endmacro") {
            open = None;
            continue;
        }
        if let Some((macro_name, _)) = &open
            && line.contains(&format!("::{macro_name}("))
        {
            return Some(RenderError {
                template: dir.join(name),
                line: Some(index + 1),
                message: format!("macro `{macro_name}` calls itself"),
                help: "templates may not recurse (Tera has no depth limit): unroll the macro"
                    .into(),
            });
        }
    }
    None
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
        let text = std::fs::read_to_string(&path).map_err(|e| RenderError {
            template: path.clone(),
            line: None,
            message: format!("cannot read the function source: {e}"),
            help: "check the file's permissions".into(),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.insert(stem, text);
    }
    Ok(out)
}

/// A Tera instance with this project's filters.
fn new_tera() -> tera::Tera {
    let mut tera = tera::Tera::default();
    tera.register_filter("logical_id", logical_id_filter);
    tera
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

pub fn logical_id(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
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
        return Err(RenderError {
            template: dir.join(name),
            line: None,
            message: format!("template `{name}` does not exist"),
            help: "fix the stack's `template` in deploy.toml or add the file".into(),
        });
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
    // Tera's parse errors carry `--> LINE:COLUMN` of the template.
    let line = message
        .split("--> ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse().ok());
    // A parse error names its template in quotes; other errors are about `name`.
    let template = message
        .split('\'')
        .nth(1)
        .filter(|t| t.ends_with(".tera"))
        .map(|t| dir.join(t))
        .or_else(|| name.map(|n| dir.join(n)))
        .unwrap_or_else(|| dir.to_path_buf());
    RenderError {
        template,
        line,
        message,
        help: "variables templates can use are listed in templates/README.md".into(),
    }
}

fn parse_stack(path: &Path, body: &str) -> Result<serde_yaml::Value, RenderError> {
    let document: serde_yaml::Value = serde_yaml::from_str(body).map_err(|e| RenderError {
        template: path.to_path_buf(),
        line: e.location().map(|l| l.line()),
        message: format!("the rendered template is not valid YAML: {e}"),
        help: "render it with `facturactl render --out DIR` and look at that line; quote interpolated strings with `| json_encode`".into(),
    })?;
    if document
        .get("Resources")
        .and_then(|r| r.as_mapping())
        .is_none()
    {
        return Err(RenderError {
            template: path.to_path_buf(),
            line: None,
            message: "the rendered template has no `Resources` map".into(),
            help: "a CloudFormation template needs at least one resource".into(),
        });
    }
    Ok(document)
}

impl RenderedStack {
    /// The template's resources: logical id and definition, in template order.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &serde_yaml::Value)> {
        section(&self.document, "Resources")
    }

    /// The template's parameter declarations: name and definition.
    pub fn declared_parameters(&self) -> impl Iterator<Item = (&str, &serde_yaml::Value)> {
        section(&self.document, "Parameters")
    }

    /// Logical ids of the resources of one type.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a serde_yaml::Value)> {
        self.resources()
            .filter(move |(_, r)| r.get("Type").and_then(|t| t.as_str()) == Some(kind))
    }
}

fn section<'a>(
    document: &'a serde_yaml::Value,
    name: &str,
) -> impl Iterator<Item = (&'a str, &'a serde_yaml::Value)> {
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
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        let mut write = |name: String, contents: &[u8]| -> std::io::Result<()> {
            let path = dir.join(name);
            std::fs::write(&path, contents)?;
            written.push(path);
            Ok(())
        };
        for stack in &self.stacks {
            write(format!("{}.yaml", stack.name), stack.body.as_bytes())?;
            let params = serde_json::json!({
                "stack_name": stack.stack_name,
                "hash": stack.hash,
                "parameters": stack.parameters,
                "inputs": stack.inputs,
                "tags": stack.tags,
            });
            write(
                format!("{}.params.json", stack.name),
                &to_pretty_json(&params),
            )?;
        }
        write("alarms.json".into(), &to_pretty_json(&self.alarms))?;
        write("index.json".into(), &to_pretty_json(self))?;
        Ok(written)
    }
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
            return Err(RenderError {
                template: dir.join("alarms"),
                line: None,
                message: format!("two alarm definitions are named `{}`", alarm.name),
                help: "include the service name in each alarm's name".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
mod recursion_tests {
    use super::*;

    fn raw(files: &[(&str, &str)]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
            .collect()
    }

    #[test]
    fn include_cycles_and_self_calling_macros_are_errors_not_stack_overflows() {
        let dir = Path::new("templates");
        let cycle = raw(&[
            ("stacks/a.tera", "x\n{% include \"partials/b.tera\" %}\n"),
            ("partials/b.tera", "{%- include \"partials/c.tera\" %}"),
            ("partials/c.tera", "{% include \"partials/b.tera\" %}"),
        ]);
        let error = recursion(dir, &cycle).expect("a cycle");
        assert_eq!(
            error.message,
            "recursive include: partials/b.tera -> partials/c.tera -> partials/b.tera"
        );
        assert_eq!(error.line, Some(1));
        let macro_ = raw(&[(
            "partials/m.tera",
            "{% macro deep(n) %}\n{{ self::deep(n=n) }}\n{% endmacro deep %}\n",
        )]);
        let error = recursion(dir, &macro_).expect("a self-calling macro");
        assert_eq!(error.message, "macro `deep` calls itself");
        assert_eq!(error.line, Some(2));
        let fine = raw(&[
            ("stacks/a.tera", "{% include \"partials/b.tera\" %}"),
            ("partials/b.tera", "{% macro m() %}x{% endmacro m %}"),
        ]);
        assert!(recursion(dir, &fine).is_none());
    }
}
