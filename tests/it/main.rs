//! Integration tests, one binary with a module per theme so they compile once.

mod architecture;
mod cfn;
mod export;
mod golden;
mod loop_guard;
mod oracle;
mod properties;
mod reingest;
mod runtime;
mod runtime_api;
mod samples;
mod straightforward;
mod template;
mod wire;
