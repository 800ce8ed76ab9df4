//! The S3 side of the converter: reading export objects in chunks and writing outputs,
//! through the AWS SDK. An output is staged as a multipart upload of one part, which no
//! reader sees until it is completed (published) and which an abort discards; it carries
//! a full-object CRC-32, computed here, which S3 checks on upload and readers on
//! download. The client is created on first use from the standard configuration chain,
//! which honours `AWS_ENDPOINT_URL` and `AWS_REGION`.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use tokio::sync::OnceCell;

use crate::export::{ObjectBody, ObjectStore, StoreError};

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
    crate::support::error_chain(&error).into()
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

/// An output uploaded as the one part of a multipart upload not yet completed.
#[derive(Debug)]
pub struct S3Staged {
    upload_id: String,
    /// The one part, with its CRC-32 (base64): being the only part, the object's too.
    part: CompletedPart,
}

impl ObjectStore for S3Store {
    type Body = S3Body;
    type Staged = S3Staged;

    async fn get(&self, bucket: &str, key: &str) -> Result<S3Body, StoreError> {
        let output = self
            .client()
            .await
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(S3Body(output.body))
    }

    async fn stage(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<S3Staged, StoreError> {
        let client = self.client().await;
        let mut create = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("application/x-ndjson")
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(ChecksumType::FullObject);
        if let Some(key_arn) = &self.kms_key_arn {
            create = create
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_arn)
                .bucket_key_enabled(true);
        }
        let created = create.send().await.map_err(sdk_error)?;
        let upload_id = created
            .upload_id()
            .ok_or("CreateMultipartUpload answered without an upload id")?
            .to_owned();
        // One part: its CRC-32 is the whole object's.
        let crc32 = base64_simd::STANDARD.encode_to_string(crc32fast::hash(&body).to_be_bytes());
        let uploaded = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(1)
            .checksum_crc32(&crc32)
            .body(ByteStream::from(body))
            .send()
            .await;
        let uploaded = match uploaded {
            Ok(uploaded) => uploaded,
            Err(error) => {
                let error = sdk_error(error);
                // Not left to the lifecycle rule when it can be helped.
                if let Err(abort) = self.abort(bucket, key, &upload_id).await {
                    tracing::warn!(
                        key,
                        error = %abort,
                        "a staged output was not discarded; the bucket's lifecycle rule removes it"
                    );
                }
                return Err(error);
            }
        };
        let part = CompletedPart::builder()
            .part_number(1)
            .set_e_tag(uploaded.e_tag().map(str::to_owned))
            .checksum_crc32(&crc32)
            .build();
        Ok(S3Staged { upload_id, part })
    }

    async fn publish(&self, bucket: &str, key: &str, staged: &S3Staged) -> Result<(), StoreError> {
        self.client()
            .await
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&staged.upload_id)
            .set_checksum_crc32(staged.part.checksum_crc32().map(str::to_owned))
            .checksum_type(ChecksumType::FullObject)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(staged.part.clone())
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn discard(&self, bucket: &str, key: &str, staged: S3Staged) -> Result<(), StoreError> {
        self.abort(bucket, key, &staged.upload_id).await
    }
}

impl S3Store {
    async fn abort(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.client()
            .await
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
