//! Which cards and cardholder contacts a card program may act on: those of its own
//! budgets. A card is a program's when it was issued from one of its budgets (the
//! upstream's card detail says which, before anything is done with the card); a contact
//! is when it was created in one. Both are recorded the first time the gateway confirms
//! them (a contact created or looked up, a card enrolled); from then on the record
//! answers with no upstream call — as long as its budget is still the caller's in the
//! registry.
//!
//! Something of another tenant answers exactly like something that does not exist: the
//! same 404, code and message, before any upstream call about it.

use gateway::domain::{BudgetId, CardId, CardholderId};
use gateway::enrollment::{CardEnrollment, RecordWrite};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::IssuerCaller;
use gateway::upstream::card_issuance::wire::CardholderQuery;
use gateway::upstream::card_issuance::{CardIssuance, CardIssuanceError, RefusalKind};
use serde_json::Value;

use crate::enroller::Enroller;

impl Enroller {
    /// The cardholder is the caller's: our record puts it in one of the caller's
    /// budgets, or (a contact made outside the gateway) the upstream does, which is then
    /// recorded. Anything else is `CARDHOLDER_NOT_FOUND`.
    pub async fn own_cardholder(
        &self,
        caller: &IssuerCaller,
        upstream: &CardIssuance<'_>,
        cardholder_id: &CardholderId,
    ) -> Result<(), ApiError> {
        let gone = || ApiError::of(ErrorCode::CardholderNotFound);
        match self.enrollments.cardholder(cardholder_id).await? {
            Some(record)
                if record.tenant_id == *caller.id()
                    && caller.issuer().owns_budget(record.budget_id.as_str()) =>
            {
                return Ok(());
            }
            // Another tenant's, or a budget the caller no longer has.
            Some(_) => return Err(gone()),
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
            .ok_or_else(gone)?;
        match self
            .enrollments
            .record_cardholder(cardholder_id, &budget, caller.id())
            .await?
        {
            RecordWrite::OtherTenant => Err(gone()),
            RecordWrite::Written | RecordWrite::Newer => Ok(()),
        }
    }

    /// The card is the caller's: issued from one of its budgets, as our record (written
    /// at enrollment) or else the upstream's card detail says. Returns that budget. A
    /// card of another program, or none at all, is `CARD_NOT_FOUND`.
    pub async fn own_card(
        &self,
        caller: &IssuerCaller,
        upstream: &CardIssuance<'_>,
        card_id: &CardId,
    ) -> Result<BudgetId, ApiError> {
        Ok(self.own_card_and_record(caller, upstream, card_id).await?.0)
    }

    /// [`Enroller::own_card`], with the card's record as it was read for it.
    pub async fn own_card_and_record(
        &self,
        caller: &IssuerCaller,
        upstream: &CardIssuance<'_>,
        card_id: &CardId,
    ) -> Result<(BudgetId, Option<CardEnrollment>), ApiError> {
        let gone = || ApiError::of(ErrorCode::CardNotFound);
        let record = self.enrollments.card(card_id).await?;
        if let Some(record) = &record {
            if record.tenant_id != *caller.id() {
                return Err(gone());
            }
            // Recorded before budgets were, or the budget left the caller's registry
            // entry: the upstream decides.
            if let Some(budget) = record
                .budget_id
                .clone()
                .filter(|budget| caller.issuer().owns_budget(budget.as_str()))
            {
                return Ok((budget, Some(record.clone())));
            }
        }
        let budget = match upstream.card_budget(card_id).await {
            Ok(budget) => budget,
            Err(CardIssuanceError::Refused(refusal)) if refusal.kind == RefusalKind::NotFound => {
                return Err(gone());
            }
            Err(other) => return Err(other.into()),
        };
        let budget = budget
            .filter(|budget| caller.issuer().owns_budget(budget))
            .and_then(|budget| BudgetId::parse("budget_id", &budget).ok())
            .ok_or_else(gone)?;
        Ok((budget, record))
    }

    /// An enrollment detail's cardholder is in one of the caller's budgets.
    pub fn detail_is_callers(&self, caller: &IssuerCaller, detail: &Value) -> bool {
        detail
            .pointer("/data/budget_id")
            .and_then(Value::as_str)
            .is_some_and(|budget| caller.issuer().owns_budget(budget))
    }
}
