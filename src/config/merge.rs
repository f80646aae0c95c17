//! Layering: an environment overlay on top of `deploy.toml`.
//!
//! The rule, documented in the README:
//! - maps merge key by key, recursively;
//! - lists and scalars from the overlay replace the base value whole (a list is one value:
//!   merging lists by position or by content would make an overlay's meaning depend on the
//!   base's order);
//! - an explicit `null` (`~`) in the overlay removes the key from the base.
//!
//! Every value keeps its origin, so errors point into whichever file set it.

use super::source::{Node, NodeValue};

pub fn merge(base: Node, overlay: Node) -> Node {
    match (base.value, overlay.value) {
        (NodeValue::Map(mut base_map), NodeValue::Map(overlay_map)) => {
            for (key, entry) in overlay_map {
                if entry.node.value == NodeValue::Null {
                    base_map.shift_remove(&key);
                    continue;
                }
                match base_map.get_mut(&key) {
                    // Merged in place: an overlay never reorders the base's keys, and
                    // declaration order breaks ties in the stack order.
                    Some(existing) => {
                        let placeholder = Node {
                            value: NodeValue::Null,
                            origin: entry.node.origin.clone(),
                        };
                        let old = std::mem::replace(&mut existing.node, placeholder);
                        existing.node = merge(old, entry.node);
                        existing.key_origin = entry.key_origin;
                    }
                    None => {
                        base_map.insert(key, entry);
                    }
                }
            }
            Node {
                value: NodeValue::Map(base_map),
                // A merged map is attributed to the base: that is where it is declared.
                origin: base.origin,
            }
        }
        (_, value) => Node {
            value,
            origin: overlay.origin,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::{parse_toml, parse_yaml, path};
    use std::path::Path;

    fn layered(toml: &str, yaml: &str) -> Node {
        let base = parse_toml(Path::new("deploy.toml"), toml).unwrap();
        let overlay = parse_yaml(Path::new("environments/staging.yaml"), yaml).unwrap();
        merge(base, overlay)
    }

    #[test]
    fn maps_merge_deeply() {
        let node = layered(
            "[services.ocr]\nstack = \"p\"\n[services.ocr.ecs]\ncpu = 512\nmemory = 1024\n",
            "services:\n  ocr:\n    ecs:\n      cpu: 1024\n",
        );
        let json = node.to_json();
        assert_eq!(json["services"]["ocr"]["stack"], "p");
        assert_eq!(json["services"]["ocr"]["ecs"]["cpu"], 1024);
        assert_eq!(json["services"]["ocr"]["ecs"]["memory"], 1024);
    }

    #[test]
    fn overlays_keep_the_base_key_order() {
        let node = layered(
            "[s.a]\nx = 1\n[s.b]\nx = 1\n[s.c]\nx = 1\n",
            "s:\n  a:\n    x: 2\n  d:\n    x: 3\n",
        );
        let keys: Vec<&String> = node
            .get("s")
            .unwrap()
            .node
            .as_map()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
    }

    #[test]
    fn lists_are_replaced_not_appended() {
        let node = layered(
            "[c]\nemails = [\"a@x\", \"b@x\"]\n",
            "c:\n  emails: [\"z@x\"]\n",
        );
        assert_eq!(node.to_json()["c"]["emails"], serde_json::json!(["z@x"]));
    }

    #[test]
    fn null_removes_a_key() {
        let node = layered("[c]\na = 1\nb = 2\n", "c:\n  a: ~\n");
        assert_eq!(node.to_json()["c"], serde_json::json!({"b": 2}));
    }

    #[test]
    fn overlay_values_keep_their_origin() {
        let node = layered("[c]\na = 1\nb = 2\n", "c:\n  a: 5\n");
        let a = node.locate(&path(["c", "a"]));
        assert_eq!(a.file.to_str(), Some("environments/staging.yaml"));
        assert_eq!(a.line, 2);
        let b = node.locate(&path(["c", "b"]));
        assert_eq!(b.file.to_str(), Some("deploy.toml"));
        assert_eq!(b.line, 3);
    }

    #[test]
    fn a_scalar_may_replace_a_map_and_typing_decides_later() {
        let node = layered("[c]\na = 1\n", "c: 3\n");
        assert_eq!(node.to_json()["c"], 3);
    }
}
