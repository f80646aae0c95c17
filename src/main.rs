//! The `facturactl` binary: parse, run, exit. Everything else lives in the library.

use std::process::ExitCode;

use facturactl::cli;

fn main() -> ExitCode {
    match cli::parse() {
        Ok(args) => cli::run(args, cli::Host::from_process_env()).into(),
        Err(exit) => exit.into(),
    }
}
