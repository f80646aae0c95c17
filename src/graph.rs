//! The stack dependency graph: order, cycles, and what depends on what.

use indexmap::{IndexMap, IndexSet};

/// Stacks and their dependencies, by name. Built only from validated names, so every edge
/// points at a node.
#[derive(Debug, Clone, Default)]
pub struct StackGraph {
    deps: IndexMap<String, Vec<String>>,
}

impl StackGraph {
    pub fn new<'a>(stacks: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Self {
        Self {
            deps: stacks
                .into_iter()
                .map(|(name, deps)| (name.to_string(), deps.to_vec()))
                .collect(),
        }
    }

    pub fn dependencies(&self, stack: &str) -> &[String] {
        self.deps.get(stack).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The same graph with only `names` in it: edges to other nodes are dropped (they are
    /// outside this run, and count as already done).
    pub fn restricted_to(&self, names: &[String]) -> Self {
        Self {
            deps: self
                .deps
                .iter()
                .filter(|(name, _)| names.contains(name))
                .map(|(name, deps)| {
                    let kept = deps.iter().filter(|d| names.contains(d)).cloned().collect();
                    (name.clone(), kept)
                })
                .collect(),
        }
    }

    /// A cycle, as the list of stacks around it (first repeated at the end), if there is one.
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let mut marks: IndexMap<&str, Mark> =
            self.deps.keys().map(|k| (k.as_str(), Mark::New)).collect();
        let mut trail: Vec<&str> = Vec::new();

        fn visit<'a>(
            graph: &'a StackGraph,
            node: &'a str,
            marks: &mut IndexMap<&'a str, Mark>,
            trail: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            match marks.get(node).copied() {
                Some(Mark::Done) | None => return None,
                Some(Mark::Open) => {
                    let start = trail.iter().position(|n| *n == node).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        trail[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(node.to_string());
                    return Some(cycle);
                }
                Some(Mark::New) => {}
            }
            marks.insert(node, Mark::Open);
            trail.push(node);
            for dep in graph.dependencies(node) {
                if let Some(cycle) = visit(graph, dep, marks, trail) {
                    return Some(cycle);
                }
            }
            trail.pop();
            marks.insert(node, Mark::Done);
            None
        }

        let names: Vec<&str> = self.deps.keys().map(String::as_str).collect();
        names
            .into_iter()
            .find_map(|name| visit(self, name, &mut marks, &mut trail))
    }

    /// Every stack after its dependencies; ties keep declaration order. `None` on a cycle.
    pub fn topological_order(&self) -> Option<Vec<String>> {
        let mut done: IndexSet<&str> = IndexSet::new();
        while done.len() < self.deps.len() {
            let ready = self.deps.iter().find(|(name, deps)| {
                !done.contains(name.as_str()) && deps.iter().all(|d| done.contains(d.as_str()))
            })?;
            done.insert(ready.0.as_str());
        }
        Some(done.into_iter().map(str::to_string).collect())
    }

    /// Every stack that depends on `stack`, directly or not.
    pub fn dependents(&self, stack: &str) -> IndexSet<String> {
        let mut found: IndexSet<String> = IndexSet::new();
        let mut frontier = vec![stack.to_string()];
        while let Some(current) = frontier.pop() {
            for (name, deps) in &self.deps {
                if deps.contains(&current) && found.insert(name.clone()) {
                    frontier.push(name.clone());
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> StackGraph {
        StackGraph {
            deps: edges
                .iter()
                .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    #[test]
    fn order_puts_dependencies_first() {
        let g = graph(&[("app", &["net", "iam"]), ("net", &[]), ("iam", &["net"])]);
        assert_eq!(g.topological_order().unwrap(), ["net", "iam", "app"]);
    }

    #[test]
    fn cycles_are_found_and_named() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(g.find_cycle().unwrap(), ["a", "b", "c", "a"]);
        assert!(g.topological_order().is_none());
        let g = graph(&[("a", &["a"])]);
        assert_eq!(g.find_cycle().unwrap(), ["a", "a"]);
    }

    #[test]
    fn dependents_are_transitive() {
        let g = graph(&[
            ("net", &[]),
            ("db", &["net"]),
            ("app", &["db"]),
            ("auth", &[]),
        ]);
        let deps: Vec<_> = g.dependents("net").into_iter().collect();
        assert_eq!(deps, ["db", "app"]);
        assert!(g.dependents("auth").is_empty());
    }
}
