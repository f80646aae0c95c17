//! What Slack checks in a Block Kit message, as far as these tests need.

use serde_json::Value;

/// The checks Slack applies to a Block Kit message that matter here: known block types,
/// text objects of the right kind, and the documented length limits.
pub fn assert_block_kit(message: &Value) {
    assert!(
        message["text"].as_str().is_some_and(|t| !t.is_empty()),
        "fallback text"
    );
    let blocks = message["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    let text_ok = |t: &Value, kinds: &[&str], max: usize| {
        kinds.contains(&t["type"].as_str().unwrap_or_default())
            && t["text"]
                .as_str()
                .is_some_and(|s| !s.is_empty() && s.chars().count() <= max)
    };
    for block in blocks {
        match block["type"].as_str() {
            Some("header") => assert!(text_ok(&block["text"], &["plain_text"], 150), "{block}"),
            Some("section") => {
                let text = block
                    .get("text")
                    .map(|t| text_ok(t, &["mrkdwn", "plain_text"], 3000));
                let fields = block.get("fields").and_then(Value::as_array).map(|f| {
                    f.len() <= 10
                        && f.iter()
                            .all(|t| text_ok(t, &["mrkdwn", "plain_text"], 2000))
                });
                assert!(text.unwrap_or(true) && fields.unwrap_or(true), "{block}");
                assert!(text.is_some() || fields.is_some(), "{block}");
            }
            Some("context") => {
                let elements = block["elements"].as_array().expect("elements");
                assert!(!elements.is_empty() && elements.len() <= 10);
                assert!(
                    elements
                        .iter()
                        .all(|t| text_ok(t, &["mrkdwn", "plain_text"], 3000))
                );
            }
            other => panic!("unexpected block type {other:?}"),
        }
    }
}
