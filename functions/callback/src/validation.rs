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

use gateway::domain::{ReferenceCode, TransactionId};
use gateway::error::{ApiError, ErrorCode};
use gateway::session::claim::{Held, NextStep};
use gateway::session::claims::{ValidationClaim, ValidationRefusal};
use gateway::session::{self, AuthenticationSession, Recorded, SessionState, Transition};
use gateway::upstream::payer_auth::PayerAuthAnswer;
use gateway::upstream::payer_auth::wire::{PaymentData, ValidateRequest};

use crate::CallbackApp;

/// Who presents the transaction id: the browser, through the session's return URL (the
/// card data is the session's own, sealed at check enroll), or the merchant that owns the
/// session, with its validate request's card data.
pub(crate) enum Presenter<'a> {
    Browser,
    Merchant {
        client_id: &'a str,
        payment: Box<PaymentData>,
    },
}

impl Presenter<'_> {
    fn client_id(&self) -> Option<&str> {
        match self {
            Presenter::Browser => None,
            Presenter::Merchant { client_id, .. } => Some(client_id),
        }
    }

    /// Where the presenter's request carries the transaction id.
    fn transaction_id_field(&self) -> &'static str {
        match self {
            Presenter::Browser => "TransactionId",
            Presenter::Merchant { .. } => "authentication.transaction_id",
        }
    }
}

/// How one validation attempt ended.
pub(crate) enum Validation {
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

pub(crate) fn not_found() -> ApiError {
    ApiError::with_message(
        ErrorCode::SessionNotFound,
        "no authentication is waiting for this payment",
    )
}

/// A refusal as the presenter is told it.
fn refused(refusal: ValidationRefusal, presenter: &Presenter<'_>) -> ApiError {
    match refusal {
        ValidationRefusal::NotFound => not_found(),
        ValidationRefusal::NoChallenge => ErrorCode::NoChallengePending.into(),
        ValidationRefusal::Forged => ApiError::invalid(
            presenter.transaction_id_field(),
            "does not match this authentication",
        ),
    }
}

impl CallbackApp {
    pub(crate) async fn validate_once(
        &self,
        reference: &ReferenceCode,
        transaction_id: &TransactionId,
        presenter: Presenter<'_>,
    ) -> Result<Validation, ApiError> {
        let claim = ValidationClaim {
            transaction_mac: self.merchant.keys.transaction_mac(transaction_id.as_str()),
            client_id: presenter.client_id(),
        };
        let sessions = &self.merchant.sessions;
        match sessions
            .claim(reference.as_str(), &claim, &self.merchant.settings)
            .await?
        {
            NextStep::Proceed(held) => self.validate_claimed(held, transaction_id, presenter).await,
            NextStep::Replay(session) => Ok(Validation::AlreadyDecided(session)),
            NextStep::Expired(session) => Ok(Validation::Expired(session)),
            NextStep::Refused(refusal) => Err(refused(refusal, &presenter)),
            NextStep::NotFound => Err(not_found()),
            NextStep::InProgress => Ok(Validation::StillValidating),
        }
    }

    async fn validate_claimed(
        &self,
        held: Held,
        transaction_id: &TransactionId,
        presenter: Presenter<'_>,
    ) -> Result<Validation, ApiError> {
        let merchant = &self.merchant;
        let (answer, succeeded) = match self.ask_upstream(&held, transaction_id, presenter).await {
            Ok(decided) => decided,
            Err(error) => {
                // Nothing was decided: the session goes back to CHALLENGE_PENDING.
                let release = Transition::ReleaseValidation {
                    claim_id: held.claim_id.clone(),
                    now_ms: merchant.now_ms(),
                };
                merchant.sessions.release(&held, &release).await;
                return Err(error);
            }
        };
        let now = merchant.now_ms();
        let state = if succeeded {
            SessionState::Authenticated
        } else {
            SessionState::Failed
        };
        let record_key = session::key(&held.reference_code);
        let complete = Transition::CompleteValidation {
            claim_id: held.claim_id.clone(),
            state,
            result: answer.result(),
            response: merchant
                .keys
                .seal(&record_key, "validate_response", &answer.body),
            now_ms: now,
            expires_at: merchant.settings.record_expiry(now),
        };
        match merchant.sessions.complete(&held, &complete).await? {
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
        held: &Held,
        transaction_id: &TransactionId,
        presenter: Presenter<'_>,
    ) -> Result<(PayerAuthAnswer, bool), ApiError> {
        let data = match presenter {
            Presenter::Merchant { payment, .. } => *payment,
            Presenter::Browser => {
                let sealed = held.session.sealed_payment_data.as_ref().ok_or_else(|| {
                    ApiError::Internal("a pending session has no sealed payment data".into())
                })?;
                let record_key = session::key(&held.reference_code);
                self.merchant
                    .keys
                    .open(&record_key, "payment_data", sealed)?
            }
        };
        let request = ValidateRequest::new(&held.reference_code, data, transaction_id.as_str());
        let answer = self.merchant.payer_auth.validate(&request).await?;
        let succeeded = answer.validation_succeeded()?;
        Ok((answer, succeeded))
    }
}
