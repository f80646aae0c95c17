//! Configuration files as located trees.
//!
//! `deploy.toml` and `environments/<env>.yaml` are parsed into [`Node`]s that remember the
//! file, line and column of every key and value. Layering works on these trees, so after a
//! merge each value still knows which file it came from, and any later error (a wrong type, an
//! unknown stack, a threshold out of range) can point at the exact place to fix.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, SpannedEventReceiver};

use super::diagnostic::{ConfigError, Origin, Problem};

/// A scalar, list or map, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(IndexMap<String, Entry>),
}

/// A map entry: the key's own origin (for "unknown key" errors) and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key_origin: Origin,
    pub node: Node,
}

impl Node {
    pub fn kind(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::List(_) => "a list",
            NodeValue::Map(_) => "a map",
        }
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, Entry>> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Converts to JSON for typed deserialization; origins stay behind in `self`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, e)| (k.clone(), e.node.to_json()))
                    .collect(),
            ),
        }
    }

    /// The origin of the value at `path`, or of the key when `key_only`; when the path
    /// leaves the tree, the deepest node that exists (a missing key is reported where its map is).
    pub fn locate(&self, path: &[PathSegment]) -> Origin {
        let mut node = self;
        let mut origin = &self.origin;
        for segment in path {
            match (segment, &node.value) {
                (PathSegment::Key(k), NodeValue::Map(m)) => match m.get(k.as_str()) {
                    Some(e) => {
                        node = &e.node;
                        // A YAML map "starts" at its first child; its key is where a
                        // reader looks for it.
                        origin = if matches!(e.node.value, NodeValue::Map(_)) {
                            &e.key_origin
                        } else {
                            &e.node.origin
                        };
                    }
                    None => return origin.clone(),
                },
                (PathSegment::Index(i), NodeValue::List(items)) => match items.get(*i) {
                    Some(n) => {
                        node = n;
                        origin = &n.origin;
                    }
                    None => return origin.clone(),
                },
                _ => return origin.clone(),
            }
        }
        origin.clone()
    }

    /// The origin of a map key itself, for "unknown key" errors.
    pub fn locate_key(&self, path: &[PathSegment]) -> Origin {
        let Some((last, parent)) = path.split_last() else {
            return self.origin.clone();
        };
        let parent_origin = self.locate(parent);
        let mut node = self;
        for segment in parent {
            let next = match (segment, &node.value) {
                (PathSegment::Key(k), NodeValue::Map(m)) => m.get(k.as_str()).map(|e| &e.node),
                (PathSegment::Index(i), NodeValue::List(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return parent_origin,
            }
        }
        match (last, &node.value) {
            (PathSegment::Key(k), NodeValue::Map(m)) => m
                .get(k.as_str())
                .map(|e| e.key_origin.clone())
                .unwrap_or(parent_origin),
            _ => self.locate(path),
        }
    }
}

/// One step of a path into the config, as `stacks.api.depends_on[1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Builds a path from string keys, the common case in validation code.
pub fn path<const N: usize>(keys: [&str; N]) -> Vec<PathSegment> {
    keys.iter()
        .map(|k| PathSegment::Key((*k).to_string()))
        .collect()
}

pub fn display_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Byte offsets to line and column, with the line starts indexed once per file (a lookup
/// per key would otherwise rescan the file from the top).
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    /// Line and column (both 1-based) of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|start| *start <= offset);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

// ---------------------------------------------------------------- TOML

pub fn parse_toml(file: &Path, text: &str) -> Result<Node, ConfigError> {
    let file = Arc::new(file.to_path_buf());
    let index = LineIndex::new(text);
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let (line, column) = e.span().map(|s| index.line_col(s.start)).unwrap_or((1, 1));
        ConfigError::new(
            Origin {
                file: file.clone(),
                line,
                column,
            },
            SourceProblem::InvalidToml {
                reason: e.message().trim().to_string(),
            },
        )
    })?;
    let at = |span: Option<std::ops::Range<usize>>| {
        let (line, column) = span.map(|s| index.line_col(s.start)).unwrap_or((1, 1));
        Origin {
            file: file.clone(),
            line,
            column,
        }
    };
    let root = toml_table(doc.as_table(), at(None), &at);
    finite(&root)?;
    Ok(root)
}

/// A number that is not finite (`nan`, `inf`, `1e999`, YAML's `.inf`) has no JSON form: it
/// would reach the validator as null and the setting would vanish (a guard rail of `nan`
/// silently gone). Refused at its line.
fn finite(node: &Node) -> Result<(), ConfigError> {
    match &node.value {
        NodeValue::Float(f) if !f.is_finite() => Err(ConfigError::new(
            node.origin.clone(),
            SourceProblem::NotFinite { value: *f },
        )),
        NodeValue::List(items) => items.iter().try_for_each(finite),
        NodeValue::Map(map) => map.values().try_for_each(|e| finite(&e.node)),
        _ => Ok(()),
    }
}

fn toml_table(
    table: &toml_edit::Table,
    origin: Origin,
    at: &dyn Fn(Option<std::ops::Range<usize>>) -> Origin,
) -> Node {
    let mut map = IndexMap::new();
    for (key, item) in table.iter() {
        let key_origin = at(table.key(key).and_then(|k| k.span()));
        if let Some(node) = toml_item(item, key_origin.clone(), at) {
            map.insert(key.to_string(), Entry { key_origin, node });
        }
    }
    Node {
        value: NodeValue::Map(map),
        origin,
    }
}

fn toml_item(
    item: &toml_edit::Item,
    key_origin: Origin,
    at: &dyn Fn(Option<std::ops::Range<usize>>) -> Origin,
) -> Option<Node> {
    // Implicit tables (`[a.b]` creating `a`) have no span of their own: use the key's.
    let origin = item.span().map(|s| at(Some(s))).unwrap_or(key_origin);
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(v) => Some(toml_value(v, at)),
        toml_edit::Item::Table(t) => Some(toml_table(t, origin, at)),
        toml_edit::Item::ArrayOfTables(a) => Some(Node {
            value: NodeValue::List(a.iter().map(|t| toml_table(t, at(t.span()), at)).collect()),
            origin,
        }),
    }
}

fn toml_value(
    value: &toml_edit::Value,
    at: &dyn Fn(Option<std::ops::Range<usize>>) -> Origin,
) -> Node {
    use toml_edit::Value as V;
    let origin = at(value.span());
    let value = match value {
        V::String(s) => NodeValue::Str(s.value().clone()),
        V::Integer(i) => NodeValue::Int(*i.value()),
        V::Float(f) => NodeValue::Float(*f.value()),
        V::Boolean(b) => NodeValue::Bool(*b.value()),
        V::Datetime(d) => NodeValue::Str(d.value().to_string()),
        V::Array(a) => NodeValue::List(a.iter().map(|v| toml_value(v, at)).collect()),
        V::InlineTable(t) => {
            let mut map = IndexMap::new();
            for (key, v) in t.iter() {
                let key_origin = at(t.key(key).and_then(|k| k.span()));
                map.insert(
                    key.to_string(),
                    Entry {
                        key_origin,
                        node: toml_value(v, at),
                    },
                );
            }
            NodeValue::Map(map)
        }
    };
    Node { value, origin }
}

// ---------------------------------------------------------------- YAML

/// Parses one YAML document. Anchors and aliases are refused: an overlay should say what it
/// means where it says it, and an alias would hide where a value came from.
pub fn parse_yaml(file: &Path, text: &str) -> Result<Node, ConfigError> {
    let file = Arc::new(file.to_path_buf());
    let mut builder = YamlBuilder {
        file: file.clone(),
        text: text.to_string(),
        stack: Vec::new(),
        root: None,
        documents: 0,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    // All documents are read: a second one would otherwise be dropped without a word.
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(ConfigError::new(
            yaml_origin(&file, e.marker()),
            SourceProblem::InvalidYaml {
                reason: e.info().to_string(),
            },
        ));
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    if let Some(root) = &builder.root {
        finite(root)?;
    }
    Ok(builder.root.unwrap_or(Node {
        // An empty overlay is a valid overlay that changes nothing.
        value: NodeValue::Map(IndexMap::new()),
        origin: Origin {
            file,
            line: 1,
            column: 1,
        },
    }))
}

fn yaml_origin(file: &Arc<PathBuf>, mark: &Marker) -> Origin {
    Origin {
        file: file.clone(),
        line: mark.line().max(1),
        column: mark.col() + 1,
    }
}

/// What is wrong in the text of a file, before its values are read.
#[derive(Debug)]
pub enum SourceProblem {
    InvalidToml {
        reason: String,
    },
    InvalidYaml {
        reason: String,
    },
    /// `nan`, `inf`, or a number too large for 64 bits.
    NotFinite {
        value: f64,
    },
    /// `key:` with nothing after it (YAML's null); `comment` when a ` #` cut the value off.
    NoValue {
        key: Option<String>,
        comment: bool,
    },
    DuplicateKey {
        key: String,
    },
    KeyNotPlain,
    /// An anchor, alias or tag: `what` names which.
    Unsupported {
        what: Unsupported,
    },
    SecondDocument,
}

#[derive(Debug, Clone, Copy)]
pub enum Unsupported {
    AnchorsAndTags,
    Anchors,
    Tags,
    Aliases,
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidToml { reason } => write!(f, "invalid TOML: {reason}"),
            Self::InvalidYaml { reason } => write!(f, "invalid YAML: {reason}"),
            Self::NotFinite { value } => write!(f, "`{value}` is not a finite number"),
            Self::NoValue { key: Some(key), .. } => write!(f, "`{key}` has no value"),
            Self::NoValue { key: None, .. } => f.write_str("a value is missing"),
            Self::DuplicateKey { key } => write!(f, "duplicate key `{key}`"),
            Self::KeyNotPlain => f.write_str("a map key must be a plain value"),
            Self::Unsupported { what } => {
                let what = match what {
                    Unsupported::AnchorsAndTags => "anchors and tags",
                    Unsupported::Anchors => "anchors",
                    Unsupported::Tags => "tags",
                    Unsupported::Aliases => "aliases",
                };
                write!(f, "YAML {what} are not supported in overlays")
            }
            Self::SecondDocument => f.write_str("a second YAML document in the overlay"),
        }
    }
}

impl Problem for SourceProblem {
    fn expected(&self) -> Option<String> {
        Some(
            match self {
                Self::InvalidToml { .. } => "valid TOML (https://toml.io)",
                Self::InvalidYaml { .. } => {
                    "valid YAML (check indentation, and quote values that contain `: ` or `#`)"
                }
                Self::NotFinite { .. } => "a finite number, as `0.5`",
                Self::NoValue { .. } => "a value, or `~` to remove the key",
                Self::DuplicateKey { .. } => "each key once per map",
                Self::KeyNotPlain => "a string key",
                Self::Unsupported {
                    what: Unsupported::Tags,
                } => "plain maps and lists",
                Self::Unsupported { .. } => "plain values",
                Self::SecondDocument => "one document per environment file",
            }
            .to_string(),
        )
    }

    fn help(&self) -> Option<String> {
        Some(
            match self {
                Self::InvalidToml { .. } => {
                    "fix the syntax at the caret; a key or table may appear only once"
                }
                Self::InvalidYaml { .. } => {
                    "indent with spaces, never tabs, and line up keys of the same map"
                }
                Self::NotFinite { .. } => {
                    "write the value in range (a number too large for 64 bits, `nan` and `inf` cannot be used)"
                }
                Self::NoValue { comment: true, .. } => {
                    "a ` #` starts a comment in YAML: quote the value, as `channel: \"#ops\"`"
                }
                Self::NoValue { .. } => {
                    "write the value, or `~` to remove the key that deploy.toml sets"
                }
                Self::DuplicateKey { .. } => {
                    "keep one of the two: YAML would silently use the last"
                }
                Self::KeyNotPlain => "write the key as text",
                Self::Unsupported { .. } => {
                    "write the value where it is used, without `&`, `*` or `!!`"
                }
                Self::SecondDocument => {
                    "remove the `---` line and merge the settings into one document"
                }
            }
            .to_string(),
        )
    }
}

enum Frame {
    List(Node),
    /// A map under construction and the key waiting for its value.
    Map(Node, Option<(String, Origin)>),
}

struct YamlBuilder {
    file: Arc<PathBuf>,
    text: String,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    error: Option<ConfigError>,
}

impl YamlBuilder {
    /// `key:` with nothing after it is YAML's null, which in an overlay removes the key:
    /// a forgotten value, or a value starting with `#` (a comment), would silently delete a
    /// setting. Removal must be written `~`.
    fn empty_value(&mut self, origin: &Origin) {
        // The parser marks an empty value where the next token starts: point at its key.
        let (key, at) = match self.stack.last() {
            Some(Frame::Map(_, Some((key, key_origin)))) => (Some(key.clone()), key_origin.clone()),
            _ => (None, origin.clone()),
        };
        let line = self
            .text
            .lines()
            .nth(at.line.saturating_sub(1))
            .unwrap_or("");
        let comment = line.contains(" #");
        self.fail(at, SourceProblem::NoValue { key, comment });
    }

    fn fail(&mut self, origin: Origin, problem: SourceProblem) {
        if self.error.is_none() {
            self.error = Some(ConfigError::new(origin, problem));
        }
    }

    /// Places a finished node into its parent, or makes it the root.
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::List(list)) => {
                if let NodeValue::List(items) = &mut list.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, pending)) => match pending.take() {
                Some((key, key_origin)) => {
                    if let NodeValue::Map(entries) = &mut map.value {
                        if entries.contains_key(&key) {
                            self.fail(key_origin, SourceProblem::DuplicateKey { key });
                            return;
                        }
                        entries.insert(key, Entry { key_origin, node });
                    }
                }
                None => {
                    let key = match node.value {
                        NodeValue::Str(s) => s,
                        NodeValue::Int(i) => i.to_string(),
                        NodeValue::Bool(b) => b.to_string(),
                        NodeValue::Float(f) => f.to_string(),
                        _ => {
                            self.fail(node.origin, SourceProblem::KeyNotPlain);
                            return;
                        }
                    };
                    *pending = Some((key, node.origin));
                }
            },
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for YamlBuilder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let mark = span.start;
        if self.error.is_some() {
            return;
        }
        let origin = yaml_origin(&self.file, &mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    self.fail(
                        origin,
                        SourceProblem::Unsupported {
                            what: Unsupported::AnchorsAndTags,
                        },
                    );
                    return;
                }
                if text.is_empty() && style == ScalarStyle::Plain {
                    self.empty_value(&origin);
                    return;
                }
                let value = yaml_scalar(text.into_owned(), style);
                self.push_value(Node { value, origin });
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) if anchor != 0 => {
                self.fail(
                    origin,
                    SourceProblem::Unsupported {
                        what: Unsupported::Anchors,
                    },
                );
            }
            Event::SequenceStart(_, Some(_)) | Event::MappingStart(_, Some(_)) => {
                self.fail(
                    origin,
                    SourceProblem::Unsupported {
                        what: Unsupported::Tags,
                    },
                );
            }
            Event::SequenceStart(..) => self.stack.push(Frame::List(Node {
                value: NodeValue::List(Vec::new()),
                origin,
            })),
            Event::MappingStart(..) => self.stack.push(Frame::Map(
                Node {
                    value: NodeValue::Map(IndexMap::new()),
                    origin,
                },
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::List(node)) | Some(Frame::Map(node, _)) => self.push_value(node),
                None => {}
            },
            Event::Alias(_) => {
                self.fail(
                    origin,
                    SourceProblem::Unsupported {
                        what: Unsupported::Aliases,
                    },
                );
            }
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    self.error = Some(ConfigError::new(origin, SourceProblem::SecondDocument));
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// YAML 1.2 core schema resolution for plain scalars; quoted scalars are always strings.
fn yaml_scalar(text: String, style: ScalarStyle) -> NodeValue {
    if style != ScalarStyle::Plain {
        return NodeValue::Str(text);
    }
    match text.as_str() {
        "~" | "null" | "Null" | "NULL" => NodeValue::Null,
        // The core schema's non-finite floats: typed as numbers so they are refused as such.
        ".nan" | ".NaN" | ".NAN" => NodeValue::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => NodeValue::Float(f64::NEG_INFINITY),
        "true" | "True" | "TRUE" => NodeValue::Bool(true),
        "false" | "False" | "FALSE" => NodeValue::Bool(false),
        _ => {
            if let Ok(i) = text.parse::<i64>() {
                NodeValue::Int(i)
            } else if looks_like_float(&text) {
                text.parse::<f64>()
                    .map(NodeValue::Float)
                    .unwrap_or(NodeValue::Str(text))
            } else {
                NodeValue::Str(text)
            }
        }
    }
}

fn looks_like_float(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    body.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Node {
        parse_yaml(Path::new("env.yaml"), text).expect("valid yaml")
    }

    #[test]
    fn line_index_counts_lines_and_characters() {
        let index = LineIndex::new("ab\ncé d\n\nx");
        assert_eq!(index.line_col(0), (1, 1));
        assert_eq!(index.line_col(3), (2, 1));
        assert_eq!(index.line_col(7), (2, 4));
        assert_eq!(index.line_col(10), (4, 1));
        assert_eq!(index.line_col(99), (4, 2));
    }

    #[test]
    fn yaml_positions_are_one_based() {
        let node = yaml("a:\n  b: 5\n  c: [1, \"x\"]\n");
        let b = &node.get("a").unwrap().node.get("b").unwrap();
        assert_eq!((b.key_origin.line, b.key_origin.column), (2, 3));
        assert_eq!((b.node.origin.line, b.node.origin.column), (2, 6));
        assert_eq!(b.node.value, NodeValue::Int(5));
    }

    #[test]
    fn yaml_scalars_follow_the_core_schema() {
        let node = yaml("a: 1.5\nb: '1'\nc: ~\nd: yes\ne: true\n");
        let get = |k: &str| node.get(k).unwrap().node.value.clone();
        assert_eq!(get("a"), NodeValue::Float(1.5));
        assert_eq!(get("b"), NodeValue::Str("1".into()));
        assert_eq!(get("c"), NodeValue::Null);
        // YAML 1.2: `yes` is a string, not a boolean.
        assert_eq!(get("d"), NodeValue::Str("yes".into()));
        assert_eq!(get("e"), NodeValue::Bool(true));
    }

    #[test]
    fn yaml_empty_values_and_second_documents_are_errors_not_removals() {
        let err = parse_yaml(Path::new("e.yaml"), "a:\n  b: 1\n  c:\n").unwrap_err();
        assert_eq!(
            (err.origin.line, err.message().as_str()),
            (3, "`c` has no value")
        );
        let err = parse_yaml(Path::new("e.yaml"), "channel: #ops\n").unwrap_err();
        assert!(err.help().unwrap().contains("comment"));
        let err = parse_yaml(Path::new("e.yaml"), "a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.origin.line, 2);
        assert!(err.message().contains("second YAML document"));
        assert_eq!(yaml("a: ~\n").get("a").unwrap().node.value, NodeValue::Null);
        assert!(parse_yaml(Path::new("e.yaml"), "").is_ok());
        assert!(parse_yaml(Path::new("e.yaml"), "# only a comment\n").is_ok());
    }

    #[test]
    fn non_finite_numbers_are_errors_at_their_line() {
        for text in ["a = 1\nb = nan\n", "a = 1\nb = inf\n", "a = 1\nb = -inf\n"] {
            let error = parse_toml(Path::new("deploy.toml"), text).unwrap_err();
            assert_eq!(error.origin.line, 2, "{text}");
            assert!(error.message().contains("not a finite number"), "{error}");
        }
        // TOML's parser refuses an overflow itself, at the same place.
        let error = parse_toml(Path::new("deploy.toml"), "a = 1\nb = 1e999\n").unwrap_err();
        assert_eq!(error.origin.line, 2);
        for text in [
            "a: 1\nb: .nan\n",
            "a: 1\nb: .inf\n",
            "a: 1\nb: -.inf\n",
            "a: 1\nb: 1e999\n",
            "a: 1\nb: [1, .nan]\n",
        ] {
            let error = parse_yaml(Path::new("e.yaml"), text).unwrap_err();
            assert_eq!(error.origin.line, 2, "{text}");
            assert!(error.message().contains("not a finite number"), "{error}");
        }
        // Quoted, they are text, and typing decides.
        assert!(parse_yaml(Path::new("e.yaml"), "b: \".nan\"\n").is_ok());
        assert!(parse_toml(Path::new("deploy.toml"), "b = 1e300\n").is_ok());
    }

    #[test]
    fn yaml_tags_on_maps_and_lists_are_errors() {
        for text in [
            "a: !!map\n  b: 1\n",
            "a: !!seq\n  - 1\n",
            "a: !custom {b: 1}\n",
            "a: !!set [1]\n",
        ] {
            let error = parse_yaml(Path::new("e.yaml"), text).unwrap_err();
            assert!(
                error.message().contains("tags are not supported"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn yaml_duplicate_keys_and_aliases_are_errors() {
        let err = parse_yaml(Path::new("e.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.origin.line, 2);
        assert!(err.message().contains("duplicate key `a`"));
        let err = parse_yaml(Path::new("e.yaml"), "a: &x 1\nb: *x\n").unwrap_err();
        assert!(err.message().contains("anchors"));
    }

    #[test]
    fn toml_positions_point_at_keys_and_values() {
        let node = parse_toml(
            Path::new("deploy.toml"),
            "[stacks.network]\ntemplate = \"n\"\n",
        )
        .unwrap();
        let stacks = node.get("stacks").unwrap();
        assert_eq!(stacks.key_origin.line, 1);
        let template = stacks
            .node
            .get("network")
            .unwrap()
            .node
            .get("template")
            .unwrap();
        assert_eq!(
            (template.key_origin.line, template.key_origin.column),
            (2, 1)
        );
        assert_eq!(
            (template.node.origin.line, template.node.origin.column),
            (2, 12)
        );
    }

    #[test]
    fn locate_falls_back_to_the_deepest_existing_node() {
        let node = yaml("a:\n  b:\n    c: 1\n");
        let origin = node.locate(&path(["a", "b", "missing"]));
        assert_eq!(origin.line, 2);
        let origin = node.locate_key(&path(["a", "b", "c"]));
        assert_eq!((origin.line, origin.column), (3, 5));
    }
}
