//! facturactl: the deployment control plane of FacturaScan 360.
//!
//! The library never prints. Each command is a function from inputs to a value that
//! [`report`] turns into text, JSON or Markdown; `main.rs` only parses arguments, sets up
//! logging, dispatches, and maps errors to exit codes.

pub mod alarms;
pub mod audit;
pub mod aws;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit;
pub mod git;
pub mod github;
pub mod graph;
pub mod logging;
pub mod notify;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod release;
pub mod render;
pub mod report;
pub mod schema;
pub mod secrets;
pub mod services;
pub mod stacks;
pub mod terminal;
