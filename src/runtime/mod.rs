//! The Lambda runtime glue: each binary is tracing, its configuration and the `run` of
//! its service here, which hands the runtime's events to the library's core.
//!
//! - [`processor`]: the Firehose processor's event loop, answered through
//!   [`firehose_layer`] (the response posted as the processor wrote it);
//! - [`converter`]: the export converter's event loop;
//! - [`cli`]: the commands a binary answers when run by hand rather than by Lambda.

pub mod cli;
pub mod converter;
pub mod firehose_layer;
pub mod processor;

use std::io::Write;

/// Writes the invocation's EMF line, when there is one, to stdout as its own line:
/// CloudWatch extracts the metrics from it. A failed write loses that line, not the
/// invocation.
pub fn write_emf(line: Option<&str>) {
    if let Some(line) = line {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    }
}
