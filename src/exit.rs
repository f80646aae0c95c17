//! Exit codes, one meaning each. Documented in `--help` and the README.

/// What the process tells its caller (a CI step, a script, a person).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; nothing blocking found.
    Ok = 0,
    /// An error: bad input, a failed AWS call, a failed deploy.
    Error = 1,
    /// Changes or drift found (plan `--detailed-exitcode`, audits).
    Changes = 2,
    /// Refused by a gate: release tag, deploy lock, or policy.
    Refused = 3,
    /// Done, but a notification could not be sent (only with
    /// `notifications.warning_exit = true`; otherwise that is exit 0 with a warning).
    Warning = 4,
    /// Interrupted (Ctrl-C or SIGTERM): the lock released, the report says what may be
    /// half-done.
    Interrupted = 130,
}

impl Exit {
    pub const HELP: &'static str = "Exit codes:\n  0  done\n  1  error (bad input, failed AWS call, failed deploy)\n  2  changes or drift found (plan --detailed-exitcode, audits)\n  3  refused by a gate (release tag, deploy lock, policy)\n  4  done, but a notification was not sent (only with notifications.warning_exit)\n  130 interrupted (Ctrl-C or SIGTERM); the deploy lock is released";

    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}
