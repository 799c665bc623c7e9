//! One-shot validation, shared by the browser's return and the merchant's validate:
//!
//! 1. the claim protocol's conditional write claims the session (CHALLENGE_PENDING →
//!    VALIDATING) — its condition includes the transaction id's digest and the deadline;
//! 2. one upstream validate, with the card data unsealed from the session (or the
//!    merchant's own);
//! 3. one conditional write records AUTHENTICATED or FAILED and drops the card data.
//!
//! A refused claim carries the session as it is, which tells a replay (decided: answer
//! from the store), a duplicate in flight (wait for it), a forged transaction id, an
//! expired challenge, or an unknown session apart — with no extra read. An upstream fault
//! puts the session back to CHALLENGE_PENDING: a later callback or validate completes it.

use super::MerchantContext;
use crate::domain::{AuthenticationResult, TransactionId};
use crate::error::{ApiError, ErrorCode};
use crate::keys::GatewayKeys;
use crate::lease::NextStep;
use crate::session::claims::{HeldSession, KeyedValue, ValidationClaim, ValidationRefusal};
use crate::session::sealing::seal_result;
use crate::session::{
    AuthenticationSession, Recorded, SessionRef, SessionState, StoredAnswer, Transition,
};
use crate::tenants::MerchantProfile;
use crate::upstream::payer_auth::PayerAuthAnswer;
use crate::upstream::payer_auth::wire::{PaymentData, ValidateRequest};

/// Who presents the transaction id: the browser, through the session's return URL (the
/// card data is the session's own, sealed at check enroll), or the merchant that owns the
/// session, with its validate request's card data.
pub enum Presenter {
    Browser,
    Merchant { payment: Box<PaymentData> },
}

impl Presenter {
    /// Where the presenter's request carries the transaction id.
    fn transaction_id_field(&self) -> &'static str {
        match self {
            Presenter::Browser => "TransactionId",
            Presenter::Merchant { .. } => "authentication.transaction_id",
        }
    }
}

/// How one validation attempt ended.
pub enum Validation {
    /// We held the claim and the upstream decided now.
    Decided {
        session: Box<AuthenticationSession>,
        answer: PayerAuthAnswer,
    },
    /// Decided before (a replay, or the duplicate we waited for).
    AlreadyDecided(Box<AuthenticationSession>),
    /// The challenge deadline passed.
    Expired(Box<AuthenticationSession>),
    /// Another invocation still holds the claim after our wait.
    StillValidating,
}

pub fn not_found() -> ApiError {
    ApiError::with_message(
        ErrorCode::SessionNotFound,
        "no authentication is waiting for this payment",
    )
}

/// Validate's result, completed with what only check enroll said (the ids, the
/// version): a challenge ends with every field a frictionless outcome has.
fn decided_result(held: &HeldSession, answer: &PayerAuthAnswer) -> AuthenticationResult {
    let result = answer.result();
    match &held.record.enrollment_result {
        Some(enrollment) => result.completing(enrollment),
        None => result,
    }
}

/// A refusal as the presenter is told it.
fn refused(refusal: ValidationRefusal, presenter: &Presenter) -> ApiError {
    match refusal {
        ValidationRefusal::NoChallenge => ErrorCode::NoChallengePending.into(),
        ValidationRefusal::Forged => ApiError::invalid(
            presenter.transaction_id_field(),
            "does not match this authentication",
        ),
        ValidationRefusal::Canceled => ErrorCode::AuthenticationCanceled.into(),
    }
}

/// One validation's inputs: which session, the transaction id presented, by whom, and
/// the merchant's settings (its payer-authentication key).
pub struct ValidationInputs<'a> {
    pub session: &'a SessionRef,
    pub transaction_id: &'a TransactionId,
    pub presenter: Presenter,
    pub merchant: &'a MerchantProfile,
}

impl MerchantContext {
    pub async fn validate_once(
        &self,
        attempt: ValidationInputs<'_>,
    ) -> Result<Validation, ApiError> {
        let keys = self.keys().await?;
        let claim = ValidationClaim {
            transaction_mac: KeyedValue::new(
                keys.transaction_macs(attempt.transaction_id.as_str()),
            ),
            record_ttl: self.sessions.settings().record_ttl,
        };
        match self.sessions.claim(attempt.session, &claim).await? {
            NextStep::Proceed(held) => self.validate_claimed(held, &claim, &keys, attempt).await,
            NextStep::Replay(session) => Ok(Validation::AlreadyDecided(session)),
            NextStep::Closed(session) => Ok(Validation::Expired(session)),
            NextStep::Refused(refusal) => Err(refused(refusal, &attempt.presenter)),
            NextStep::NotFound => Err(not_found()),
            NextStep::InProgress => Ok(Validation::StillValidating),
        }
    }

    async fn validate_claimed(
        &self,
        held: HeldSession,
        claim: &ValidationClaim,
        keys: &GatewayKeys,
        attempt: ValidationInputs<'_>,
    ) -> Result<Validation, ApiError> {
        let (answer, succeeded) = match self.ask_upstream(&held, keys, attempt).await {
            Ok(decided) => decided,
            Err(error) => {
                // Nothing was decided: the session goes back to CHALLENGE_PENDING.
                self.sessions.release(claim, &held).await;
                return Err(error);
            }
        };
        let now = self.now_ms();
        let state = if succeeded {
            SessionState::Authenticated
        } else {
            SessionState::Failed
        };
        let complete = Transition::CompleteValidation {
            claim_id: held.claim_id.clone(),
            state,
            result: seal_result(keys, &held.key.key(), decided_result(&held, &answer)),
            response: StoredAnswer::Validate.seal(keys, &held.key, &answer.body),
            now_ms: now,
            expires_at: self.sessions.record_expiry(now),
        };
        match self.sessions.complete(&held, &complete).await? {
            Recorded::Done(session) => {
                tracing::info!(state = state.as_str(), "authentication validated");
                Ok(Validation::Decided { session, answer })
            }
            Recorded::Refused(_) => Err(ApiError::with_message(
                ErrorCode::SessionSuperseded,
                "the session changed while validation was in flight",
            )),
        }
    }

    /// The upstream validate, with the card data the claim's session sealed (or the
    /// merchant's own), and its decision.
    async fn ask_upstream(
        &self,
        held: &HeldSession,
        keys: &GatewayKeys,
        attempt: ValidationInputs<'_>,
    ) -> Result<(PayerAuthAnswer, bool), ApiError> {
        let data = match attempt.presenter {
            Presenter::Merchant { payment } => *payment,
            Presenter::Browser => {
                let sealed = held.record.sealed_payment_data.as_ref().ok_or_else(|| {
                    ApiError::Internal("a pending session has no sealed payment data".into())
                })?;
                keys.open(&held.key.key(), "payment_data", sealed)?
            }
        };
        let request = ValidateRequest::new(
            held.key.reference.as_str(),
            data,
            attempt.transaction_id.as_str(),
        );
        let api_key = self.payer_auth_key(attempt.merchant).await?;
        let deadline = held.deadline(self.now_ms());
        let answer = self
            .payer_auth
            .validate(&api_key, &request, deadline)
            .await?;
        let succeeded = answer.validation_succeeded()?;
        Ok((answer, succeeded))
    }
}
