//! The S3 side of the converter: reading export objects in chunks and writing outputs,
//! through the AWS SDK. The client is created on first use from the standard
//! configuration chain, which honours `AWS_ENDPOINT_URL` and `AWS_REGION`.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use tokio::sync::OnceCell;

use super::{ObjectBody, ObjectStore, StoreError};

/// Export objects and outputs in S3.
#[derive(Debug, Default)]
pub struct S3Store {
    client: OnceCell<aws_sdk_s3::Client>,
    /// Outputs are put with SSE-KMS under this key, when set.
    kms_key_arn: Option<String>,
}

impl S3Store {
    /// A store that encrypts outputs with `kms_key_arn` (else the bucket's default).
    pub fn new(kms_key_arn: Option<String>) -> Self {
        Self {
            client: OnceCell::new(),
            kms_key_arn,
        }
    }

    async fn client(&self) -> &aws_sdk_s3::Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                // Path-style addressing works with every endpoint, local emulators included.
                let s3_config = aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some())
                    .build();
                aws_sdk_s3::Client::from_conf(s3_config)
            })
            .await
    }
}

/// The SDK's error with its whole chain of causes (a dispatch failure says why).
fn sdk_error(error: impl std::error::Error) -> StoreError {
    crate::batch::error_chain(&error).into()
}

/// An S3 object's body.
#[derive(Debug)]
pub struct S3Body(ByteStream);

impl ObjectBody for S3Body {
    async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, StoreError> {
        match self.0.next().await {
            None => Ok(None),
            Some(Ok(chunk)) => Ok(Some(chunk)),
            Some(Err(error)) => Err(Box::new(error)),
        }
    }
}

impl ObjectStore for S3Store {
    type Body = S3Body;

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<(S3Body, Option<String>), StoreError> {
        let output = self
            .client()
            .await
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_match(if_match.map(str::to_owned))
            .send()
            .await
            .map_err(sdk_error)?;
        let etag = output.e_tag().map(str::to_owned);
        Ok((S3Body(output.body), etag))
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let mut request = self
            .client()
            .await
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body));
        if let Some(key_arn) = &self.kms_key_arn {
            request = request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_arn)
                .bucket_key_enabled(true);
        }
        request.send().await.map_err(sdk_error)?;
        Ok(())
    }
}
