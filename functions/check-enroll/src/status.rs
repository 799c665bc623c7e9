//! `GET /v1/risk/authentication/{reference_code}`: the stored state and result of an
//! authentication, as the merchant may see it.

use axum::Json;
use axum::extract::{Path, State};
use gateway::clock::rfc3339;
use gateway::domain::{AuthenticationResult, CardSummary, ReferenceCode};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::MerchantCaller;
use gateway::session::{AuthenticationSession, SessionRef, SessionState};
use gateway::telemetry::note_reference;
use serde::Serialize;
use serde_json::{Value, json};

use crate::State as AppState;

pub(crate) async fn status(
    State(app): State<AppState>,
    caller: MerchantCaller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let merchant = &app.merchant;
    let reference = ReferenceCode::parse("reference_code", &reference)?;
    note_reference(reference.as_str());
    let session_ref = SessionRef::new(caller.id().clone(), reference);
    let session = merchant
        .sessions
        .get(&session_ref)
        .await?
        .ok_or(ApiError::of(ErrorCode::SessionNotFound))?;
    let now = merchant.now_ms();
    let (session, state) = settle_expiry(&app, &session_ref, session, now).await;
    view(&app, &session_ref, &session, state, "Authentication found").await
}

/// The status route's answer for `session` in `state`. CAVV and XID are sealed at rest;
/// the owner sees them opened.
pub(crate) async fn view(
    app: &AppState,
    session_ref: &SessionRef,
    session: &AuthenticationSession,
    state: SessionState,
    message: &str,
) -> Result<Json<Value>, ApiError> {
    let result = app
        .merchant
        .keys()
        .await?
        .open_result(&session_ref.key(), session)?;
    Ok(Json(json!({
        "status": "success",
        "message": message,
        "data": StatusView::of(session, state, result.as_ref()),
    })))
}

/// Expiry is decided here, in code, when the read finds a challenge past its deadline;
/// recording it also drops the sealed card data. The write is conditional: if the
/// session was decided between the read and it, the refusal carries the session as it
/// is now, and that is what is reported — never `EXPIRED` for a decided session.
async fn settle_expiry(
    app: &AppState,
    session_ref: &SessionRef,
    session: AuthenticationSession,
    now: i64,
) -> (AuthenticationSession, SessionState) {
    let state = session.effective_state(now);
    if state != SessionState::Expired || session.state == SessionState::Expired {
        return (session, state);
    }
    let merchant = &app.merchant;
    let recorded = merchant
        .sessions
        .expire(session_ref, Box::new(session.clone()), &merchant.settings)
        .await;
    match recorded {
        Ok(Ok(expired)) => (*expired, SessionState::Expired),
        Ok(Err(Some(current))) => {
            let state = current.effective_state(now);
            (*current, state)
        }
        Ok(Err(None)) => (session, state),
        Err(error) => {
            tracing::warn!(%error, "could not record the expiry");
            (session, state)
        }
    }
}

/// The merchant-facing view of a session: outcome fields, BIN and last four — never the
/// card number, expiry, tokens or the sealed data.
#[derive(Serialize)]
struct StatusView<'a> {
    reference_code: &'a str,
    state: &'static str,
    created_at: String,
    updated_at: String,
    card: CardView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication_transaction_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication: Option<AuthenticationView<'a>>,
    /// `frictionless` or `challenge`.
    flow: &'static str,
    /// Why it did not succeed (failed, expired, canceled); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// `true`, `false`, or `unknown` while (or when never) decided.
    liability_shift: &'static str,
}

/// BIN, last four and network, each `null` when unknown.
#[derive(Serialize)]
struct CardView<'a> {
    bin: Option<&'a str>,
    last4: Option<&'a str>,
    network: Option<&'a str>,
}

#[derive(Serialize)]
struct AuthenticationView<'a> {
    eci: Option<&'a str>,
    eci_raw: Option<&'a str>,
    cavv: Option<&'a str>,
    xid: Option<&'a str>,
    pares_status: Option<&'a str>,
    veres_enrolled: Option<&'a str>,
    commerce_indicator: Option<&'a str>,
    authentication_transaction_id: Option<&'a str>,
    specification_version: Option<&'a str>,
    signed_pares_status_reason: Option<&'a str>,
    liability_shift: bool,
}

impl<'a> StatusView<'a> {
    fn of(
        session: &'a AuthenticationSession,
        state: SessionState,
        result: Option<&'a AuthenticationResult>,
    ) -> Self {
        const NO_CARD: &CardSummary = &CardSummary {
            bin: None,
            last4: None,
            network: None,
        };
        let card = session.card.as_ref().unwrap_or(NO_CARD);
        let network = card.network.as_deref();
        Self {
            reference_code: &session.reference_code,
            state: state.as_str(),
            created_at: rfc3339(session.created_at),
            updated_at: rfc3339(session.updated_at),
            card: CardView {
                bin: card.bin.as_deref(),
                last4: card.last4.as_deref(),
                network,
            },
            challenge_deadline: session.challenge_deadline.map(rfc3339),
            authentication_transaction_id: session.authentication_transaction_id.as_deref(),
            transaction_status: result.and_then(|r| r.transaction_status.as_deref()),
            authentication: result.map(|r| AuthenticationView {
                eci: r.eci.as_deref(),
                eci_raw: r.eci_raw.as_deref(),
                cavv: r.cavv.as_deref(),
                xid: r.xid.as_deref(),
                pares_status: r.pares_status.as_deref(),
                veres_enrolled: r.veres_enrolled.as_deref(),
                commerce_indicator: r.commerce_indicator.as_deref(),
                authentication_transaction_id: r.authentication_transaction_id.as_deref(),
                specification_version: r.specification_version.as_deref(),
                signed_pares_status_reason: r.signed_pares_status_reason.as_deref(),
                liability_shift: r.liability_shift(network),
            }),
            flow: session.flow(),
            reason: match state {
                SessionState::Expired => Some("CHALLENGE_EXPIRED"),
                _ => session.reason(),
            },
            liability_shift: session.liability_shift(),
        }
    }
}
