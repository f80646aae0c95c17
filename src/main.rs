//! The `facturactl` binary: parse, one runtime, run, exit. Everything else lives in the
//! library.

use std::process::ExitCode;

use facturactl::cli;
use facturactl::exit::Exit;

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(args) => args,
        Err(exit) => return exit.into(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!(
                "error: cannot start the async runtime: {e}\n  = help: check the process limits (threads, file descriptors)"
            );
            return Exit::Error.into();
        }
    };
    runtime
        .block_on(cli::run(args, cli::Host::from_process_env()))
        .into()
}
