//! The issuer's writes under an `Idempotency-Key` (`gateway::idempotency`): the same key
//! and request within a day answers what the first did, without another upstream call.
//! Every upstream call of a write under a key ends by the key's lease.

use std::future::Future;
use std::time::Instant;

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
    /// Runs `write` once per key: the first request with the key runs it (its upstream
    /// calls over by the lease's deadline) and its answer is kept (when it changed
    /// something); a repeat gets that answer. Without a key, `write` runs with no deadline
    /// of its own.
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
        F: FnOnce(Option<Instant>) -> Fut,
        Fut: Future<Output = Result<Json<Value>, ApiError>>,
    {
        let Some(key) = IdempotencyKey::from_headers(headers)? else {
            return write(None).await.map(IntoResponse::into_response);
        };
        let parsed = serde_json::to_value(request).expect("a request serializes");
        let keys = self.idempotency_keys.get().await?;
        let begun = self
            .idempotency
            .begin(&keys, caller.id(), &key, route, &parsed)
            .await?;
        let (held, keyed) = match begun {
            Begin::Replay(answer) => {
                tracing::info!("a repeat under the same Idempotency-Key was answered as before");
                gateway::telemetry::metrics::replay(route);
                return Ok(replayed(answer.body));
            }
            Begin::Proceed(held, keyed) => (held, keyed),
        };
        match write(Some(held.deadline(self.clock.now_ms()))).await {
            Ok(Json(body)) => {
                let answer = KeptAnswer {
                    status: 200,
                    body: body.clone(),
                };
                // The write happened: its answer goes back whatever becomes of keeping it.
                if let Err(error) = self.idempotency.complete(&keys, &held, &answer).await {
                    tracing::warn!(%error, "an answer under an Idempotency-Key could not be kept");
                }
                Ok(Json(body).into_response())
            }
            Err(error) => {
                self.idempotency.release(&keyed, &held).await;
                Err(error)
            }
        }
    }
}
