//! `GET /v1/risk/authentication/{reference_code}`: the stored state and result of an
//! authentication, as the merchant may see it: every result field of check enroll and
//! validate, whether (and by which order) it was used, and — once authenticated — its
//! `authorization` view, also in an acquirer's external-3DS fields on request
//! (`?format=stripe|adyen|cybersource`).

use axum::Json;
use axum::extract::{RawQuery, State};
use gateway::clock::rfc3339;
use gateway::domain::{Amount, CardSummary, ReferenceCode};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::MerchantCaller;
use gateway::http::PathParams;
use gateway::session::authorization::{AcquirerFormat, Authorization};
use gateway::session::outcome::{LiabilityShift, Reason};
use gateway::session::sealing::{OpenedResult, open_result};
use gateway::session::{AuthenticationSession, Expired, Flow, Outcome, SessionRef, SessionState};
use gateway::telemetry::note_reference;
use serde::Serialize;
use serde_json::{Value, json};

use crate::State as AppState;

pub(crate) async fn status(
    State(app): State<AppState>,
    caller: MerchantCaller,
    PathParams(reference): PathParams<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let merchant = &app.merchant;
    let reference = ReferenceCode::parse("reference_code", &reference)?;
    let format = format_of(query.as_deref())?;
    note_reference(reference.as_str());
    let session_ref = SessionRef::new(caller.id().clone(), reference);
    let session = merchant
        .sessions
        .get(&session_ref)
        .await?
        .ok_or(ApiError::of(ErrorCode::SessionNotFound))?;
    let session = settle_expiry(&app, &session_ref, session).await;
    view(&app, &session_ref, &session, "Authentication found", format).await
}

/// The acquirer format a query asks for (`format=stripe|adyen|cybersource`), if any.
pub(crate) fn format_of(query: Option<&str>) -> Result<Option<AcquirerFormat>, ApiError> {
    let asked = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "format")
        .map(|(_, value)| value.into_owned());
    match asked {
        None => Ok(None),
        Some(value) => Ok(Some(AcquirerFormat::parse("format", &value)?)),
    }
}

/// The status route's answer for `session` as it stands now. CAVV and XID are sealed at
/// rest; the owner sees them opened.
pub(crate) async fn view(
    app: &AppState,
    session_ref: &SessionRef,
    session: &AuthenticationSession,
    message: &str,
    format: Option<AcquirerFormat>,
) -> Result<Json<Value>, ApiError> {
    let keys = app.merchant.keys().await?;
    let opened = open_result(&keys, &session_ref.key(), session);
    let now = app.merchant.now_ms();
    let outcome = Outcome::at(session, now);
    let authorization = Authorization::of(session, opened.as_ref(), now);
    let mut data = serde_json::to_value(StatusView::of(session, &outcome, opened.as_ref()))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    data["authorization"] = json!(authorization);
    if let Some(format) = format {
        data["external_3ds"] = json!({
            "format": format.as_str(),
            "fields": authorization.as_ref().map(|a| format.render(a)),
        });
    }
    Ok(Json(json!({
        "status": "success",
        "message": message,
        "data": data,
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
) -> AuthenticationSession {
    let sessions = &app.merchant.sessions;
    let due = session.effective_state(sessions.now_ms()) == SessionState::Expired;
    if !due || session.state == SessionState::Expired {
        return session;
    }
    match sessions.expire(session_ref, &session).await {
        Ok(Expired::Now(current) | Expired::Already(current) | Expired::Moved(current)) => *current,
        Ok(Expired::Gone) => session,
        Err(error) => {
            tracing::warn!(%error, "could not record the expiry");
            session
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
    flow: Flow,
    /// Why it did not succeed (failed, expired, canceled); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
    /// `true`, `false`, or `null` while (or when never) decided.
    liability_shift: LiabilityShift,
    /// The amount and currency check enroll authenticated.
    authenticated_amount: Option<Amount>,
    /// When, and by which order, the result was used; `null` while unused.
    consumption: Option<ConsumptionView<'a>>,
}

/// A consumption as the merchant sees it (never the digests it keeps).
#[derive(Serialize)]
struct ConsumptionView<'a> {
    consumed_at: String,
    order_id: Option<&'a str>,
    amount: Option<&'a Amount>,
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
    tree_dss_server_transaction_id: Option<&'a str>,
    directory_server_transaction_id: Option<&'a str>,
    acs_transaction_id: Option<&'a str>,
    acs_reference_number: Option<&'a str>,
    liability_shift: bool,
    /// `not_available` when the sealed CAVV and XID could not be opened (they are then
    /// absent, never an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication_values: Option<&'static str>,
}

impl<'a> StatusView<'a> {
    fn of(
        session: &'a AuthenticationSession,
        outcome: &Outcome,
        opened: Option<&'a OpenedResult>,
    ) -> Self {
        let result = opened.map(|o| &o.result);
        let unavailable = opened.is_some_and(|o| o.values_unavailable);
        const NO_CARD: &CardSummary = &CardSummary {
            bin: None,
            last4: None,
            network: None,
        };
        let card = session.card.as_ref().unwrap_or(NO_CARD);
        let network = card.network.as_deref();
        Self {
            reference_code: session.reference_code.as_str(),
            state: outcome.state.as_str(),
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
                tree_dss_server_transaction_id: r.tree_dss_server_transaction_id.as_deref(),
                directory_server_transaction_id: r.directory_server_transaction_id.as_deref(),
                acs_transaction_id: r.acs_transaction_id.as_deref(),
                acs_reference_number: r.acs_reference_number.as_deref(),
                liability_shift: r.liability_shift(network),
                authentication_values: unavailable.then_some("not_available"),
            }),
            flow: outcome.flow,
            reason: outcome.reason,
            liability_shift: outcome.liability_shift,
            authenticated_amount: session.authenticated_amount(),
            consumption: session.consumption.as_ref().map(|c| ConsumptionView {
                consumed_at: rfc3339(c.consumed_at),
                order_id: c.order_id.as_deref(),
                amount: c.amount.as_ref(),
            }),
        }
    }
}
