//! The use cases, one module per command: `run(&Session, Request) -> Result<Outcome, Error>`.
//!
//! A command reads the config, talks to AWS through the domain modules, and returns a typed
//! outcome that `report` renders. It never prints or prompts: it asks the session's
//! [`Console`] to confirm, to show a note or a warning, and to display progress.

pub mod alarms;
pub mod audit;
pub mod bootstrap;
pub mod config_show;
pub mod deploy;
pub mod destroy;
pub mod guarded;
pub mod history;
pub mod model;
pub mod notify;
pub mod outputs;
pub mod pipeline;
pub mod plan;
pub mod preflight;
pub mod promote;
pub mod release_check;
pub mod render;
pub mod retrain;
pub mod rollback;
pub mod schema;
pub mod status;
pub mod traffic;
pub mod unlock;
pub mod validate;
pub mod verify;

mod apply;
mod console;
mod session;
mod steps;

pub use console::{Console, ProgressScope, ScriptedConsole};
pub use session::{RegionOverride, Session};
