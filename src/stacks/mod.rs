//! CloudFormation stacks: what is live, what a deploy would do, and doing it.

pub mod deploy;
pub mod desired;
pub mod destroy;
pub mod events;
pub mod live;
pub mod plan;
pub mod replacements;
pub mod saved;
pub mod scheduler;
pub mod template;
