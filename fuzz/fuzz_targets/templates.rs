//! The renderer on arbitrary templates: the network stack's template and two partials it
//! may include or import, split at NUL bytes, rendered with the local environment. Every
//! input must give rendered stacks or a located error (include cycles, recursive macros,
//! undefined variables, bad filters, YAML that does not parse, a render stopped by its time
//! or memory bound), never a panic, a stack overflow or an unbounded allocation. The bounds
//! are smaller than the CLI's, so that deep nesting and long loops (`templates.dict`) are
//! explored quickly: a stopped render leaves its thread asleep, holding at most the
//! memory bound.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const PROJECT: &str = include_str!("../../deploy.toml");
const LOCAL: &str = include_str!("../../environments/local.yaml");

/// A scratch copy of the templates, made once: each input overwrites three files in it.
fn project() -> &'static (tempdir::Scratch, facturactl::config::LoadedConfig) {
    static PROJECT_COPY: OnceLock<(tempdir::Scratch, facturactl::config::LoadedConfig)> =
        OnceLock::new();
    PROJECT_COPY.get_or_init(|| {
        let scratch = tempdir::Scratch::new();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        copy_tree(&source, &scratch.0.join("templates"));
        let rule_ids = facturactl::policy::rule_ids();
        let loaded =
            facturactl::config::from_texts(&scratch.0, "local", PROJECT, LOCAL, &rule_ids)
                .expect("the repository's local environment loads");
        (scratch, loaded)
    })
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read templates").flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

mod tempdir {
    use super::PathBuf;

    /// A directory removed when the fuzzer exits normally.
    pub struct Scratch(pub PathBuf);

    impl Scratch {
        pub fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("facturactl-fuzz-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("scratch dir");
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let (scratch, loaded) = project();
    let templates = scratch.0.join("templates");
    for file in ["stacks/network.yaml.tera", "partials/fuzz-a.tera", "partials/fuzz-b.tera"] {
        let body = parts.next().unwrap_or("");
        std::fs::write(templates.join(file), body).expect("write template");
    }
    let limits = facturactl::render::bound::Limits {
        time: std::time::Duration::from_secs(2),
        memory: 32 << 20,
        stack: 64 << 20,
    };
    match facturactl::render::render_within(loaded, limits) {
        Ok(rendered) => assert!(!rendered.stacks.is_empty()),
        Err(error) => {
            assert!(
                !error.problem.to_string().is_empty(),
                "an error without a message"
            );
            assert!(error.line.is_none_or(|l| l >= 1), "lines are 1-based: {error:?}");
            let _ = error.to_string();
        }
    }
});
