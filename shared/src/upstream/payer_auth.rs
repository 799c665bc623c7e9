//! Firstoken Risk Payer Authentication (merchant side, wrapping Cybersource/Cardinal):
//! the client for setup, check enroll and validate, their request bodies (which are also
//! our drop-in request bodies) with validation, the `status`/`message`/`data` envelope,
//! and the mapping of its errors.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::api::ApiError;
use crate::config::{PayerAuthSettings, Secret};
use crate::http_client::{
    Call, HttpClient, RetryPolicy, Upstream, UpstreamError, UpstreamResponse,
};
use crate::redirect::ReturnUrlPolicy;
use crate::session::{AuthenticationResult, CardSummary};
use crate::validation::{self as v, CardNumber};

pub const SETUP_PATH: &str = "/v1/risk/authentication/setup";
pub const ENROLL_PATH: &str = "/v1/risk/authentication/enroll";
pub const VALIDATE_PATH: &str = "/v1/risk/authentication/validate";

/// Device channels the 3DS 2 specification defines.
const DEVICE_CHANNELS: &[&str] = &["Browser", "SDK", "3RI"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionInfo {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub reference_code: String,
}

impl TransactionInfo {
    fn validate(&self, expected_type: &str) -> Result<(), ApiError> {
        let kind = v::text("transaction_info.type", &self.kind, 32)?;
        if kind != expected_type {
            return Err(ApiError::invalid(
                "transaction_info.type",
                format!("must be \"{expected_type}\""),
            ));
        }
        validate_reference_code("transaction_info.reference_code", &self.reference_code)
    }
}

/// The merchant's reference: it keys the session and appears in our callback URL.
pub fn validate_reference_code(field: &str, value: &str) -> Result<(), ApiError> {
    let value = v::text(field, value, 64)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(ApiError::invalid(
            field,
            "must contain only letters, digits, '-', '_', '.' and ':'",
        ));
    }
    Ok(())
}

/// Card data. Its `Debug` shows neither the number nor the expiry.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub expiration_date: String,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card").finish_non_exhaustive()
    }
}

impl Card {
    fn validate(&self, today: NaiveDate) -> Result<CardNumber, ApiError> {
        let number = v::card_number("card.number", &self.number)?;
        v::expiry("card.expiration_date", &self.expiration_date, today)?;
        Ok(number)
    }

    /// What may be kept in clear: BIN, last four, network (none for token expressions).
    pub fn summary(&self) -> CardSummary {
        let pan = self.number.trim();
        if v::is_token_expression(pan) || pan.len() < 12 {
            return CardSummary::default();
        }
        CardSummary {
            bin: Some(pan[..6].to_owned()),
            last4: Some(pan[pan.len() - 4..].to_owned()),
            network: v::card_network(pan).map(str::to_owned),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountDetails {
    #[serde(default)]
    pub total_amount: String,
    #[serde(default)]
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    #[serde(default)]
    pub amount_details: AmountDetails,
}

impl OrderInfo {
    fn validate(&self) -> Result<(), ApiError> {
        v::amount(
            "order_info.amount_details.total_amount",
            &self.amount_details.total_amount,
        )?;
        v::currency(
            "order_info.amount_details.currency",
            &self.amount_details.currency,
        )
    }
}

/// Billing details (personal data: sealed at rest like the card).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillTo {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub address_1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_2: Option<String>,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub phone_number: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub postal_code: String,
}

impl fmt::Debug for BillTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillTo").finish_non_exhaustive()
    }
}

fn phone(field: &str, value: &str) -> Result<(), ApiError> {
    let value = v::text(field, value, 20)?;
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            field,
            "must be a phone number of 6 to 20 digits",
        ));
    }
    Ok(())
}

impl BillTo {
    fn validate(&self) -> Result<(), ApiError> {
        v::text("bill_to.first_name", &self.first_name, 60)?;
        v::text("bill_to.last_name", &self.last_name, 60)?;
        v::country("bill_to.country", &self.country)?;
        v::text("bill_to.address_1", &self.address_1, 60)?;
        v::optional_text("bill_to.address_2", self.address_2.as_deref(), 60)?;
        v::text("bill_to.city", &self.city, 50)?;
        v::text("bill_to.state", &self.state, 20)?;
        phone("bill_to.phone_number", &self.phone_number)?;
        v::email("bill_to.email", &self.email)?;
        v::text("bill_to.postal_code", &self.postal_code, 10)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerInfo {
    #[serde(default)]
    pub mobile_phone: String,
}

/// Browser data collected by the Songbird SDK (three JSON booleans, the rest strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    #[serde(default)]
    pub ip_address: String,
    #[serde(default)]
    pub http_browser_color_depth: String,
    #[serde(default)]
    pub http_browser_java_enabled: Option<bool>,
    #[serde(default)]
    pub http_browser_js_enabled: Option<bool>,
    #[serde(default)]
    pub http_browser_screen_height: String,
    #[serde(default)]
    pub http_browser_screen_width: String,
    #[serde(default)]
    pub http_browser_time_offset: String,
    #[serde(default)]
    pub user_agent: String,
    #[serde(default)]
    pub cookies_accepted: Option<bool>,
    #[serde(default)]
    pub http_browser_language: String,
    #[serde(default)]
    pub http_accept_content: String,
}

impl DeviceInfo {
    fn validate(&self) -> Result<(), ApiError> {
        let required = |field: &str, value: Option<bool>| {
            value
                .map(|_| ())
                .ok_or_else(|| ApiError::invalid(field, "is required (true or false)"))
        };
        v::ip_address("device_info.ip_address", &self.ip_address)?;
        v::digits(
            "device_info.http_browser_color_depth",
            &self.http_browser_color_depth,
            1,
            3,
        )?;
        required(
            "device_info.http_browser_java_enabled",
            self.http_browser_java_enabled,
        )?;
        required(
            "device_info.http_browser_js_enabled",
            self.http_browser_js_enabled,
        )?;
        v::digits(
            "device_info.http_browser_screen_height",
            &self.http_browser_screen_height,
            1,
            6,
        )?;
        v::digits(
            "device_info.http_browser_screen_width",
            &self.http_browser_screen_width,
            1,
            6,
        )?;
        let offset = v::text(
            "device_info.http_browser_time_offset",
            &self.http_browser_time_offset,
            6,
        )?;
        if offset
            .strip_prefix('-')
            .unwrap_or(offset)
            .parse::<u16>()
            .is_err()
        {
            return Err(ApiError::invalid(
                "device_info.http_browser_time_offset",
                "must be a whole number of minutes",
            ));
        }
        v::text("device_info.user_agent", &self.user_agent, 2048)?;
        required("device_info.cookies_accepted", self.cookies_accepted)?;
        v::text(
            "device_info.http_browser_language",
            &self.http_browser_language,
            16,
        )?;
        v::text(
            "device_info.http_accept_content",
            &self.http_accept_content,
            256,
        )?;
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    #[serde(default)]
    pub reference_id: String,
    #[serde(default)]
    pub return_url: String,
    #[serde(default)]
    pub device_channel: String,
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub token: String,
}

/// `POST /v1/risk/authentication/setup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupRequest {
    #[serde(default)]
    pub transaction_info: TransactionInfo,
    #[serde(default)]
    pub card: Card,
}

impl SetupRequest {
    pub fn validate(&self, today: NaiveDate) -> Result<(), ApiError> {
        self.transaction_info.validate("setup")?;
        self.card.validate(today).map(|_| ())
    }
}

/// `POST /v1/risk/authentication/enroll` (check enroll).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckEnrollRequest {
    #[serde(default)]
    pub transaction_info: TransactionInfo,
    #[serde(default)]
    pub card: Card,
    #[serde(default)]
    pub order_info: OrderInfo,
    #[serde(default)]
    pub bill_to: BillTo,
    #[serde(default)]
    pub buyer_info: BuyerInfo,
    #[serde(default)]
    pub device_info: DeviceInfo,
    #[serde(default)]
    pub authentication: Authentication,
}

impl CheckEnrollRequest {
    /// Checks every field the seed marks required, and that the merchant's return URL is
    /// one we may redirect to. Returns that URL.
    pub fn validate(
        &self,
        today: NaiveDate,
        return_urls: &ReturnUrlPolicy,
    ) -> Result<Url, ApiError> {
        self.transaction_info.validate("check_enroll")?;
        self.card.validate(today)?;
        self.order_info.validate()?;
        self.bill_to.validate()?;
        phone("buyer_info.mobile_phone", &self.buyer_info.mobile_phone)?;
        self.device_info.validate()?;
        let auth = &self.authentication;
        v::text("authentication.reference_id", &auth.reference_id, 64)?;
        v::one_of(
            "authentication.device_channel",
            &auth.device_channel,
            DEVICE_CHANNELS,
        )?;
        v::text("authentication.mode", &auth.mode, 8)?;
        v::text("authentication.token", &auth.token, 512)?;
        let return_url = v::text("authentication.return_url", &auth.return_url, 2048)?;
        return_urls
            .check(return_url)
            .map_err(|reason| ApiError::invalid("authentication.return_url", reason))
    }

    /// What validate will need after the challenge; sealed at rest.
    pub fn payment_data(&self) -> PaymentData {
        PaymentData {
            card: self.card.clone(),
            order_info: self.order_info.clone(),
            bill_to: self.bill_to.clone(),
        }
    }
}

/// Card, order and billing data kept (encrypted) between check enroll and validate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentData {
    pub card: Card,
    pub order_info: OrderInfo,
    pub bill_to: BillTo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateAuthentication {
    #[serde(default)]
    pub transaction_id: String,
}

/// `POST /v1/risk/authentication/validate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateRequest {
    #[serde(default)]
    pub transaction_info: TransactionInfo,
    #[serde(default)]
    pub card: Card,
    #[serde(default)]
    pub order_info: OrderInfo,
    #[serde(default)]
    pub bill_to: BillTo,
    #[serde(default)]
    pub authentication: ValidateAuthentication,
}

impl ValidateRequest {
    pub fn new(reference_code: &str, data: PaymentData, transaction_id: &str) -> Self {
        Self {
            transaction_info: TransactionInfo {
                kind: "validate_result".into(),
                reference_code: reference_code.into(),
            },
            card: data.card,
            order_info: data.order_info,
            bill_to: data.bill_to,
            authentication: ValidateAuthentication {
                transaction_id: transaction_id.into(),
            },
        }
    }

    pub fn validate(&self, today: NaiveDate) -> Result<(), ApiError> {
        self.transaction_info.validate("validate_result")?;
        self.card.validate(today)?;
        self.order_info.validate()?;
        self.bill_to.validate()?;
        v::text(
            "authentication.transaction_id",
            &self.authentication.transaction_id,
            64,
        )?;
        Ok(())
    }
}

/// What check enroll decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollmentDecision {
    /// `Authentication_successful` (frictionless).
    Authenticated(AuthenticationResult),
    /// `Authentication_failed`: final, no validate step.
    Failed(AuthenticationResult),
    /// `Pending_authentication`: the cardholder must complete a challenge.
    ChallengeRequired {
        authentication_transaction_id: String,
    },
}

/// A `"status": "success"` answer of the payer-authentication API.
#[derive(Debug, Clone, PartialEq)]
pub struct PayerAuthAnswer {
    pub body: Value,
}

impl PayerAuthAnswer {
    fn text(&self, pointer: &str) -> Option<String> {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    pub fn transaction_status(&self) -> Option<String> {
        self.text("/data/transaction_info/status")
    }

    /// The outcome fields of `consumer_auth_info`, as the seed names them
    /// (`specificationVersion`; `specification_version` is accepted too).
    pub fn result(&self) -> AuthenticationResult {
        let info = |name: &str| self.text(&format!("/data/consumer_auth_info/{name}"));
        AuthenticationResult {
            transaction_status: self.transaction_status(),
            eci: info("eci"),
            eci_raw: info("eci_raw"),
            cavv: info("cavv"),
            xid: info("xid"),
            pares_status: info("pares_status"),
            veres_enrolled: info("veres_enrolled"),
            commerce_indicator: info("commerce_indicator"),
            authentication_transaction_id: info("authentication_transaction_id"),
            specification_version: info("specificationVersion")
                .or_else(|| info("specification_version")),
            signed_pares_status_reason: info("signed_pares_status_reason"),
        }
    }

    /// BIN and network as the upstream reports them.
    pub fn card_summary(&self) -> CardSummary {
        CardSummary {
            bin: self.text("/data/card/bin"),
            last4: None,
            network: self.text("/data/card/type"),
        }
    }

    /// Reads check enroll's decision; an answer that fits none of the three documented
    /// scenarios is malformed (never read as a decline).
    pub fn enrollment_decision(&self) -> Result<EnrollmentDecision, UpstreamError> {
        let malformed = UpstreamError::Malformed {
            upstream: Upstream::PayerAuth,
            status: 200,
        };
        match self.transaction_status().as_deref() {
            Some("Authentication_successful") => {
                Ok(EnrollmentDecision::Authenticated(self.result()))
            }
            Some("Authentication_failed") => Ok(EnrollmentDecision::Failed(self.result())),
            Some("Pending_authentication") => self
                .text("/data/consumer_auth_info/authentication_transaction_id")
                .map(|id| EnrollmentDecision::ChallengeRequired {
                    authentication_transaction_id: id,
                })
                .ok_or(malformed),
            _ => Err(malformed),
        }
    }

    /// Validate's decision: `Some(true)` authenticated, `Some(false)` failed.
    pub fn validation_succeeded(&self) -> Result<bool, UpstreamError> {
        match self.transaction_status().as_deref() {
            Some("Authentication_successful") => Ok(true),
            Some("Authentication_failed") => Ok(false),
            _ => Err(UpstreamError::Malformed {
                upstream: Upstream::PayerAuth,
                status: 200,
            }),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PayerAuthError {
    #[error(transparent)]
    Transport(#[from] UpstreamError),
    /// HTTP 4xx, or `"status": "fail"`: the upstream refused the request itself (not a
    /// 3DS decline, which is a successful call saying `Authentication_failed`).
    #[error("the payer-authentication API refused the request with HTTP {status}")]
    Refused {
        status: u16,
        reason: Option<String>,
        message: Option<String>,
    },
}

impl From<PayerAuthError> for ApiError {
    fn from(error: PayerAuthError) -> Self {
        match error {
            PayerAuthError::Transport(e) => ApiError::Upstream(e),
            PayerAuthError::Refused {
                status,
                reason,
                message,
            } => ApiError::upstream_refused(
                status,
                // Their 401/403 is about our credentials, not the caller's key.
                reason.filter(|_| !matches!(status, 401 | 403)),
                if matches!(status, 401 | 403) {
                    "UPSTREAM_UNAUTHORIZED"
                } else {
                    "UPSTREAM_REJECTED"
                },
                message,
                "the payer-authentication API refused the request",
                None,
            ),
        }
    }
}

pub struct PayerAuthClient {
    http: HttpClient,
    base: Url,
    api_key: Secret,
}

impl PayerAuthClient {
    pub fn new(http: HttpClient, settings: &PayerAuthSettings) -> Self {
        Self {
            http,
            base: settings.base_url.clone(),
            api_key: settings.api_key.clone(),
        }
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{path}"));
        url
    }

    async fn post(
        &self,
        operation: &'static str,
        path: &str,
        policy: RetryPolicy,
        body: &Value,
    ) -> Result<PayerAuthAnswer, PayerAuthError> {
        let url = self.url(path);
        let call = Call {
            upstream: Upstream::PayerAuth,
            operation,
            policy,
            rate_limit: None,
        };
        let response = self
            .http
            .send(call, |client| {
                client
                    .post(url.clone())
                    .header("x-api-key", self.api_key.expose())
                    .json(body)
            })
            .await?;
        parse_envelope(&response)
    }

    /// Setup creates nothing that a repeat would duplicate: retried like a read.
    pub async fn setup(&self, body: &Value) -> Result<PayerAuthAnswer, PayerAuthError> {
        self.post("setup", SETUP_PATH, RetryPolicy::Idempotent, body)
            .await
    }

    /// Check enroll starts an authentication: never repeated once it may have landed.
    pub async fn check_enroll(&self, body: &Value) -> Result<PayerAuthAnswer, PayerAuthError> {
        self.post(
            "check_enroll",
            ENROLL_PATH,
            RetryPolicy::NotIfProcessed,
            body,
        )
        .await
    }

    /// Validate is called once per session: never repeated once it may have landed.
    pub async fn validate(
        &self,
        request: &ValidateRequest,
    ) -> Result<PayerAuthAnswer, PayerAuthError> {
        let body = serde_json::to_value(request).expect("validate requests serialize");
        self.post(
            "validate",
            VALIDATE_PATH,
            RetryPolicy::NotIfProcessed,
            &body,
        )
        .await
    }
}

fn parse_envelope(response: &UpstreamResponse) -> Result<PayerAuthAnswer, PayerAuthError> {
    let status = response.status.as_u16();
    if response.status.is_server_error() {
        return Err(UpstreamError::ServerError {
            upstream: Upstream::PayerAuth,
            status,
        }
        .into());
    }
    let body: Option<Value> = serde_json::from_slice(&response.body)
        .ok()
        .filter(Value::is_object);
    let text = |body: &Value, pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let refused = |body: Option<&Value>, status: u16| PayerAuthError::Refused {
        status,
        reason: body
            .and_then(|b| text(b, "/error/reason").or_else(|| text(b, "/data/error/reason"))),
        message: body.and_then(|b| text(b, "/message")),
    };
    if response.status.is_client_error() {
        return Err(refused(body.as_ref(), status));
    }
    let malformed = || {
        PayerAuthError::Transport(UpstreamError::Malformed {
            upstream: Upstream::PayerAuth,
            status,
        })
    };
    let body = body.ok_or_else(malformed)?;
    match body
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("success") if response.status.is_success() => Ok(PayerAuthAnswer { body }),
        // A refusal in a 2xx envelope: treated as 422, the request was not acceptable.
        Some("fail") => Err(refused(Some(&body), 422)),
        Some("error") => Err(UpstreamError::ServerError {
            upstream: Upstream::PayerAuth,
            status,
        }
        .into()),
        _ => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_data_never_debug_prints() {
        let card = Card {
            number: "4000000000002701".into(),
            expiration_date: "01/2030".into(),
        };
        let bill_to = BillTo {
            email: "accept@gmsectec.com".into(),
            ..Default::default()
        };
        let data = PaymentData {
            card: card.clone(),
            order_info: OrderInfo::default(),
            bill_to: bill_to.clone(),
        };
        let debug = format!("{card:?} {bill_to:?} {data:?}");
        assert!(
            !debug.contains("4000000000002701") && !debug.contains("01/2030"),
            "{debug}"
        );
        assert!(!debug.contains("gmsectec"), "{debug}");
        assert_eq!(
            card.summary(),
            CardSummary {
                bin: Some("400000".into()),
                last4: Some("2701".into()),
                network: Some("VISA".into())
            }
        );
    }

    fn answer(status: &str, info: Value) -> PayerAuthAnswer {
        PayerAuthAnswer {
            body: serde_json::json!({"status": "success", "data": {
                "transaction_info": {"status": status}, "consumer_auth_info": info}}),
        }
    }

    #[test]
    fn the_three_seed_scenarios_are_read_and_nothing_else_is_a_decision() {
        let ok = answer(
            "Authentication_successful",
            serde_json::json!({"eci": "05", "specificationVersion": "2.2.0"}),
        );
        let EnrollmentDecision::Authenticated(result) = ok.enrollment_decision().unwrap() else {
            panic!()
        };
        assert_eq!(result.specification_version.as_deref(), Some("2.2.0"));
        assert!(matches!(
            answer("Authentication_failed", serde_json::json!({})).enrollment_decision(),
            Ok(EnrollmentDecision::Failed(_))
        ));
        assert_eq!(
            answer(
                "Pending_authentication",
                serde_json::json!({"authentication_transaction_id": "T1"})
            )
            .enrollment_decision(),
            Ok(EnrollmentDecision::ChallengeRequired {
                authentication_transaction_id: "T1".into()
            })
        );
        assert!(
            answer("Pending_authentication", serde_json::json!({}))
                .enrollment_decision()
                .is_err()
        );
        assert!(
            answer("Authentication_maybe", serde_json::json!({}))
                .enrollment_decision()
                .is_err()
        );
    }
}
