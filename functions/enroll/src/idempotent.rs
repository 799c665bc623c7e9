//! The issuer's writes under an `Idempotency-Key` (`gateway::idempotency`): the same key
//! and request within a day answers what the first did, without another upstream call.
//! Every upstream call of a write under a key ends by the key's lease. A write that must
//! not run twice (creating a contact) whose outcome is unknown is said to be unknown, with
//! or without a key, and never run again under its key.

use std::future::Future;
use std::time::Instant;

use axum::Json;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gateway::error::ApiError;
use gateway::error::ErrorCode;
use gateway::http::{IssuerCaller, replayed};
use gateway::idempotency::{Begin, IdempotencyKey, KeptAnswer, Repeat};
use serde::Serialize;
use serde_json::Value;

use crate::EnrollApp;

/// An issuer write that takes an `Idempotency-Key`: its name (the key is bound to it) and
/// whether a second run is safe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyedWrite {
    pub name: &'static str,
    pub repeat: Repeat,
    /// What the caller should do when the outcome is unknown (for [`Repeat::Never`]).
    pub when_unknown: &'static str,
}

impl KeyedWrite {
    const fn repeatable(name: &'static str) -> Self {
        Self {
            name,
            repeat: Repeat::Safe,
            when_unknown: "",
        }
    }
}

pub(crate) const CREATE_CARDHOLDER: KeyedWrite = KeyedWrite {
    name: "create_cardholder",
    repeat: Repeat::Never,
    when_unknown: "the contact may have been created: look it up (cardholders/v2/detail?budget_id=) before creating it again",
};
pub(crate) const UPDATE_CARDHOLDER: KeyedWrite = KeyedWrite::repeatable("update_cardholder");
/// A repeat is reconciled: a 409 for the same cardholder is success.
pub(crate) const ENROLL: KeyedWrite = KeyedWrite::repeatable("enroll");
pub(crate) const UPDATE_ENROLLMENT: KeyedWrite = KeyedWrite::repeatable("update_enrollment");
pub(crate) const UNENROLL: KeyedWrite = KeyedWrite::repeatable("unenroll");

/// The error a write whose outcome is unknown answers: its status, saying so.
fn unknown_outcome(write: KeyedWrite, error: ApiError) -> ApiError {
    let code = match error.error_code() {
        code @ (ErrorCode::UpstreamTimeout
        | ErrorCode::UpstreamUnavailable
        | ErrorCode::StoreTimeout
        | ErrorCode::StoreUnavailable) => code,
        _ => ErrorCode::UpstreamUnavailable,
    };
    ApiError::with_message(
        code,
        format!("the outcome is unknown: {}", write.when_unknown),
    )
}

impl EnrollApp {
    /// Runs `write` once per key: the first request with the key runs it (its upstream
    /// calls over by the lease's deadline) and its answer is kept (when it changed
    /// something); a repeat gets that answer. Without a key, `write` runs with no deadline
    /// of its own.
    pub(crate) async fn once<T, F, Fut>(
        &self,
        caller: &IssuerCaller,
        headers: &HeaderMap,
        route: KeyedWrite,
        request: &T,
        write: F,
    ) -> Result<Response, ApiError>
    where
        T: Serialize,
        F: FnOnce(Option<Instant>) -> Fut,
        Fut: Future<Output = Result<Json<Value>, ApiError>>,
    {
        let Some(key) = IdempotencyKey::from_headers(headers)? else {
            return match write(None).await {
                Ok(body) => Ok(body.into_response()),
                Err(error) if route.repeat == Repeat::Never && !error.proves_nothing_happened() => {
                    Err(unknown_outcome(route, error))
                }
                Err(error) => Err(error),
            };
        };
        let parsed = serde_json::to_value(request).expect("a request serializes");
        let keys = self.idempotency_keys.get().await?;
        let begun = self
            .idempotency
            .begin(
                &keys,
                caller.id(),
                &key,
                (route.name, route.repeat),
                &parsed,
            )
            .await?;
        let (held, keyed) = match begun {
            Begin::Replay(answer) => {
                tracing::info!("a repeat under the same Idempotency-Key was answered as before");
                gateway::telemetry::metrics::replay(route.name);
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
                if self.idempotency.fail(&keyed, &held, &error).await {
                    return Err(unknown_outcome(route, error));
                }
                Err(error)
            }
        }
    }
}
