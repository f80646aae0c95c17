//! One line per command: its request from the arguments, its use case, its presentation.

use super::args::{Command, ConfigCommand};
use super::console::Presenter;
use crate::commands::{self, Session};
use crate::error::Error;
use crate::exit::Exit;

/// Runs the command; returns what to print on stdout and the exit code.
pub async fn dispatch(
    command: Command,
    session: &Session<'_>,
    show: &Presenter<'_>,
) -> Result<(String, Exit), Error> {
    use commands as c;
    Ok(match command {
        Command::Schema(a) => match c::schema::run(session, a.request()).await? {
            c::schema::Outcome::Printed(schema) => {
                show.present(&crate::report::PrintedSchema(schema))
            }
            c::schema::Outcome::Files(files) => show.present(&files),
        },
        Command::Completions { shell } => (super::manual::completions(shell), Exit::Ok),
        Command::Man => (super::manual::man_page()?, Exit::Ok),
        Command::Validate(a) => show.present(&c::validate::run(session, a.request()).await?),
        Command::Pipeline { command } => {
            show.present(&c::pipeline::run(session, command.request()).await?)
        }
        Command::Config {
            command: ConfigCommand::Show,
        } => show.present(&c::config_show::run(session).await?),
        Command::Render(a) => show.present(&c::render::run(session, a.request()).await?),
        Command::Plan(a) => show.present(&c::plan::run(session, a.request()).await?),
        Command::Deploy(a) => show.present(&c::deploy::run(session, a.request()).await?),
        Command::Bootstrap(a) => show.present(&c::bootstrap::run(session, a.request()).await?),
        Command::Destroy(a) => show.present(&c::destroy::run(session, a.request()).await?),
        Command::Alarms { command } => {
            show.present(&c::alarms::run(session, command.request()).await?)
        }
        Command::Audit { command } => {
            show.present(&c::audit::run(session, command.request()).await?)
        }
        Command::Release { command } => {
            show.present(&c::release_check::run(session, command.request()).await?)
        }
        Command::Status => show.present(&c::status::run(session).await?),
        Command::Preflight => show.present(&c::preflight::run(session).await?),
        Command::History(a) => show.present(&c::history::run(session, a.request()).await?),
        Command::Promote(a) => show.present(&c::promote::run(session, a.request()).await?),
        Command::Rollback(a) => show.present(&c::rollback::run(session, a.request()).await?),
        Command::Unlock(a) => show.present(&c::unlock::run(session, a.request()).await?),
        Command::Traffic(a) => show.present(&c::traffic::run(session, a.request()).await?),
        Command::Notify(a) => show.present(&c::notify::run(session, a.request()).await?),
        Command::Model { command } => {
            show.present(&c::model::run(session, command.request()).await?)
        }
        Command::Retrain(a) if a.register_pending => {
            show.present(&c::retrain::register_pending(session, a.pending()).await?)
        }
        Command::Retrain(a) => show.present(&c::retrain::run(session, a.request()).await?),
    })
}
