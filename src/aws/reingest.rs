//! The AWS side of re-ingestion: Firehose `PutRecordBatch` and Kinesis `PutRecords`
//! through the AWS SDK. Clients are created on first use, not at cold start (most
//! invocations never need them), from the standard configuration chain, which honours
//! `AWS_ENDPOINT_URL` and `AWS_REGION`.

use aws_sdk_firehose::config::http::HttpResponse;
use aws_sdk_firehose::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_firehose::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_firehose::primitives::Blob as FirehoseBlob;
use aws_sdk_kinesis::primitives::Blob as KinesisBlob;
use tokio::sync::OnceCell;

use crate::processor::reingest::{PutEntry, RecordSink, SinkError, Target};

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
const PERMANENT_ERROR_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "ExpiredTokenException",
    "IncompleteSignature",
    "InvalidArgumentException",
    "InvalidClientTokenId",
    "InvalidKMSResourceException",
    "InvalidSignatureException",
    "InvalidSourceException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "MissingAuthenticationToken",
    "ResourceNotFoundException",
    "UnrecognizedClientException",
    "ValidationException",
];

/// Error codes that say "later": throttling and the services' own transient failures,
/// some of which come with a 400 status (Kinesis's throughput and KMS throttling).
const TRANSIENT_ERROR_CODES: &[&str] = &[
    "InternalFailure",
    "InternalServerError",
    "KMSThrottlingException",
    "LimitExceededException",
    "ProvisionedThroughputExceededException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailableException",
    "ThrottlingException",
    "TooManyRequestsException",
];

/// Whether a service's answer can change on a later try: throttling and 5xx can; a
/// known permanent code, and any other 4xx (validation, missing resource), cannot.
fn service_error_is_retryable(code: Option<&str>, status: u16) -> bool {
    match code {
        Some(code) if TRANSIENT_ERROR_CODES.contains(&code) => true,
        Some(code) if PERMANENT_ERROR_CODES.contains(&code) => false,
        _ => !(400..500).contains(&status) || status == 408 || status == 429,
    }
}

/// Whether `error` is the credential provider's error: no credentials could be found
/// (none in the environment or profile, instance metadata disabled or absent). The
/// SDK reports it as a dispatch failure, like a network error, but unlike one it does
/// not go away by trying again within the invocation.
///
/// The error type lives in `aws-credential-types`, which is not a direct dependency;
/// it is named here as the error of the credential provider trait's future.
fn is_credentials_error(error: &(dyn std::error::Error + 'static)) -> bool {
    fn is_output_error_of<'a, Fut, T, E>(
        _provide: fn(&'a SharedCredentialsProvider) -> Fut,
        error: &(dyn std::error::Error + 'static),
    ) -> bool
    where
        Fut: std::future::Future<Output = Result<T, E>> + 'a,
        E: std::error::Error + 'static,
    {
        error.is::<E>()
    }
    is_output_error_of(
        <SharedCredentialsProvider as ProvideCredentials>::provide_credentials,
        error,
    )
}

/// The first error in `error`'s chain that satisfies `matches`.
fn find_in_chain<'e>(
    error: &'e (dyn std::error::Error + 'static),
    matches: impl Fn(&(dyn std::error::Error + 'static)) -> bool,
) -> Option<&'e (dyn std::error::Error + 'static)> {
    let mut next = Some(error);
    while let Some(current) = next {
        if matches(current) {
            return Some(current);
        }
        next = current.source();
    }
    None
}

/// Tells the errors that can clear up (throttling, 5xx, timeouts, connection failures)
/// from those that cannot (no credentials, access denied, no such stream, invalid
/// request), and says which in the message's first words.
fn sink_error<E>(error: SdkError<E, HttpResponse>) -> SinkError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let chain = crate::support::error_chain(&error);
    if find_in_chain(&error, is_credentials_error).is_some() {
        return SinkError {
            message: format!("no AWS credentials: {chain}"),
            retryable: false,
        };
    }
    match &error {
        // The request could not even be built: permanent.
        SdkError::ConstructionFailure(_) => SinkError {
            message: format!("request could not be built: {chain}"),
            retryable: false,
        },
        SdkError::ServiceError(service) => {
            let code = service.err().code();
            let status = service.raw().status().as_u16();
            let retryable = service_error_is_retryable(code, status);
            let message = match (code, service.err().message()) {
                (Some(code), Some(text)) => format!("{code}: {text}"),
                (Some(code), None) => code.to_owned(),
                _ => chain,
            };
            SinkError { message, retryable }
        }
        // An answer the SDK could not read (an XML error body where JSON was expected,
        // as some emulators send) is judged by its status, as a service error without a
        // code would be, and named by the code and message in its body when it has them.
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            let body = response.raw().body().bytes().unwrap_or_default();
            let message = match (tag_text(body, "Code"), tag_text(body, "Message")) {
                (Some(code), Some(text)) => format!("{code}: {text} (HTTP {status})"),
                (Some(code), None) => format!("{code} (HTTP {status})"),
                _ => format!("HTTP {status}: {chain}"),
            };
            SinkError {
                retryable: service_error_is_retryable(None, status),
                message,
            }
        }
        // Timeouts, connection and I/O failures: worth another try.
        _ => SinkError {
            message: chain,
            retryable: true,
        },
    }
}

/// The text of the first `<tag>…</tag>` in an XML error body.
fn tag_text<'b>(body: &'b [u8], tag: &str) -> Option<&'b str> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find(&format!("<{tag}>"))? + tag.len() + 2;
    let length = text[start..].find(&format!("</{tag}>"))?;
    Some(text[start..start + length].trim()).filter(|found| !found.is_empty())
}

fn build_error(error: impl std::error::Error) -> SinkError {
    SinkError {
        message: crate::support::error_chain(&error),
        retryable: false,
    }
}

impl RecordSink for AwsSink {
    async fn put(
        &self,
        target: &Target,
        entries: &[PutEntry<'_>],
    ) -> Result<Vec<Option<String>>, SinkError> {
        if self.config().await.region().is_none() {
            return Err(SinkError {
                message: "no AWS region: set AWS_REGION".to_owned(),
                retryable: false,
            });
        }
        // The two put paths look alike but share no types: each SDK has its own record,
        // blob, builder error and response entry, so a common helper would only be a
        // macro over two different APIs. They are kept side by side, each tested against
        // moto.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_split_into_transient_and_permanent() {
        let cases: &[(Option<&str>, u16, bool)] = &[
            (Some("ThrottlingException"), 400, true),
            (Some("ProvisionedThroughputExceededException"), 400, true),
            (Some("ServiceUnavailableException"), 503, true),
            (Some("InternalFailure"), 500, true),
            (None, 500, true),
            (None, 429, true),
            (Some("SomethingNew"), 502, true),
            (Some("ResourceNotFoundException"), 400, false),
            (Some("AccessDeniedException"), 400, false),
            (Some("UnrecognizedClientException"), 400, false),
            (Some("InvalidArgumentException"), 400, false),
            (Some("ValidationException"), 400, false),
            (Some("SomethingNew"), 403, false),
            (None, 404, false),
        ];
        for &(code, status, retryable) in cases {
            assert_eq!(
                service_error_is_retryable(code, status),
                retryable,
                "{code:?} {status}"
            );
        }
    }

    #[test]
    fn an_xml_error_body_is_named_by_its_code_and_message() {
        let body = b"<ErrorResponse><Errors><Error><Code>AccessDenied</Code>\
                     <Message>User: u is not authorized</Message></Error></Errors></ErrorResponse>";
        assert_eq!(tag_text(body, "Code"), Some("AccessDenied"));
        assert_eq!(tag_text(body, "Message"), Some("User: u is not authorized"));
        assert_eq!(tag_text(b"{\"message\":\"x\"}", "Code"), None);
        assert_eq!(tag_text(b"<Code></Code>", "Code"), None);
    }

    /// What the standard chain returns when nothing provides credentials, found inside
    /// the wrapping the SDK puts around it.
    // The profile-file types' successors live in aws-runtime, not a direct dependency.
    #[allow(deprecated)]
    #[tokio::test]
    async fn a_credential_provider_failure_is_recognised_in_a_chain() {
        let files = aws_config::profile::profile_file::ProfileFiles::builder()
            .with_file(
                aws_config::profile::profile_file::ProfileFileKind::Credentials,
                "/nonexistent/credentials",
            )
            .with_file(
                aws_config::profile::profile_file::ProfileFileKind::Config,
                "/nonexistent/config",
            )
            .build();
        let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_files(files)
            .profile_name("nobody")
            .build();
        let error = provider
            .provide_credentials()
            .await
            .expect_err("no profile, no credentials");

        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Wrapper(#[source] Box<dyn std::error::Error + Send + Sync>);
        let wrapped = Wrapper(Box::new(error));
        assert!(find_in_chain(&wrapped, is_credentials_error).is_some());

        let unrelated = Wrapper(Box::new(std::io::Error::other("connection reset")));
        assert!(find_in_chain(&unrelated, is_credentials_error).is_none());
    }
}
