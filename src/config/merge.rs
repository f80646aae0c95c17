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

use std::fmt;

use super::diagnostic::{ConfigError, Problem};
use super::source::{Entry, Node, NodeValue};

/// Lays `overlay` over `base`. A `~` for a key the base does not set is an error: it
/// removes nothing, so it is a typo (`sentyr: ~`) or a leftover, and a silent no-op would
/// leave the setting it meant to remove in place.
pub fn merge(base: Node, overlay: Node) -> Result<Node, ConfigError> {
    match (base.value, overlay.value) {
        (NodeValue::Map(mut base_map), NodeValue::Map(overlay_map)) => {
            for (key, entry) in overlay_map {
                if entry.node.value == NodeValue::Null {
                    if base_map.shift_remove(&key).is_none() {
                        return Err(nothing_to_remove(&key, &entry, base_map.keys()));
                    }
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
                        existing.node = merge(old, entry.node)?;
                        existing.key_origin = entry.key_origin;
                    }
                    None => {
                        if let Some((key, removal)) = first_removal(&key, &entry) {
                            return Err(nothing_to_remove(&key, removal, std::iter::empty()));
                        }
                        base_map.insert(key, entry);
                    }
                }
            }
            Ok(Node {
                value: NodeValue::Map(base_map),
                // A merged map is attributed to the base: that is where it is declared.
                origin: base.origin,
            })
        }
        (_, value) => Ok(Node {
            value,
            origin: overlay.origin,
        }),
    }
}

/// A `~` anywhere inside an entry the base does not have: it can remove nothing.
fn first_removal<'e>(key: &str, entry: &'e Entry) -> Option<(String, &'e Entry)> {
    match &entry.node.value {
        NodeValue::Null => Some((key.to_string(), entry)),
        NodeValue::Map(map) => map.iter().find_map(|(k, e)| first_removal(k, e)),
        _ => None,
    }
}

fn nothing_to_remove<'k>(
    key: &str,
    entry: &Entry,
    siblings: impl Iterator<Item = &'k String>,
) -> ConfigError {
    let closest = siblings
        .map(|s| (super::regions::edit_distance(key, s), s))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    ConfigError::new(
        entry.key_origin.clone(),
        NothingToRemove {
            key: key.to_string(),
            closest: closest.map(|(_, name)| name.clone()),
        },
    )
}

/// `key: ~` where deploy.toml does not set the key; `closest` is a near spelling that it does.
#[derive(Debug)]
pub struct NothingToRemove {
    pub key: String,
    pub closest: Option<String>,
}

impl fmt::Display for NothingToRemove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}: ~` removes a key that deploy.toml does not set here",
            self.key
        )
    }
}

impl Problem for NothingToRemove {
    fn expected(&self) -> Option<String> {
        Some("`~` only for a key deploy.toml sets at this place".into())
    }

    fn help(&self) -> Option<String> {
        Some(match &self.closest {
            Some(name) => format!("did you mean `{name}: ~`?"),
            None => {
                "remove the line: deploy.toml does not set this key, so there is nothing to remove"
                    .into()
            }
        })
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
        merge(base, overlay).unwrap()
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
    fn removing_a_key_the_base_does_not_set_is_an_error_with_a_suggestion() {
        let base = parse_toml(Path::new("deploy.toml"), "[c]\nsentry = 1\nb = 2\n").unwrap();
        let overlay =
            parse_yaml(Path::new("environments/staging.yaml"), "c:\n  sentyr: ~\n").unwrap();
        let error = merge(base.clone(), overlay).unwrap_err();
        assert_eq!(error.origin.line, 2);
        assert!(error.to_string().contains("`sentyr: ~`"), "{error}");
        assert_eq!(error.help().as_deref(), Some("did you mean `sentry: ~`?"));
        // Inside a map the base does not have at all: nothing to remove either.
        let overlay = parse_yaml(
            Path::new("environments/staging.yaml"),
            "d:\n  e:\n    f: ~\n",
        )
        .unwrap();
        let error = merge(base, overlay).unwrap_err();
        assert_eq!(error.origin.line, 3);
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
