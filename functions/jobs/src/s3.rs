//! The jobs bucket on AWS S3 (or a compatible endpoint): the [`ObjectStore`] of the two
//! job functions only, so no other function links the S3 client.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use gateway::objects::{ObjectError, ObjectStore, UploadUrl};

/// AWS S3 (or a compatible endpoint).
pub struct S3Objects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Objects {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

fn s3_error<E: std::error::Error + Send + Sync + 'static>(
    error: aws_sdk_s3::error::SdkError<E>,
) -> ObjectError {
    ObjectError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(error).to_string())
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(s3_error)
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Bytes, ObjectError> {
        use aws_sdk_s3::operation::get_object::GetObjectError;
        let range = match end {
            Some(end) if end > start => format!("bytes={start}-{}", end - 1),
            Some(_) => return Ok(Bytes::new()),
            None => format!("bytes={start}-"),
        };
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(range)
            .send()
            .await;
        let object = match object {
            Ok(object) => object,
            Err(aws_sdk_s3::error::SdkError::ServiceError(service))
                if matches!(service.err(), GetObjectError::NoSuchKey(_)) =>
            {
                return Err(ObjectError::Missing);
            }
            Err(other) => return Err(s3_error(other)),
        };
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| ObjectError::Unavailable(e.to_string()))?;
        Ok(body.into_bytes())
    }

    async fn upload_url(
        &self,
        key: &str,
        valid_for: Duration,
        now_secs: i64,
    ) -> Result<UploadUrl, ObjectError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(valid_for)
            .map_err(|e| ObjectError::Unavailable(e.to_string()))?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(s3_error)?;
        Ok(UploadUrl {
            url: presigned.uri().to_owned(),
            expires_at: now_secs + valid_for.as_secs() as i64,
        })
    }
}

/// An S3 client from the function's AWS configuration, with timeouts for objects (a
/// job's file is megabytes, not a record's bytes).
pub fn s3_client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(25))
        .build();
    let config = aws_sdk_s3::config::Builder::from(aws)
        .timeout_config(timeouts)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
