//! Which cards and cardholder contacts a card program may act on: those of its own
//! budgets. Ownership follows the upstream's budgets and is recorded the first time the
//! gateway sees it (a contact created, a card enrolled, or one made outside the gateway
//! and looked up); from then on the record answers, with no upstream call.
//!
//! Something of another tenant answers exactly like something that does not exist: the
//! same 404, code and message.

use gateway::domain::{BudgetId, CardId, CardholderId};
use gateway::enrollment::Recorded;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::IssuerCaller;
use gateway::upstream::card_issuance::wire::CardholderQuery;
use gateway::upstream::card_issuance::{CardIssuance, CardIssuanceError, RefusalKind};
use serde_json::Value;

use crate::EnrollApp;

/// Whose a card is, as far as the caller may know.
pub(crate) enum CardOwner {
    /// The caller's; with the upstream's enrollment detail when it was just read.
    Caller(Option<Value>),
    /// Nobody's yet: the upstream has it enrolled with no one (its refusal says how).
    Unclaimed(ApiError),
}

/// What the caller is told about something that is not theirs.
pub(crate) fn not_found(code: ErrorCode) -> ApiError {
    ApiError::of(code)
}

impl EnrollApp {
    /// The cardholder is the caller's: our record says so, or (a contact made outside
    /// the gateway) the upstream puts it in one of the caller's budgets, which is then
    /// recorded. Anything else is `CARDHOLDER_NOT_FOUND`.
    pub(crate) async fn own_cardholder(
        &self,
        caller: &IssuerCaller,
        upstream: &CardIssuance<'_>,
        cardholder_id: &CardholderId,
    ) -> Result<(), ApiError> {
        match self.enrollments.cardholder(cardholder_id).await? {
            Some(record) if record.tenant_id == caller.id().as_str() => return Ok(()),
            Some(_) => return Err(not_found(ErrorCode::CardholderNotFound)),
            None => {}
        }
        let query = CardholderQuery {
            page_no: 1,
            page_size: 1,
            budget_id: None,
            cardholder_id: Some(cardholder_id.to_string()),
        };
        let answer = upstream.query_cardholders(&query).await?;
        let budget = answer
            .pointer("/data/list/0/budget_id")
            .and_then(Value::as_str)
            .filter(|budget| caller.issuer().owns_budget(budget))
            .and_then(|budget| BudgetId::parse("budget_id", budget).ok())
            .ok_or_else(|| not_found(ErrorCode::CardholderNotFound))?;
        match self
            .enrollments
            .record_cardholder(cardholder_id, &budget, caller.id())
            .await?
        {
            Recorded::OtherTenant => Err(not_found(ErrorCode::CardholderNotFound)),
            Recorded::Written | Recorded::Newer => Ok(()),
        }
    }

    /// Whether the caller may act on an enrolled card: our record says it is theirs, or
    /// (no record: enrolled outside the gateway) its enrollment detail puts its
    /// cardholder in one of their budgets. Another tenant's card is `CARD_NOT_FOUND`.
    /// (Unlike a contact's budget, a card's link can change outside the gateway, so only
    /// a confirmed enroll or re-point records it.)
    pub(crate) async fn card_owner(
        &self,
        caller: &IssuerCaller,
        upstream: &CardIssuance<'_>,
        card_id: &CardId,
    ) -> Result<CardOwner, ApiError> {
        match self.enrollments.card(card_id).await? {
            Some(record) if record.tenant_id == caller.id().as_str() => {
                return Ok(CardOwner::Caller(None));
            }
            Some(_) => return Err(not_found(ErrorCode::CardNotFound)),
            None => {}
        }
        let detail = match upstream.enrollment_detail(card_id).await {
            Ok(detail) => detail,
            Err(CardIssuanceError::Refused(refusal)) if refusal.kind == RefusalKind::NotFound => {
                return Ok(CardOwner::Unclaimed(
                    CardIssuanceError::Refused(refusal).into(),
                ));
            }
            Err(other) => return Err(other.into()),
        };
        if !self.detail_is_callers(caller, &detail) {
            return Err(not_found(ErrorCode::CardNotFound));
        }
        Ok(CardOwner::Caller(Some(detail)))
    }

    /// An enrollment detail's cardholder is in one of the caller's budgets.
    pub(crate) fn detail_is_callers(&self, caller: &IssuerCaller, detail: &Value) -> bool {
        detail
            .pointer("/data/budget_id")
            .and_then(Value::as_str)
            .is_some_and(|budget| caller.issuer().owns_budget(budget))
    }
}
