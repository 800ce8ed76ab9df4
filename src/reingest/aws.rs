//! The AWS side of re-ingestion: Firehose `PutRecordBatch` and Kinesis `PutRecords`
//! through the AWS SDK. Clients are created on first use, not at cold start (most
//! invocations never need them), from the standard configuration chain, which honours
//! `AWS_ENDPOINT_URL` and `AWS_REGION`.

use aws_sdk_firehose::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_firehose::primitives::Blob as FirehoseBlob;
use aws_sdk_kinesis::primitives::Blob as KinesisBlob;
use tokio::sync::OnceCell;

use super::{PutEntry, RecordSink, SinkError, Target};

/// Puts records into AWS streams.
#[derive(Debug, Default)]
pub struct AwsSink {
    config: OnceCell<aws_config::SdkConfig>,
    firehose: OnceCell<aws_sdk_firehose::Client>,
    kinesis: OnceCell<aws_sdk_kinesis::Client>,
}

impl AwsSink {
    async fn config(&self) -> &aws_config::SdkConfig {
        self.config
            .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
            .await
    }

    async fn firehose(&self) -> &aws_sdk_firehose::Client {
        self.firehose
            .get_or_init(|| async { aws_sdk_firehose::Client::new(self.config().await) })
            .await
    }

    async fn kinesis(&self) -> &aws_sdk_kinesis::Client {
        self.kinesis
            .get_or_init(|| async { aws_sdk_kinesis::Client::new(self.config().await) })
            .await
    }
}

/// Error codes that no retry can cure: the stream, the permission or the request is wrong.
const PERMANENT_ERROR_CODES: [&str; 12] = [
    "AccessDeniedException",
    "InvalidArgumentException",
    "InvalidKMSResourceException",
    "InvalidSourceException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "ResourceNotFoundException",
    "UnrecognizedClientException",
    "ValidationException",
    "InvalidSignatureException",
];

fn sink_error<E, R>(error: SdkError<E, R>) -> SinkError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let retryable = match &error {
        // The request could not even be built (no credentials, no region): permanent.
        SdkError::ConstructionFailure(_) => false,
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_none_or(|code| !PERMANENT_ERROR_CODES.contains(&code)),
        _ => true,
    };
    SinkError {
        message: crate::batch::error_chain(&error),
        retryable,
    }
}

fn build_error(error: impl std::error::Error) -> SinkError {
    SinkError {
        message: crate::batch::error_chain(&error),
        retryable: false,
    }
}

impl RecordSink for AwsSink {
    async fn put(
        &self,
        target: &Target,
        entries: &[PutEntry<'_>],
    ) -> Result<Vec<Option<String>>, SinkError> {
        match target {
            Target::DeliveryStream(name) => {
                let records = entries
                    .iter()
                    .map(|entry| {
                        aws_sdk_firehose::types::Record::builder()
                            .data(FirehoseBlob::new(entry.data))
                            .build()
                            .map_err(build_error)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let output = self
                    .firehose()
                    .await
                    .put_record_batch()
                    .delivery_stream_name(name)
                    .set_records(Some(records))
                    .send()
                    .await
                    .map_err(sink_error)?;
                Ok(output
                    .request_responses()
                    .iter()
                    .map(|response| response.error_code().map(str::to_owned))
                    .collect())
            }
            Target::KinesisStream(arn) => {
                let records = entries
                    .iter()
                    .map(|entry| {
                        aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                            .data(KinesisBlob::new(entry.data))
                            .partition_key(entry.partition_key)
                            .build()
                            .map_err(build_error)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let output = self
                    .kinesis()
                    .await
                    .put_records()
                    .stream_arn(arn)
                    .set_records(Some(records))
                    .send()
                    .await
                    .map_err(sink_error)?;
                Ok(output
                    .records()
                    .iter()
                    .map(|record| record.error_code().map(str::to_owned))
                    .collect())
            }
        }
    }
}
