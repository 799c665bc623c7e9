//! The issuer's writes under an `Idempotency-Key` (`gateway::idempotency`): the same key
//! and request within a day answers what the first did, without another upstream call.

use std::future::Future;

use axum::Json;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gateway::error::ApiError;
use gateway::http::{IssuerCaller, replayed};
use gateway::idempotency::{Begin, IdempotencyKey, KeptAnswer};
use serde::Serialize;
use serde_json::Value;

use crate::EnrollApp;

impl EnrollApp {
    /// Runs `write` once per key: the first request with the key runs it and its answer
    /// is kept (when it changed something); a repeat gets that answer.
    pub(crate) async fn once<T, F, Fut>(
        &self,
        caller: &IssuerCaller,
        headers: &HeaderMap,
        route: &'static str,
        request: &T,
        write: F,
    ) -> Result<Response, ApiError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Json<Value>, ApiError>>,
    {
        let Some(key) = IdempotencyKey::from_headers(headers)? else {
            return write().await.map(IntoResponse::into_response);
        };
        let parsed = serde_json::to_value(request).expect("a request serializes");
        match self
            .idempotency
            .begin(caller.id(), &key, route, &parsed)
            .await?
        {
            Begin::Replay(answer) => {
                tracing::info!("a repeat under the same Idempotency-Key was answered as before");
                gateway::telemetry::metrics::replay(route);
                Ok(replayed(answer.body))
            }
            Begin::Proceed(claim) => match write().await {
                Ok(Json(body)) => {
                    let answer = KeptAnswer {
                        status: 200,
                        body: body.clone(),
                    };
                    // The write happened: its answer goes back whatever becomes of keeping it.
                    if let Err(error) = self.idempotency.complete(claim, &answer).await {
                        tracing::warn!(%error, "an answer under an Idempotency-Key could not be kept");
                    }
                    Ok(Json(body).into_response())
                }
                Err(error) => {
                    self.idempotency.release(claim).await;
                    Err(error)
                }
            },
        }
    }
}
