//! Objects too large for a request or a record: a bulk enrollment job's items, given
//! inline or uploaded by the card program through a presigned URL. On AWS an S3 bucket
//! (KMS-encrypted, private, objects expired by a lifecycle rule); off AWS the loopback
//! crate's in-process store, or S3 on a compatible endpoint (moto).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ObjectError {
    #[error("no such object")]
    Missing,
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
}

/// Where a client sends an object itself: an HTTP `PUT` of the body to `url`, before
/// `expires_at` (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadUrl {
    pub url: String,
    pub expires_at: i64,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), ObjectError>;
    /// The bytes `start..end` of the object (all of it from `start` when `end` is `None`).
    async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Bytes, ObjectError>;
    /// A URL the holder can `PUT` the object `key` to, for `valid_for`; `now_secs` is the
    /// caller's clock.
    async fn upload_url(
        &self,
        key: &str,
        valid_for: Duration,
        now_secs: i64,
    ) -> Result<UploadUrl, ObjectError>;
}

pub type SharedObjects = std::sync::Arc<dyn ObjectStore>;
