//! Shell completions (clap_complete) and the manual page (clap_mangen), both generated from
//! the same clap definitions as `--help`, so they never drift from the real flags.

use clap::CommandFactory;

use super::args::Cli;
use crate::error::Error;

/// The completion script for `shell`: the dynamic one (it asks `facturactl` for each
/// candidate, so environments, stacks and profiles are completed from the project and the
/// AWS files), else clap's static script of the flags.
pub fn completions(shell: clap_complete::Shell) -> String {
    if let Some(script) = super::complete::registration(shell) {
        return script;
    }
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "facturactl", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The manual page of facturactl, in roff.
pub fn man_page() -> Result<String, Error> {
    page(Cli::command(), "facturactl.1")
}

/// One page per command: `facturactl.1`, `facturactl-deploy.1`, `facturactl-audit-drift.1`
/// (file name, roff), each with EXIT STATUS, ENVIRONMENT and FILES.
pub fn man_pages() -> Result<Vec<(String, String)>, Error> {
    let mut command = Cli::command();
    command.build();
    let mut pages = Vec::new();
    collect(&command, "facturactl", &mut pages)?;
    Ok(pages)
}

fn collect(
    command: &clap::Command,
    path: &str,
    pages: &mut Vec<(String, String)>,
) -> Result<(), Error> {
    let file = format!("{}.1", path.replace(' ', "-"));
    let named = command.clone().name(path.replace(' ', "-")).bin_name(path);
    pages.push((file.clone(), page(named, &file)?));
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        collect(sub, &format!("{path} {}", sub.get_name()), pages)?;
    }
    Ok(())
}

fn page(command: clap::Command, file: &str) -> Result<String, Error> {
    // Subcommands carry no version of their own (clap_mangen would not render one).
    let versioned = command.get_version().is_some();
    let man = clap_mangen::Man::new(command);
    let mut out = Vec::new();
    let written = (|| -> std::io::Result<()> {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
        man.render_subcommands_section(&mut out)?;
        out.extend_from_slice(SECTIONS.as_bytes());
        if versioned {
            man.render_version_section(&mut out)?;
        }
        Ok(())
    })();
    written.map_err(|source| Error::Write {
        path: file.into(),
        source,
        nothing_written: true,
    })?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// What every page says beside the command's own options (roff).
const SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
0
done; nothing blocking found
.TP
1
error: bad input, a failed AWS call, a failed deploy; a check that could not run
.TP
2
changes or drift found (plan \-\-detailed\-exitcode, audits)
.TP
3
refused by a gate: release tag, deploy lock, policy, verification
.TP
4
done, but a notification was not sent (only with notifications.warning_exit)
.TP
130
interrupted (Ctrl\-C or SIGTERM); the deploy lock is released
.SH ENVIRONMENT
.TP
AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
credentials as the AWS CLI resolves them; \-\-profile (or the environment file's profile) wins over exported keys
.TP
AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>
endpoints; \-\-endpoint\-url wins over both
.TP
AWS_CA_BUNDLE
the certificates HTTPS trusts (else the profile's ca_bundle)
.TP
AWS_REGION, AWS_DEFAULT_REGION
never move an environment (a note says so); \-\-region does
.TP
NO_COLOR, CLICOLOR_FORCE, TERM
colour; TERM=dumb means no colour and no live view
.TP
GITHUB_ACTIONS, RUNNER_DEBUG, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_ACTOR
in a GitHub Actions step: text logs in groups, annotations, the step summary and outputs; RUNNER_DEBUG=1 is \-v
.TP
FACTURACTL_TRACE_ID
one trace id across a pipeline's stages
.SH FILES
.TP
deploy.toml
the project: stacks, services, alarms, channels, release policy, [verify]
.TP
environments/<env>.yaml
each environment's overlay: account, region, sizes, thresholds
.TP
templates/
the CloudFormation and alarm templates (Tera)
.TP
pipelines/*.toml
the generated GitHub Actions workflows' definitions
.TP
~/.aws/config, ~/.aws/credentials
profiles (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)
"#;

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
    fn every_command_has_a_page_with_exit_status_environment_and_files() {
        let pages = man_pages().expect("pages");
        let names: Vec<&str> = pages.iter().map(|(file, _)| file.as_str()).collect();
        for wanted in [
            "facturactl.1",
            "facturactl-deploy.1",
            "facturactl-audit-drift.1",
            "facturactl-verify.1",
        ] {
            assert!(names.contains(&wanted), "{names:?}");
        }
        for (file, text) in &pages {
            for section in [
                ".SH \"EXIT STATUS\"",
                ".SH ENVIRONMENT",
                ".SH FILES",
                ".SH SYNOPSIS",
            ] {
                assert!(text.contains(section), "{file} lacks {section}");
            }
        }
        let verify = &pages
            .iter()
            .find(|(f, _)| f == "facturactl-verify.1")
            .expect("verify")
            .1;
        assert!(verify.contains("facturactl verify"), "{verify}");
        assert!(verify.contains("update\\-baseline"), "{verify}");
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
    fn completions_ask_the_binary_and_the_manual_names_every_command() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let script = completions(shell);
            assert!(
                script.contains(&format!("FACTURACTL_COMPLETE=\"{shell}\""))
                    || script.contains(&format!("FACTURACTL_COMPLETE={shell} ")),
                "{shell}: {script}"
            );
        }
        let man = man_page().expect("renders");
        for command in ["deploy", "promote", "rollback", "audit", "completions"] {
            assert!(man.contains(command), "{command}");
        }
    }
}
