//! Dynamic completions: the registration script (`facturactl completions SHELL`) asks this
//! binary for the candidates at each Tab (`FACTURACTL_COMPLETE=SHELL facturactl -- WORDS`),
//! so environments, stacks and profiles come from the project and the AWS files of the
//! moment, as clap_complete's engine completes the flags from the same definitions as
//! `--help`. Candidates are read from the working directory's project (`-C` on the line
//! being completed is not seen: the engine hands a completer only the current word).

use std::ffi::OsStr;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{EnvCompleter, Shells};

use super::args::Cli;

/// The variable the registration scripts set when they ask for candidates.
const VAR: &str = "FACTURACTL_COMPLETE";

/// Answers a completion request and exits when the shell asked for one; returns otherwise.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(VAR)
        .complete();
}

/// The registration script of `shell`, or `None` for a shell with no dynamic completer.
pub fn registration(shell: clap_complete::Shell) -> Option<String> {
    let shells = Shells::builtins();
    let completer: &dyn EnvCompleter = shells.completer(&shell.to_string())?;
    let mut out = Vec::new();
    completer
        .write_registration(VAR, "facturactl", "facturactl", "facturactl", &mut out)
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The project's environments (`environments/*.yaml`).
pub fn environments(current: &OsStr) -> Vec<CompletionCandidate> {
    matching(crate::config::environments(Path::new(".")), current)
}

/// The stacks `deploy.toml` declares.
pub fn stacks(current: &OsStr) -> Vec<CompletionCandidate> {
    matching(crate::config::stack_names(Path::new(".")), current)
}

/// The profiles of the AWS config and credentials files, as the SDK reads them.
pub fn profiles(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = tokio::runtime::Builder::new_current_thread()
        .build()
        .map(|runtime| runtime.block_on(crate::aws::profile_names()))
        .unwrap_or_default();
    matching(names, current)
}

fn matching(names: Vec<String>, current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    names
        .into_iter()
        .filter(|name| name.starts_with(current.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}
