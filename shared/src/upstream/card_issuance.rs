//! Ahrvo card-issuance 3DS API (issuer side): the client for its six endpoints, their
//! request bodies (which are also our drop-in request bodies), the envelope parsing and
//! the mapping of its errors.
//!
//! Every call carries `Authorization: Bearer` and `x-api-key`. Success is HTTP 2xx with
//! `{"code": "SUCCESS", ...}`; anything else is an error, parsed leniently since the
//! upstream documents no error body.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::api::ApiError;
use crate::config::{CardIssuanceSettings, Secret};
use crate::http_client::{
    Call, HttpClient, RequestRateLimit, RetryPolicy, Upstream, UpstreamError, UpstreamResponse,
};
use crate::validation as v;

pub const PATH_PREFIX: &str = "/card/issuance/api/issuing";

/// `call_prefix` values the upstream accepts.
pub const CALL_PREFIXES: &[&str] = &[
    "+61", "+1", "+44", "+852", "+81", "+82", "+65", "+90", "+86", "+33",
];

/// Enroll a card, or re-point an enrolled card to another cardholder (same body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEnrollmentRequest {
    #[serde(default)]
    pub card_id: String,
    #[serde(default)]
    pub cardholder_id: String,
}

impl CardEnrollmentRequest {
    /// `prefix` names the field's position in a larger body (`items[3].`).
    pub fn validate(&self, prefix: &str) -> Result<(), ApiError> {
        v::identifier(&format!("{prefix}card_id"), &self.card_id, 64)?;
        v::identifier(&format!("{prefix}cardholder_id"), &self.cardholder_id, 64)?;
        Ok(())
    }
}

/// Declares a cardholder request body: its own fields plus the contact fields that create
/// and update share. Plain fields (no `serde(flatten)`) so a type error names its field.
macro_rules! cardholder_request {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        pub struct $name {
            $(#[serde(default)] pub $field: String,)*
            #[serde(default)] pub call_prefix: String,
            #[serde(default)] pub mobile: String,
            #[serde(default)] pub email: String,
            #[serde(default)] pub date_of_birth: String,
            #[serde(default)] pub state: String,
            #[serde(default)] pub city: String,
            #[serde(default)] pub address_line: String,
            #[serde(default)] pub post_code: String,
            #[serde(default)] pub country_code: String,
            #[serde(default)] pub security_index: String,
            #[serde(default)] pub security_answer: String,
        }

        impl $name {
            fn validate_contact(&self, today: NaiveDate) -> Result<(), ApiError> {
                v::one_of("call_prefix", &self.call_prefix, CALL_PREFIXES)?;
                v::digits("mobile", &self.mobile, 4, 15)?;
                v::email("email", &self.email)?;
                v::date_of_birth("date_of_birth", &self.date_of_birth, today)?;
                v::text("state", &self.state, 64)?;
                v::text("city", &self.city, 64)?;
                v::text("address_line", &self.address_line, 128)?;
                v::text("post_code", &self.post_code, 16)?;
                v::country("country_code", &self.country_code)?;
                v::digits("security_index", &self.security_index, 1, 2)?;
                v::text("security_answer", &self.security_answer, 64)?;
                Ok(())
            }
        }
    };
}

cardholder_request! {
    /// Creates the 3DS contact (OTP email and mobile, security question) of a cardholder.
    CreateCardholderRequest { budget_id, first_name, last_name }
}

cardholder_request! {
    /// Replaces the contact of an existing cardholder (name and budget are fixed).
    UpdateCardholderRequest { cardholder_id }
}

impl CreateCardholderRequest {
    pub fn validate(&self, today: NaiveDate) -> Result<(), ApiError> {
        v::identifier("budget_id", &self.budget_id, 64)?;
        v::text("first_name", &self.first_name, 64)?;
        v::text("last_name", &self.last_name, 64)?;
        self.validate_contact(today)
    }
}

impl UpdateCardholderRequest {
    pub fn validate(&self, today: NaiveDate) -> Result<(), ApiError> {
        v::identifier("cardholder_id", &self.cardholder_id, 64)?;
        self.validate_contact(today)
    }
}

/// Query of cardholder contacts; at least one filter is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CardholderQuery {
    pub page_no: u32,
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cardholder_id: Option<String>,
}

impl CardholderQuery {
    /// Parses and validates the drop-in route's query string.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str, default: u32, max: u32| -> Result<u32, ApiError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(name, format!("must be an integer from 1 to {max}"))
                    }),
            }
        };
        let budget_id = v::optional_text("budget_id", get("budget_id"), 64)?
            .map(|b| v::identifier("budget_id", b, 64).map(str::to_owned))
            .transpose()?;
        let cardholder_id = v::optional_text("cardholder_id", get("cardholder_id"), 64)?
            .map(|c| v::identifier("cardholder_id", c, 64).map(str::to_owned))
            .transpose()?;
        if budget_id.is_none() && cardholder_id.is_none() {
            return Err(ApiError::invalid(
                "budget_id",
                "budget_id or cardholder_id is required",
            ));
        }
        Ok(Self {
            page_no: number("page_no", 1, 100_000)?,
            page_size: number("page_size", 20, 100)?,
            budget_id,
            cardholder_id,
        })
    }
}

/// What a successful enroll looked like.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    /// The upstream envelope to return to our caller.
    pub envelope: Value,
    /// The upstream said 409 and its enrollment detail showed the card already linked to
    /// this very cardholder — typically our own earlier attempt that timed out.
    pub reconciled: bool,
}

/// Errors of the card-issuance API, before they become HTTP answers for our caller.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CardIssuanceError {
    #[error(transparent)]
    Transport(#[from] UpstreamError),
    /// HTTP 4xx from the upstream.
    #[error("the card-issuance API refused the request with HTTP {status}")]
    Refused {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        retry_after_secs: Option<u64>,
    },
    /// HTTP 2xx whose `code` is not `SUCCESS`.
    #[error("the card-issuance API answered {code}")]
    NotSuccess {
        code: String,
        message: Option<String>,
    },
}

impl From<CardIssuanceError> for ApiError {
    fn from(error: CardIssuanceError) -> Self {
        match error {
            CardIssuanceError::Transport(e) => ApiError::Upstream(e),
            CardIssuanceError::Refused {
                status,
                code,
                message,
                retry_after_secs,
            } => {
                let (default_code, default_message) = match status {
                    400 => (
                        "INVALID_PARAMETER",
                        "the card-issuance API rejected a parameter",
                    ),
                    401 => (
                        "UPSTREAM_UNAUTHORIZED",
                        "the card-issuance API rejected the gateway's credentials",
                    ),
                    403 => (
                        "FEATURE_NOT_ENABLED",
                        "3DS is not enabled for this card-issuance account",
                    ),
                    404 => ("NOT_FOUND", "the card or cardholder does not exist"),
                    409 => (
                        "CARD_ALREADY_ENROLLED",
                        "the card is already enrolled for 3DS",
                    ),
                    429 => (
                        "TOO_MANY_REQUESTS",
                        "the card-issuance API rate limit was reached; retry later",
                    ),
                    _ => (
                        "UPSTREAM_REJECTED",
                        "the card-issuance API rejected the request",
                    ),
                };
                // Their 401 is about our credentials, not the caller's key: never let it
                // read like our own UNAUTHORIZED.
                let code = code.filter(|_| status != 401);
                ApiError::upstream_refused(
                    status,
                    code,
                    default_code,
                    message,
                    default_message,
                    retry_after_secs.map(std::time::Duration::from_secs),
                )
            }
            CardIssuanceError::NotSuccess { code, message } => ApiError::upstream_refused(
                502,
                Some(code),
                "UPSTREAM_REJECTED",
                message,
                "the card-issuance API did not report success",
                None,
            ),
        }
    }
}

/// Replaces `security_answer` values anywhere in an upstream answer: they are
/// credentials for cardholder verification and never leave the gateway.
pub fn redact_security_answers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "security_answer" {
                    *inner = Value::String("[REDACTED]".into());
                } else {
                    redact_security_answers(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_security_answers),
        _ => {}
    }
}

pub struct CardIssuanceClient {
    http: HttpClient,
    base: Url,
    api_key: Secret,
    access_token: Secret,
    rate_limit: RequestRateLimit,
}

impl CardIssuanceClient {
    pub fn new(http: HttpClient, settings: &CardIssuanceSettings) -> Self {
        Self {
            http,
            base: settings.base_url.clone(),
            api_key: settings.api_key.clone(),
            access_token: settings.access_token.clone(),
            rate_limit: RequestRateLimit::per_10_seconds(settings.max_requests_per_10s),
        }
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{PATH_PREFIX}/{path}"));
        url
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .header(http::header::ACCEPT, "application/json")
            .bearer_auth(self.access_token.expose())
            .header("x-api-key", self.api_key.expose())
    }

    async fn send(
        &self,
        operation: &'static str,
        policy: RetryPolicy,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(Value, UpstreamResponse), CardIssuanceError> {
        let call = Call {
            upstream: Upstream::CardIssuance,
            operation,
            policy,
            rate_limit: Some(&self.rate_limit),
        };
        let response = self
            .http
            .send(call, |client| self.authorize(build(client)))
            .await?;
        let envelope = parse_envelope(&response)?;
        Ok((envelope, response))
    }

    async fn post<T: Serialize>(
        &self,
        operation: &'static str,
        path: &str,
        policy: RetryPolicy,
        body: &T,
    ) -> Result<(Value, UpstreamResponse), CardIssuanceError> {
        let url = self.url(path);
        self.send(operation, policy, |c| c.post(url.clone()).json(body))
            .await
    }

    async fn get<Q: Serialize>(
        &self,
        operation: &'static str,
        path: &str,
        query: &Q,
    ) -> Result<Value, CardIssuanceError> {
        let url = self.url(path);
        self.send(operation, RetryPolicy::Idempotent, |c| {
            c.get(url.clone()).query(query)
        })
        .await
        .map(|(envelope, _)| envelope)
    }

    /// `POST cardholders/v2/create`. Not repeated once it may have landed: a second
    /// create would make a second cardholder.
    pub async fn create_cardholder(
        &self,
        request: &CreateCardholderRequest,
    ) -> Result<Value, CardIssuanceError> {
        self.post(
            "create_cardholder",
            "cardholders/v2/create",
            RetryPolicy::NotIfProcessed,
            request,
        )
        .await
        .map(|(envelope, _)| envelope)
    }

    /// `POST cardholders/v2/update` (sets the contact: repeating it is harmless).
    pub async fn update_cardholder(
        &self,
        request: &UpdateCardholderRequest,
    ) -> Result<Value, CardIssuanceError> {
        self.post(
            "update_cardholder",
            "cardholders/v2/update",
            RetryPolicy::Idempotent,
            request,
        )
        .await
        .map(|(envelope, _)| envelope)
    }

    /// `GET cardholders/v2/detail`.
    pub async fn query_cardholders(
        &self,
        query: &CardholderQuery,
    ) -> Result<Value, CardIssuanceError> {
        self.get("query_cardholders", "cardholders/v2/detail", query)
            .await
    }

    /// `GET 3ds/v2/detail?card_id=`.
    pub async fn enrollment_detail(&self, card_id: &str) -> Result<Value, CardIssuanceError> {
        self.get(
            "enrollment_detail",
            "3ds/v2/detail",
            &[("card_id", card_id)],
        )
        .await
    }

    /// `POST 3ds/v2/update`: re-points an enrolled card (repeating it is harmless).
    pub async fn update_enrollment(
        &self,
        request: &CardEnrollmentRequest,
    ) -> Result<Value, CardIssuanceError> {
        self.post(
            "update_enrollment",
            "3ds/v2/update",
            RetryPolicy::Idempotent,
            request,
        )
        .await
        .map(|(envelope, _)| envelope)
    }

    /// `POST 3ds/v2/enroll`, made idempotent: retried like a read (a repeat that lands
    /// twice is answered 409), and a 409 is reconciled through the enrollment detail —
    /// linked to this same cardholder means enrolled (our earlier attempt, or the
    /// caller's retry after a timeout), another cardholder stays a conflict.
    pub async fn enroll(
        &self,
        request: &CardEnrollmentRequest,
    ) -> Result<Enrolled, CardIssuanceError> {
        match self
            .post("enroll", "3ds/v2/enroll", RetryPolicy::Idempotent, request)
            .await
        {
            Ok((envelope, _)) => Ok(Enrolled {
                envelope,
                reconciled: false,
            }),
            Err(conflict @ CardIssuanceError::Refused { status: 409, .. }) => {
                let detail = self.enrollment_detail(&request.card_id).await?;
                let linked_to = detail
                    .pointer("/data/cardholder_id")
                    .and_then(Value::as_str);
                if linked_to == Some(request.cardholder_id.as_str()) {
                    tracing::info!(
                        "enroll answered 409 for the same cardholder: reconciled as enrolled"
                    );
                    Ok(Enrolled {
                        envelope: serde_json::json!({
                            "code": "SUCCESS",
                            "data": { "isSuccess": true, "reconciled": true }
                        }),
                        reconciled: true,
                    })
                } else {
                    Err(match conflict {
                        CardIssuanceError::Refused {
                            status,
                            code,
                            retry_after_secs,
                            ..
                        } => CardIssuanceError::Refused {
                            status,
                            code,
                            message: Some(
                                "the card is already enrolled for 3DS with another cardholder; update the enrollment instead".into(),
                            ),
                            retry_after_secs,
                        },
                        other => other,
                    })
                }
            }
            Err(other) => Err(other),
        }
    }
}

/// Reads the upstream envelope: 2xx + `code == "SUCCESS"` is success; everything else
/// is an error, whatever shape its body has.
fn parse_envelope(response: &UpstreamResponse) -> Result<Value, CardIssuanceError> {
    let status = response.status.as_u16();
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let text = |body: &Option<Value>, key: &str| {
        body.as_ref()
            .and_then(|b| b.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if response.status.is_server_error() {
        return Err(UpstreamError::ServerError {
            upstream: Upstream::CardIssuance,
            status,
        }
        .into());
    }
    if response.status.is_client_error() {
        return Err(CardIssuanceError::Refused {
            status,
            code: text(&body, "code").or_else(|| text(&body, "error_code")),
            message: text(&body, "message").or_else(|| text(&body, "error_msg")),
            retry_after_secs: response.retry_after().map(|d| d.as_secs().max(1)),
        });
    }
    let malformed = || {
        CardIssuanceError::Transport(UpstreamError::Malformed {
            upstream: Upstream::CardIssuance,
            status,
        })
    };
    if !response.status.is_success() {
        return Err(malformed());
    }
    let message = text(&body, "message");
    let body = body.filter(Value::is_object).ok_or_else(malformed)?;
    match body.get("code").and_then(Value::as_str) {
        Some("SUCCESS") => Ok(body),
        Some(code) => Err(CardIssuanceError::NotSuccess {
            code: code.to_owned(),
            message,
        }),
        None => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_errors_become_the_documented_codes() {
        let refused = |status, code: Option<&str>| {
            ApiError::from(CardIssuanceError::Refused {
                status,
                code: code.map(str::to_owned),
                message: None,
                retry_after_secs: None,
            })
        };
        assert_eq!(refused(409, None).code(), "CARD_ALREADY_ENROLLED");
        assert_eq!(
            refused(404, Some("CARD_NOT_FOUND")).code(),
            "CARD_NOT_FOUND"
        );
        assert_eq!(refused(403, None).code(), "FEATURE_NOT_ENABLED");
        assert_eq!(
            refused(401, Some("UNAUTHORIZED")).code(),
            "UPSTREAM_UNAUTHORIZED"
        );
        assert_eq!(refused(404, Some("not a code")).code(), "NOT_FOUND");
        assert_eq!(refused(409, None).status().as_u16(), 409);
    }

    #[test]
    fn security_answers_are_redacted_everywhere() {
        let mut value = serde_json::json!({"data": {"list": [{"security_answer": "Han", "x": 1}], "security_answer": "Han"}});
        redact_security_answers(&mut value);
        assert!(!value.to_string().contains("Han"));
    }

    #[test]
    fn cardholder_queries_need_a_filter_and_bounded_pages() {
        assert!(CardholderQuery::parse(None).is_err());
        let q = CardholderQuery::parse(Some("budget_id=ci202008281528472924")).unwrap();
        assert_eq!((q.page_no, q.page_size), (1, 20));
        let err = CardholderQuery::parse(Some("cardholder_id=1&page_size=500")).unwrap_err();
        assert_eq!(err.field(), Some("page_size"));
    }
}
