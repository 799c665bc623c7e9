//! The jobs' object store off AWS: in process ([`MemoryObjects`], with a loopback HTTP
//! endpoint that takes the `PUT` of an upload URL, as S3 takes a presigned one), or S3 on
//! a compatible endpoint (moto) with its bucket created ([`s3_objects`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use gateway::objects::{ObjectError, ObjectStore, UploadUrl};
use jobs::s3::S3Objects;

/// Objects in memory; uploads through `http://127.0.0.1:<port>/uploads/<token>`.
pub struct MemoryObjects {
    objects: Mutex<HashMap<String, Bytes>>,
    /// Upload tokens: token → (key, expires at, epoch s).
    uploads: Mutex<HashMap<String, (String, i64)>>,
    base_url: String,
}

impl MemoryObjects {
    /// The store, with its upload endpoint listening on a free loopback port.
    pub async fn serve() -> std::io::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let objects = Arc::new(Self {
            objects: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
            base_url: format!("http://{}", listener.local_addr()?),
        });
        let app = Router::new()
            .route("/uploads/{token}", put(upload))
            .with_state(objects.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the local upload endpoint stopped");
            }
        });
        Ok(objects)
    }

    /// Every object's key (for the tests).
    pub fn keys(&self) -> Vec<String> {
        self.objects
            .lock()
            .expect("objects lock")
            .keys()
            .cloned()
            .collect()
    }
}

/// `PUT /uploads/{token}`: the body becomes the object the token was made for.
async fn upload(
    State(objects): State<Arc<MemoryObjects>>,
    Path(token): Path<String>,
    body: Bytes,
) -> StatusCode {
    let now = chrono::Utc::now().timestamp();
    let target = objects
        .uploads
        .lock()
        .expect("uploads lock")
        .get(&token)
        .cloned();
    match target {
        Some((key, expires_at)) if expires_at >= now => {
            objects
                .objects
                .lock()
                .expect("objects lock")
                .insert(key, body);
            StatusCode::OK
        }
        _ => StatusCode::FORBIDDEN,
    }
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), ObjectError> {
        self.objects
            .lock()
            .expect("objects lock")
            .insert(key.to_owned(), body);
        Ok(())
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Bytes, ObjectError> {
        let objects = self.objects.lock().expect("objects lock");
        let object = objects.get(key).ok_or(ObjectError::Missing)?;
        let len = object.len() as u64;
        let end = end.unwrap_or(len).min(len);
        let start = start.min(end);
        Ok(object.slice(start as usize..end as usize))
    }

    async fn upload_url(
        &self,
        key: &str,
        valid_for: Duration,
        now_secs: i64,
    ) -> Result<UploadUrl, ObjectError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        // The endpoint checks expiry against the wall clock, as S3 does.
        let wall = chrono::Utc::now().timestamp();
        self.uploads.lock().expect("uploads lock").insert(
            token.clone(),
            (key.to_owned(), wall + valid_for.as_secs() as i64),
        );
        Ok(UploadUrl {
            url: format!("{}/uploads/{token}", self.base_url),
            expires_at: now_secs + valid_for.as_secs() as i64,
        })
    }
}

/// The bucket `bucket` on the S3 of a compatible endpoint (moto), created if missing;
/// path-style addressing, so its presigned URLs are on the endpoint itself.
pub async fn s3_objects(endpoint: &str, bucket: &str) -> Result<S3Objects, ObjectError> {
    let config = aws_sdk_s3::config::Builder::from(&crate::endpoint_config(endpoint))
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let exists = client.head_bucket().bucket(bucket).send().await.is_ok();
    if !exists {
        client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| {
                ObjectError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
            })?;
    }
    Ok(S3Objects::new(client, bucket))
}
