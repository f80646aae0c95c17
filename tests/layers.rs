//! The layers stay true: no two top-level modules of `src/` import each other, directly or
//! through others, and no two files of one module do (ARCHITECTURE.md). Read from the
//! sources: every `crate::` (or, between sibling files, `super::`) path outside the test
//! modules is an edge. A module's `mod.rs` may use its files and they its shared types
//! only through a leaf (`services/rollout.rs`, `services/traffic/report.rs`): sibling
//! files never form a cycle. Every import also points down ARCHITECTURE.md's table
//! (`LAYERS`, in its order). Part of the fast tier (no emulator):
//! `cargo test --test layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = imports(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")));
    assert!(graph.len() > 20, "read too few modules: {graph:?}");
    let cycles: Vec<_> = components(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    assert!(
        cycles.is_empty(),
        "top-level modules that import each other (ARCHITECTURE.md: dependencies point \
         one way):\n{}",
        cycles
            .iter()
            .map(|cycle| format!("  {}\n", explain(cycle, &graph)))
            .collect::<String>()
    );
}

/// The layers of ARCHITECTURE.md, top to bottom, each row in its listed order: a module
/// imports only modules after it in this list.
const LAYERS: &[&str] = &[
    "cli",
    "report",
    "commands",
    "error",
    // domain, releases
    "deployment",
    "preflight",
    "audit",
    "verify",
    "release",
    "pipeline",
    // domain, AWS work
    "models",
    "services",
    "stacks",
    // domain, rendering
    "wiring",
    "policy",
    "render",
    "notify",
    "secrets",
    "alarms",
    // base
    "aws",
    "schema",
    "config",
    "files",
    "graph",
    "git",
    "logging",
    "progress",
    "exit",
];

#[test]
fn every_import_points_down_the_layers_of_the_architecture() {
    let graph = imports(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")));
    let rank = |module: &str| LAYERS.iter().position(|m| *m == module);
    let unplaced: Vec<&String> = graph.keys().filter(|m| rank(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules with no place in ARCHITECTURE.md's layers (add them there and to LAYERS): {unplaced:?}"
    );
    let upward: Vec<String> = graph
        .iter()
        .flat_map(|(from, targets)| targets.iter().map(move |to| (from, to)))
        .filter(|(from, to)| rank(to).is_some_and(|t| Some(t) < rank(from)))
        .map(|(from, to)| format!("{from}→{to}"))
        .collect();
    assert!(
        upward.is_empty(),
        "imports that climb ARCHITECTURE.md's layers: {upward:?}"
    );
}

#[test]
fn no_import_cycle_between_the_files_of_a_module() {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut cycles = Vec::new();
    for dir in directories(src) {
        let graph = sibling_imports(src, &dir);
        for cycle in components(&graph).into_iter().filter(|c| c.len() > 1) {
            let module = dir.strip_prefix(src).unwrap().display().to_string();
            cycles.push(format!("  {module}/: {}\n", explain(&cycle, &graph)));
        }
    }
    assert!(
        cycles.is_empty(),
        "files of one module that import each other (move what they share to a leaf file):\n{}",
        cycles.concat()
    );
}

#[test]
fn the_reader_finds_braced_and_inline_paths_and_skips_tests() {
    let source = "use crate::{config::{self, Config}, render};\nfn f() { crate::aws::x(); }\n\
                  #[cfg(test)]\nmod tests { use crate::cli; }\n";
    let found = targets(source);
    assert_eq!(found, ["aws", "config", "render"].map(String::from).into());
}

#[test]
fn a_cycle_of_three_is_one_component() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .into_iter()
        .fold(Graph::new(), |mut graph, (from, to)| {
            graph.entry(from.into()).or_default().insert(to.into());
            graph.entry(to.into()).or_default();
            graph
        });
    let cycles: Vec<_> = components(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    assert_eq!(cycles, [vec!["a", "b", "c"]]);
}

/// Every directory under `src` (each is a module with files).
fn directories(path: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(path).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(directories(&path));
            found.push(path);
        }
    }
    found
}

/// The files of one module directory other than `mod.rs`, and the siblings each names
/// (`super::x` or `crate::<module>::x`).
fn sibling_imports(src: &Path, dir: &Path) -> Graph {
    let module = dir
        .strip_prefix(src)
        .unwrap()
        .to_string_lossy()
        .replace('/', "::");
    let files: BTreeMap<String, String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("mod.rs"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .map(|(name, p)| (name, fs::read_to_string(p).unwrap()))
        .collect();
    let mut graph = Graph::new();
    for (name, source) in &files {
        let code = source.split("#[cfg(test)]").next().unwrap_or_default();
        let named = ["super::".to_owned(), format!("crate::{module}::")]
            .iter()
            .flat_map(|prefix| paths_after(code, prefix))
            .filter(|target| target != name && files.contains_key(target))
            .collect();
        graph.insert(name.clone(), named);
    }
    graph
}

/// Each top-level module (`src/x.rs` or `src/x/`) and the top-level modules it names.
fn imports(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for entry in fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut found = BTreeSet::new();
        for file in rust_files(&path) {
            found.extend(targets(&fs::read_to_string(file).unwrap()));
        }
        found.remove(&name);
        graph.entry(name).or_default().extend(found);
    }
    graph
}

fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_dir() {
        fs::read_dir(path)
            .unwrap()
            .flat_map(|e| rust_files(&e.unwrap().path()))
            .collect()
    } else if path.extension().is_some_and(|e| e == "rs") {
        vec![path.to_path_buf()]
    } else {
        Vec::new()
    }
}

/// The top-level modules a file's code names through `crate::`, test modules left out.
fn targets(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    paths_after(code, "crate::")
}

/// The first segment of every path after `prefix` (each item of a braced group).
fn paths_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        // `crate::services::x` is not a `super::x`; only whole path starts count.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c == ':' || c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(braced_heads(group));
        } else {
            found.insert(identifier(rest).to_owned());
        }
    }
    found.retain(|name| !name.is_empty() && name != "self");
    found
}

/// The first segment of each item of a `{a, b::c, d::{e}}` group (the `{` already read).
fn braced_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut at_item_start) = (0usize, true);
    for (index, ch) in group.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            ch if at_item_start && !ch.is_whitespace() => {
                heads.push(identifier(&group[index..]).to_owned());
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Strongly connected components (Tarjan), each sorted.
fn components(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(walk: &mut Walk<'g>, node: &'g str) {
        let next = walk.index.len();
        walk.index.insert(node, next);
        walk.low.insert(node, next);
        walk.stack.push(node);
        for target in walk.graph.get(node).into_iter().flatten() {
            let target = target.as_str();
            if !walk.graph.contains_key(target) {
                continue;
            }
            if !walk.index.contains_key(target) {
                visit(walk, target);
                let low = walk.low[node].min(walk.low[target]);
                walk.low.insert(node, low);
            } else if walk.stack.contains(&target) {
                let low = walk.low[node].min(walk.index[target]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let at = walk.stack.iter().rposition(|n| *n == node).unwrap();
            let mut component: Vec<String> = walk.stack.drain(at..).map(str::to_owned).collect();
            component.sort();
            walk.found.push(component);
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found.sort();
    walk.found
}

/// A cycle's members with the edges between them, so the message says what to move.
fn explain(cycle: &[String], graph: &Graph) -> String {
    let edges: Vec<String> = cycle
        .iter()
        .flat_map(|from| {
            graph[from]
                .iter()
                .filter(|to| cycle.contains(to))
                .map(move |to| format!("{from}→{to}"))
        })
        .collect();
    format!("{}: {}", cycle.join(", "), edges.join(" "))
}
