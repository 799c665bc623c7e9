//! Enrolling a card program's cards: the checks that a card and a cardholder are the
//! program's own (`ownership`), the upstream calls with the program's credentials, and
//! the records — the one implementation the synchronous routes and the bulk jobs'
//! worker share.

use std::sync::Arc;
use std::time::Instant;

use gateway::config::{CardIssuanceSettings, HttpSettings, SecretSettings};
use gateway::domain::{BudgetId, CardId, CardholderId, Check};
use gateway::enrollment::{Enrollments, RecordWrite};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::IssuerCaller;
use gateway::outbound::HttpClient;
use gateway::platform::Platform;
use gateway::secrets::Cached;
use gateway::upstream::card_issuance::wire::{CardEnrollmentRequest, CreateCardholderRequest};
use gateway::upstream::card_issuance::{
    CardIssuance, CardIssuanceClient, CardIssuanceCredentials, redact_security_answers,
};
use serde_json::Value;

/// A card and the cardholder it is (to be) linked to, checked.
pub struct CardLink {
    pub card_id: CardId,
    pub cardholder_id: CardholderId,
}

impl CardLink {
    /// `prefix` names the body's position in a larger one (`items[3].`).
    pub fn parse(request: &CardEnrollmentRequest, prefix: &str) -> Check<Self> {
        Ok(Self {
            card_id: CardId::parse(&format!("{prefix}card_id"), &request.card_id)?,
            cardholder_id: CardholderId::parse(
                &format!("{prefix}cardholder_id"),
                &request.cardholder_id,
            )?,
        })
    }
}

/// A card enrolled: the upstream's answer, and whether it had been enrolled already (a
/// 409 for the same cardholder, reconciled).
pub struct Enrolled {
    pub envelope: Value,
    pub reconciled: bool,
}

pub struct Enroller {
    card_issuance: CardIssuanceClient,
    pub(crate) enrollments: Enrollments,
    credentials: Cached<CardIssuanceCredentials>,
}

impl Enroller {
    pub fn new(
        http: &HttpSettings,
        card_issuance: &CardIssuanceSettings,
        credentials_secret: &str,
        secrets: &SecretSettings,
        platform: &Platform,
    ) -> Self {
        Self {
            card_issuance: CardIssuanceClient::new(HttpClient::new(http.clone()), card_issuance),
            enrollments: Enrollments::new(platform.store.clone(), platform.clock.clone()),
            credentials: platform.secret(credentials_secret, secrets, ()),
        }
    }

    /// The gateway's card-issuance credentials, to load with the rest at cold start.
    pub fn credentials(&self) -> &Cached<CardIssuanceCredentials> {
        &self.credentials
    }

    /// The card-issuance API as a card program's calls are made: with its own
    /// credentials, or the gateway's; every call over by `deadline` when there is one (a
    /// lease's, a batch's).
    pub async fn upstream_for(
        &self,
        caller: &IssuerCaller,
        deadline: Option<Instant>,
    ) -> Result<CardIssuance<'_>, ApiError> {
        let credentials = match &caller.issuer().card_issuance {
            Some((api_key, access_token)) => Arc::new(CardIssuanceCredentials {
                api_key: api_key.clone(),
                access_token: access_token.clone(),
            }),
            None => self.credentials.get().await?,
        };
        Ok(self.card_issuance.with(credentials).until(deadline))
    }

    /// Enrolls upstream, then records the status (and the caller's ownership). Both the
    /// card and the cardholder must be the caller's before the upstream hears of them. A
    /// store failure after the upstream said yes is reported (502/504) so the caller
    /// retries; the retry's 409 is then reconciled as enrolled and recorded.
    /// With a `deadline` (a batch's, a job item's), every upstream call is over by then.
    pub async fn enroll_card(
        &self,
        link: &CardLink,
        caller: &IssuerCaller,
        deadline: Option<Instant>,
    ) -> Result<Enrolled, ApiError> {
        let upstream = self.upstream_for(caller, deadline).await?;
        let card_budget = self.own_card(caller, &upstream, &link.card_id).await?;
        self.own_cardholder(caller, &upstream, &link.cardholder_id)
            .await?;
        let enrolled = upstream.enroll(&link.card_id, &link.cardholder_id).await?;
        self.record(link, &card_budget, caller).await?;
        tracing::info!(reconciled = enrolled.reconciled, "card enrolled for 3DS");
        Ok(Enrolled {
            envelope: enrolled.envelope,
            reconciled: enrolled.reconciled,
        })
    }

    /// Records a confirmed link as the caller's.
    pub(crate) async fn record(
        &self,
        link: &CardLink,
        card_budget: &BudgetId,
        caller: &IssuerCaller,
    ) -> Result<(), ApiError> {
        match self
            .enrollments
            .record_confirmed(&link.card_id, &link.cardholder_id, card_budget, caller.id())
            .await?
        {
            RecordWrite::OtherTenant => Err(ApiError::of(ErrorCode::CardNotFound)),
            RecordWrite::Written | RecordWrite::Newer => Ok(()),
        }
    }

    /// Creates a contact in one of the caller's budgets (checked by the caller) and
    /// records it as theirs; the upstream's answer without the security answer.
    pub async fn create_cardholder(
        &self,
        caller: &IssuerCaller,
        request: &CreateCardholderRequest,
        budget: &BudgetId,
        deadline: Option<Instant>,
    ) -> Result<Value, ApiError> {
        let mut envelope = self
            .upstream_for(caller, deadline)
            .await?
            .create_cardholder(request)
            .await?;
        let created = envelope
            .pointer("/data/cardholder_id")
            .and_then(Value::as_str)
            .and_then(|id| CardholderId::parse("cardholder_id", id).ok());
        match created {
            Some(cardholder) => {
                let recorded = self
                    .enrollments
                    .record_new_cardholder(&cardholder, budget, caller.id())
                    .await?;
                if !recorded {
                    // A "new" contact that is already recorded (the upstream de-duplicated
                    // it, or answered another's id): never taken over by this caller.
                    tracing::error!(
                        "the upstream answered a create with a contact already recorded"
                    );
                    return Err(ApiError::with_message(
                        ErrorCode::UpstreamRejected,
                        "the card-issuance API answered with a contact that already exists; it was not recorded as yours",
                    ));
                }
            }
            None => tracing::warn!("a created contact came back without its cardholder_id"),
        }
        redact_security_answers(&mut envelope);
        tracing::info!("cardholder 3DS contact created");
        Ok(envelope)
    }
}
