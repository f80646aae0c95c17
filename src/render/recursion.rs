//! Recursion among templates, found on Tera's own parse before anything renders.
//!
//! Tera recurses without a depth limit: a template that includes itself (directly or
//! through others), or macros that call each other in a cycle, overflow the stack instead of
//! failing. The graph is built from the parsed templates (includes, imports resolved to
//! their files, macro calls in every expression), so spacing, line breaks and comments
//! cannot hide an edge. Any cycle is refused, even one a condition would end: templates
//! describe infrastructure and never need recursion.

use std::collections::{BTreeMap, BTreeSet};

use tera::ast::{Expr, ExprVal, Node};

/// A place that can be entered: a whole template, or one macro of a template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Site {
    Template(String),
    Macro { file: String, name: String },
}

impl Site {
    fn describe(&self) -> String {
        match self {
            Self::Template(file) => file.clone(),
            Self::Macro { file, name } => format!("{file}::{name}"),
        }
    }

    fn file(&self) -> &str {
        match self {
            Self::Template(file) | Self::Macro { file, .. } => file,
        }
    }
}

/// The first cycle: the sites in order, starting and ending with the same one.
#[derive(Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The template holding the call or include that closes the cycle.
    pub file: String,
    /// Its text, searched for the line of the closing call or include.
    pub needle: String,
    pub message: String,
}

pub fn find(tera: &tera::Tera) -> Option<Cycle> {
    let edges = graph(tera);
    let mut done = BTreeSet::new();
    for start in edges.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(start, &edges, &mut path, &mut done) {
            return Some(cycle);
        }
    }
    None
}

/// Depth-first search; `path` is the current chain, `done` the sites proven acyclic.
fn visit(
    site: &Site,
    edges: &BTreeMap<Site, Vec<Site>>,
    path: &mut Vec<Site>,
    done: &mut BTreeSet<Site>,
) -> Option<Cycle> {
    if done.contains(site) {
        return None;
    }
    if let Some(at) = path.iter().position(|s| s == site) {
        let mut chain: Vec<&Site> = path[at..].iter().collect();
        chain.push(site);
        let last = path.last().unwrap_or(site);
        let (needle, message) = match site {
            Site::Template(file) => (
                format!("\"{file}\""),
                format!(
                    "recursive include: {}",
                    chain
                        .iter()
                        .map(|s| s.file())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ),
            ),
            Site::Macro { name, .. } if chain.len() == 2 => {
                (format!("::{name}"), format!("macro `{name}` calls itself"))
            }
            Site::Macro { name, .. } => (
                format!("::{name}"),
                format!(
                    "macros call each other in a cycle: {}",
                    chain
                        .iter()
                        .map(|s| s.describe())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ),
            ),
        };
        return Some(Cycle {
            file: last.file().to_string(),
            needle,
            message,
        });
    }
    path.push(site.clone());
    for next in edges.get(site).into_iter().flatten() {
        if let Some(cycle) = visit(next, edges, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(site.clone());
    None
}

fn graph(tera: &tera::Tera) -> BTreeMap<Site, Vec<Site>> {
    let mut edges = BTreeMap::new();
    for (file, template) in &tera.templates {
        let namespaces: BTreeMap<&str, &str> = template
            .imported_macro_files
            .iter()
            .map(|(imported, namespace)| (namespace.as_str(), imported.as_str()))
            .collect();
        let resolve = |namespace: &str| -> String {
            if namespace == "self" {
                file.clone()
            } else {
                namespaces
                    .get(namespace)
                    .map_or_else(String::new, |f| (*f).to_string())
            }
        };
        let mut out = Vec::new();
        nodes(&template.ast, &resolve, &mut out);
        if let Some(parent) = &template.parent {
            out.push(Site::Template(parent.clone()));
        }
        edges.insert(Site::Template(file.clone()), out);
        for (name, definition) in &template.macros {
            let mut out = Vec::new();
            nodes(&definition.body, &resolve, &mut out);
            edges.insert(
                Site::Macro {
                    file: file.clone(),
                    name: name.clone(),
                },
                out,
            );
        }
    }
    edges
}

fn nodes(body: &[Node], resolve: &dyn Fn(&str) -> String, out: &mut Vec<Site>) {
    for node in body {
        match node {
            Node::Include(_, names, _) => {
                out.extend(names.iter().map(|n| Site::Template(n.clone())));
            }
            Node::VariableBlock(_, e) => expr(e, resolve, out),
            Node::Set(_, set) => expr(&set.value, resolve, out),
            Node::FilterSection(_, section, _) => {
                args(section.filter.args.values(), resolve, out);
                nodes(&section.body, resolve, out);
            }
            Node::Block(_, block, _) => nodes(&block.body, resolve, out),
            Node::Forloop(_, for_loop, _) => {
                expr(&for_loop.container, resolve, out);
                nodes(&for_loop.body, resolve, out);
                nodes(for_loop.empty_body.as_deref().unwrap_or(&[]), resolve, out);
            }
            Node::If(if_, _) => {
                for (_, condition, body) in &if_.conditions {
                    expr(condition, resolve, out);
                    nodes(body, resolve, out);
                }
                if let Some((_, body)) = &if_.otherwise {
                    nodes(body, resolve, out);
                }
            }
            // Macro bodies are their own sites; the rest holds no call.
            Node::MacroDefinition(..)
            | Node::Super
            | Node::Text(_)
            | Node::Extends(..)
            | Node::ImportMacro(..)
            | Node::Raw(..)
            | Node::Break(_)
            | Node::Continue(_)
            | Node::Comment(..) => {}
        }
    }
}

fn args<'e>(
    values: impl Iterator<Item = &'e Expr>,
    resolve: &dyn Fn(&str) -> String,
    out: &mut Vec<Site>,
) {
    for value in values {
        expr(value, resolve, out);
    }
}

fn expr(e: &Expr, resolve: &dyn Fn(&str) -> String, out: &mut Vec<Site>) {
    for filter in &e.filters {
        args(filter.args.values(), resolve, out);
    }
    value(&e.val, resolve, out);
}

fn value(v: &ExprVal, resolve: &dyn Fn(&str) -> String, out: &mut Vec<Site>) {
    match v {
        ExprVal::MacroCall(call) => {
            out.push(Site::Macro {
                file: resolve(&call.namespace),
                name: call.name.clone(),
            });
            args(call.args.values(), resolve, out);
        }
        ExprVal::FunctionCall(call) => args(call.args.values(), resolve, out),
        ExprVal::Math(m) => {
            expr(&m.lhs, resolve, out);
            expr(&m.rhs, resolve, out);
        }
        ExprVal::Logic(l) => {
            expr(&l.lhs, resolve, out);
            expr(&l.rhs, resolve, out);
        }
        ExprVal::In(i) => {
            expr(&i.lhs, resolve, out);
            expr(&i.rhs, resolve, out);
        }
        ExprVal::Test(t) => args(t.args.iter(), resolve, out),
        ExprVal::Array(items) => args(items.iter(), resolve, out),
        ExprVal::StringConcat(c) => {
            for part in &c.values {
                value(part, resolve, out);
            }
        }
        ExprVal::String(_)
        | ExprVal::Int(_)
        | ExprVal::Float(_)
        | ExprVal::Bool(_)
        | ExprVal::Ident(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tera(files: &[(&str, &str)]) -> tera::Tera {
        let mut tera = tera::Tera::default();
        tera.add_raw_templates(files.iter().map(|(n, t)| (*n, *t)))
            .expect("parses");
        tera
    }

    #[test]
    fn include_cycles_are_found() {
        let cycle = find(&tera(&[
            ("stacks/a.tera", "x\n{% include \"partials/b.tera\" %}\n"),
            ("partials/b.tera", "{%- include \"partials/c.tera\" %}"),
            ("partials/c.tera", "{%\n include\n \"partials/b.tera\" %}"),
        ]))
        .expect("a cycle");
        assert_eq!(
            cycle.message,
            "recursive include: partials/b.tera -> partials/c.tera -> partials/b.tera"
        );
        assert_eq!(cycle.file, "partials/c.tera");
    }

    #[test]
    fn self_calling_and_mutually_recursive_macros_are_found() {
        let one = find(&tera(&[(
            "partials/m.tera",
            "{% macro deep(n) %}\n{{ self :: deep(n=n) }}\n{% endmacro deep %}\n",
        )]))
        .expect("a self-calling macro");
        assert_eq!(one.message, "macro `deep` calls itself");
        let two = find(&tera(&[
            (
                "partials/a.tera",
                "{% import \"partials/b.tera\" as b %}{% macro ping() %}{% if true %}{{ b::pong() | upper }}{% endif %}{% endmacro ping %}",
            ),
            (
                "partials/b.tera",
                "{% import \"partials/a.tera\" as a %}{% macro pong() %}{% set x = [1, a::ping()] %}{% endmacro pong %}",
            ),
        ]))
        .expect("a cycle through two files");
        assert_eq!(
            two.message,
            "macros call each other in a cycle: partials/a.tera::ping -> partials/b.tera::pong -> partials/a.tera::ping"
        );
    }

    #[test]
    fn extends_cycles_are_refused_by_tera_itself() {
        let mut tera = tera::Tera::default();
        let result = tera.add_raw_templates([
            ("a.tera", "{% extends \"b.tera\" %}"),
            ("b.tera", "{% extends \"a.tera\" %}"),
        ]);
        assert!(result.is_err());
    }

    #[test]
    fn acyclic_templates_pass() {
        assert_eq!(
            find(&tera(&[
                (
                    "stacks/a.tera",
                    "{% import \"partials/b.tera\" as b %}{% include \"partials/c.tera\" %}{{ b::m() }}{{ b::m() }}"
                ),
                (
                    "partials/b.tera",
                    "{% macro m() %}{{ self::n() }}{% endmacro m %}{% macro n() %}x{% endmacro n %}"
                ),
                (
                    "partials/c.tera",
                    "{% import \"partials/b.tera\" as b %}{{ b::m() }}"
                ),
            ])),
            None
        );
    }
}
