//! The config loader on arbitrary text: `deploy.toml` and an environment overlay, split at
//! the first NUL byte. It must answer every input with a config or located errors (whose
//! display must not panic either), never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (project, overlay) = text.split_once('\0').unwrap_or((&text, "environment: {}"));
    let rule_ids = facturactl::policy::rule_ids();
    match facturactl::config::from_texts(
        std::path::Path::new("."),
        "local",
        project,
        overlay,
        &rule_ids,
    ) {
        Ok(loaded) => {
            // Whatever loads can be shown.
            let _ = yaml_serde::to_string(&loaded.config);
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error without a message");
            for e in &errors.0 {
                assert!(e.origin.line >= 1, "line numbers are 1-based: {e:?}");
            }
            let _ = errors.to_string();
        }
    }
});
