//! The Firehose processor function: tracing, its configuration, then the runtime's event
//! loop (`runtime::processor`). Run by hand, it answers the commands of `runtime::cli`.

use firehose_logs_processor::aws::reingest::AwsSink;
use firehose_logs_processor::runtime::cli::{answer_process, Function};
use firehose_logs_processor::runtime::processor::{keep_memory_across_invocations, run};
use firehose_logs_processor::Config;
use lambda_runtime::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if let Some(status) = answer_process(Function::Processor) {
        std::process::exit(status);
    }
    let memory_kept = keep_memory_across_invocations();
    lambda_runtime::tracing::init_default_subscriber();
    if !memory_kept {
        tracing::warn!("malloc refused its thresholds: memory is returned between invocations");
    }
    run(Config::from_env()?, AwsSink::default()).await
}
