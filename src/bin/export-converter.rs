//! The export converter function: tracing, its configuration, then the runtime's event
//! loop (`runtime::converter`). Run by hand, it answers the commands of `runtime::cli`.

use firehose_logs_processor::export::ExportConfig;
use firehose_logs_processor::runtime::cli::{answer_process, Function};
use firehose_logs_processor::runtime::converter::run;
use lambda_runtime::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if let Some(status) = answer_process(Function::ExportConverter) {
        std::process::exit(status);
    }
    lambda_runtime::tracing::init_default_subscriber();
    run(ExportConfig::from_env()?).await
}
