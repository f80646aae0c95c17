//! facturactl: the deployment control plane of FacturaScan 360.
//!
//! Layers point one way (see ARCHITECTURE.md): [`cli`] parses and presents, [`commands`]
//! holds one use case per command, the domain modules below do the work, on top of
//! [`aws`], [`config`] and [`render`]. Only `cli` prints or prompts; commands return typed
//! outcomes that [`report`] renders as text, JSON or Markdown.

pub mod alarms;
pub mod audit;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deployment;
pub mod error;
pub mod exit;
pub mod files;
pub mod git;
pub mod graph;
pub mod logging;
pub mod models;
pub mod notify;
pub mod pipeline;
pub mod policy;
pub mod preflight;
pub mod progress;
pub mod release;
pub mod render;
pub mod report;
pub mod schema;
pub mod secrets;
pub mod services;
pub mod stacks;
pub mod verify;
pub mod wiring;

/// The system allocator, with renders' allocations charged to their budget
/// (`render::bound`): a template cannot exhaust memory. In the library, so every binary
/// that renders (the CLI, the tests, the fuzzer) has the bound.
#[global_allocator]
static ALLOCATOR: render::bound::Bounded = render::bound::Bounded;
