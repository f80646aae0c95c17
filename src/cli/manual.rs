//! Shell completions (clap_complete) and the manual page (clap_mangen), both generated from
//! the same clap definitions as `--help`, so they never drift from the real flags.

use clap::CommandFactory;

use super::args::Cli;
use crate::error::Error;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "facturactl", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The manual page, in roff.
pub fn man_page() -> Result<String, Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|source| Error::Write {
            path: "facturactl.1".into(),
            source,
            nothing_written: true,
        })?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `path: --flag` for every option or positional without help text, in every command.
    fn undocumented(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path}: {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            undocumented(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_option_has_help() {
        let mut missing = Vec::new();
        undocumented(&Cli::command(), "facturactl", &mut missing);
        assert!(missing.is_empty(), "options without help: {missing:#?}");
    }

    /// Each command's `--help`, in order, behind a header naming it.
    fn helps(command: &mut clap::Command, path: &str, out: &mut String) {
        let help = command.render_long_help().to_string();
        out.push_str(&format!("==== {path} --help\n{help}\n"));
        for sub in command.get_subcommands_mut() {
            let name = format!("{path} {}", sub.get_name());
            helps(sub, &name, out);
        }
    }

    /// Every command's `--help` in one snapshot: a flag renamed, dropped or reworded shows
    /// up in review (`INSTA_UPDATE=always cargo test --lib cli::manual` to accept).
    #[test]
    fn help_of_every_command() {
        let mut command = Cli::command().term_width(100);
        command.build();
        let mut out = String::new();
        helps(&mut command, "facturactl", &mut out);
        insta::assert_snapshot!(out);
    }

    #[test]
    fn completions_and_the_manual_name_every_command() {
        let bash = completions(clap_complete::Shell::Bash);
        let man = man_page().expect("renders");
        for command in ["deploy", "promote", "rollback", "audit", "completions"] {
            assert!(bash.contains(command), "{command}");
            assert!(man.contains(command), "{command}");
        }
    }
}
