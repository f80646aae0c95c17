//! The `facturactl` binary: parse, one runtime, run, exit. Everything else lives in the
//! library.

use std::process::ExitCode;

use facturactl::cli;
use facturactl::exit::Exit;

fn main() -> ExitCode {
    one_malloc_arena();
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

/// One malloc arena for the process. glibc gives each thread that allocates (the runtime's
/// blocking pool: DNS, files) an arena of its own, about 1 MiB of a deploy's 30 MiB peak
/// RSS, for a heap that peaks under 3 MB (docs/development/benchmarks.md): contention on
/// one arena costs nothing measurable in a run bound by AWS's latency.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    // SAFETY: mallopt only sets an allocator parameter, and runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}
