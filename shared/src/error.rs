//! The one error type of every route: a closed set of codes, each with its HTTP status and
//! a default message, decided here and nowhere else.
//!
//! Lower layers have their own errors (`FieldError`, `StoreError`, `UpstreamError`, each
//! upstream's refusal); they become an [`ApiError`] through the `From` impls below. The
//! HTTP edge renders an `ApiError` in the envelope of the caller's API.
//! Messages are ours and never carry a request value, so they are safe to log and return.

use std::borrow::Cow;
use std::time::Duration;

use crate::domain::FieldError;
use crate::keys::SealError;
use crate::outbound::UpstreamError;
use crate::secrets::SecretError;
use crate::store::StoreError;
use crate::upstream::card_issuance::{CardIssuanceError, RefusalKind};
use crate::upstream::payer_auth::PayerAuthError;

/// Declares the codes once: each variant with its name, status and default message. The
/// enum, [`ErrorCode::ALL`] and the three lookups come from this one table, so a code
/// cannot be added without its status (nor left out of `ALL`, which the documents test reads).
macro_rules! error_codes {
    ($($(#[$doc:meta])* $code:ident = ($name:literal, $status:literal, $message:literal),)*) => {
        /// Every code the gateway itself answers with. The API reference's status table (docs/api.md) lists
        /// each one; a test keeps the two in step.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $code,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code,)*];

            /// The code as callers see it, UPPER_SNAKE like the upstreams' own.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => $name,)*
                }
            }

            /// The HTTP status of the code: the one place statuses are decided.
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$code => $status,)*
                }
            }

            /// What the caller is told when nothing more specific applies.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => $message,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidParameter = ("INVALID_PARAMETER", 400, "a request field is not valid"),
    MalformedJson = ("MALFORMED_JSON", 400, "the request body is not valid JSON"),
    Unauthorized = ("UNAUTHORIZED", 401, "missing or invalid x-api-key"),
    /// The upstream refused the gateway's credentials (not the caller's).
    UpstreamUnauthorized = ("UPSTREAM_UNAUTHORIZED", 502, "the upstream rejected the gateway's credentials"),
    /// The caller's tenant does not have the role the route needs.
    RoleNotAllowed = ("ROLE_NOT_ALLOWED", 403, "this API key's tenant does not have the role this route needs"),
    FeatureNotEnabled = ("FEATURE_NOT_ENABLED", 403, "3DS is not enabled for this card-issuance account"),
    ReturnUrlNotValid = ("RETURN_URL_NOT_VALID", 403, "this return link does not belong to a payment of ours"),
    ReturnUrlNotAllowed = ("RETURN_URL_NOT_ALLOWED", 403, "the merchant's return address is no longer allowed"),
    RouteNotFound = ("ROUTE_NOT_FOUND", 404, "no such route"),
    CardNotFound = ("CARD_NOT_FOUND", 404, "the card does not exist"),
    CardholderNotFound = ("CARDHOLDER_NOT_FOUND", 404, "the cardholder does not exist"),
    CardNotEnrolled = ("CARD_NOT_ENROLLED", 404, "the card is not enrolled for 3DS"),
    BudgetNotFound = ("BUDGET_NOT_FOUND", 404, "the budget does not exist"),
    /// The upstream's 404 without a code of its own.
    NotFound = ("NOT_FOUND", 404, "the card or cardholder does not exist"),
    SessionNotFound = ("SESSION_NOT_FOUND", 404, "no authentication with this reference_code"),
    EventNotFound = ("EVENT_NOT_FOUND", 404, "no event with this id"),
    JobNotFound = ("JOB_NOT_FOUND", 404, "no job with this id"),
    MethodNotAllowed = ("METHOD_NOT_ALLOWED", 405, "this route does not accept that method"),
    CardAlreadyEnrolled = ("CARD_ALREADY_ENROLLED", 409, "the card is already enrolled for 3DS"),
    /// The first answer to a repeated request was kept sealed under a key since retired.
    SealedAnswerUnavailable = ("SEALED_ANSWER_UNAVAILABLE", 409, "the first answer to this request can no longer be opened (its key was retired); nothing was repeated: read the current state instead"),
    IdempotencyKeyReused = ("IDEMPOTENCY_KEY_REUSED", 409, "this Idempotency-Key was used with a different request"),
    /// The first request under the key may have taken effect upstream: it is not run
    /// again (a non-repeatable write, such as creating a contact).
    IdempotencyOutcomeUnknown = ("IDEMPOTENCY_OUTCOME_UNKNOWN", 409, "the first request with this Idempotency-Key may have taken effect upstream, and it is not run twice: look the result up before sending it again with a new key"),
    ReferenceCodeInUse = ("REFERENCE_CODE_IN_USE", 409, "this reference_code was already used with a different request"),
    RequestInProgress = ("REQUEST_IN_PROGRESS", 409, "a request with this reference_code is being processed; retry shortly"),
    NoChallengePending = ("NO_CHALLENGE_PENDING", 409, "this authentication has no challenge to validate"),
    AuthenticationExpired = ("AUTHENTICATION_EXPIRED", 409, "the challenge deadline passed before validation"),
    AuthenticationCanceled = ("AUTHENTICATION_CANCELED", 409, "the merchant canceled this authentication"),
    /// Only an authenticated result can be taken to an authorization.
    AuthenticationNotUsable = ("AUTHENTICATION_NOT_USABLE", 409, "only an authenticated result can be consumed"),
    AuthenticationAlreadyConsumed = ("AUTHENTICATION_ALREADY_CONSUMED", 409, "this authentication was already used for an authorization"),
    SessionSuperseded = ("SESSION_SUPERSEDED", 409, "the session changed while the upstream call was in flight; retry the request"),
    /// A job that finished (completed, failed or canceled) cannot be started or canceled.
    JobFinished = ("JOB_FINISHED", 409, "this job has finished"),
    UploadMissing = ("UPLOAD_MISSING", 409, "no file was uploaded for this job: PUT it to the upload URL first"),
    NoWebhookEndpoint = ("NO_WEBHOOK_ENDPOINT", 409, "the tenant has no webhook endpoint for this event"),
    RedeliveryInProgress = ("REDELIVERY_IN_PROGRESS", 409, "a redelivery of this event is queued and not yet attempted"),
    PayloadTooLarge = ("PAYLOAD_TOO_LARGE", 413, "the request body is too large"),
    TooManyRequests = ("TOO_MANY_REQUESTS", 429, "the upstream rate limit was reached; retry later"),
    TooManyRedeliveries = ("TOO_MANY_REDELIVERIES", 429, "this tenant's redeliveries for this hour are used up; retry after the Retry-After delay"),
    InternalError = ("INTERNAL_ERROR", 500, "internal error"),
    UnenrollNotAvailable = ("UNENROLL_NOT_AVAILABLE", 501, "the card-issuance API does not offer unenroll; nothing was changed"),
    /// The upstream refused the request or did not report success.
    UpstreamRejected = ("UPSTREAM_REJECTED", 502, "the upstream rejected the request"),
    UpstreamUnavailable = ("UPSTREAM_UNAVAILABLE", 502, "the upstream is unavailable; the outcome is unknown and nothing was declined: retry the same request"),
    StoreUnavailable = ("STORE_UNAVAILABLE", 502, "the session store is unavailable; retry the request"),
    UpstreamTimeout = ("UPSTREAM_TIMEOUT", 504, "the upstream did not answer in time; the outcome is unknown and nothing was declined: retry the same request"),
    StoreTimeout = ("STORE_TIMEOUT", 504, "the session store did not answer in time; retry the request"),
}

impl ErrorCode {
    /// The code of an upstream's answer, when it is one of ours.
    pub fn from_upstream(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

/// A code as an upstream's refusal carried it: one of ours, or the upstream's own
/// (kept only if it looks like a code: UPPER_SNAKE, at most 64 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalCode {
    Ours(ErrorCode),
    Upstream(String),
}

impl RefusalCode {
    /// The upstream's code if it is a well-formed one, else `fallback`.
    pub fn from_upstream(code: Option<&str>, fallback: ErrorCode) -> Self {
        let well_formed = |c: &&str| {
            !c.is_empty()
                && c.len() <= 64
                && c.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        };
        match code.filter(well_formed) {
            None => RefusalCode::Ours(fallback),
            Some(code) => ErrorCode::from_upstream(code)
                .map(RefusalCode::Ours)
                .unwrap_or_else(|| RefusalCode::Upstream(code.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RefusalCode::Ours(code) => code.as_str(),
            RefusalCode::Upstream(code) => code,
        }
    }

    /// Our message for the refusal: the upstream's own text is never passed on (it may
    /// quote what the caller sent), only its code. `specific` says what the upstream did
    /// when its code is the `fallback` or one of its own; a code of ours says it itself.
    fn message(&self, fallback: ErrorCode, specific: &str) -> String {
        match self {
            RefusalCode::Ours(code) if *code != fallback => code.default_message().to_owned(),
            _ => specific.to_owned(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// A refusal of ours, with the status of its code.
    #[error("{message}")]
    Refused {
        code: ErrorCode,
        field: Option<String>,
        message: Cow<'static, str>,
    },
    /// The upstream refused the request (4xx): passed on with its status.
    #[error("{message}")]
    UpstreamRefused {
        status: u16,
        code: RefusalCode,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A limit of ours was reached: refused with its code, and when to ask again.
    #[error("{}", code.default_message())]
    Limited {
        code: ErrorCode,
        retry_after: Duration,
    },
    /// An invariant did not hold; the detail goes to our logs only.
    #[error("{0}")]
    Internal(String),
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::Refused {
            code: ErrorCode::InvalidParameter,
            message: Cow::Owned(error.to_string()),
            field: Some(error.field),
        }
    }
}

impl From<SecretError> for ApiError {
    fn from(error: SecretError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

/// A kept answer that no longer opens is not a server fault: it is not available, and
/// nothing is repeated in its place.
impl From<SealError> for ApiError {
    fn from(error: SealError) -> Self {
        tracing::warn!(%error, "a kept answer is not available");
        ApiError::of(ErrorCode::SealedAnswerUnavailable)
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::of(code)
    }
}

impl From<PayerAuthError> for ApiError {
    fn from(error: PayerAuthError) -> Self {
        let refusal = match error {
            PayerAuthError::Transport(e) => return ApiError::Upstream(e),
            PayerAuthError::Refused(refusal) => refusal,
        };
        // Their 401/403 is about our credentials, not the caller's key.
        let code = if matches!(refusal.status, 401 | 403) {
            RefusalCode::Ours(ErrorCode::UpstreamUnauthorized)
        } else {
            RefusalCode::from_upstream(refusal.reason.as_deref(), ErrorCode::UpstreamRejected)
        };
        ApiError::UpstreamRefused {
            status: refusal.status,
            message: code.message(
                ErrorCode::UpstreamRejected,
                "the payer-authentication API refused the request",
            ),
            code,
            retry_after: None,
        }
    }
}

impl From<CardIssuanceError> for ApiError {
    fn from(error: CardIssuanceError) -> Self {
        match error {
            CardIssuanceError::Transport(e) => ApiError::Upstream(e),
            CardIssuanceError::AlreadyEnrolled { conflict, .. } => {
                CardIssuanceError::Refused(conflict).into()
            }
            CardIssuanceError::Refused(refusal) => {
                let (fallback, default_message) = match refusal.kind {
                    RefusalKind::InvalidParameter => (
                        ErrorCode::InvalidParameter,
                        "the card-issuance API rejected a parameter",
                    ),
                    RefusalKind::Unauthorized => (
                        ErrorCode::UpstreamUnauthorized,
                        "the card-issuance API rejected the gateway's credentials",
                    ),
                    RefusalKind::FeatureNotEnabled => (
                        ErrorCode::FeatureNotEnabled,
                        ErrorCode::FeatureNotEnabled.default_message(),
                    ),
                    RefusalKind::NotFound => {
                        (ErrorCode::NotFound, ErrorCode::NotFound.default_message())
                    }
                    RefusalKind::AlreadyEnrolled => (
                        ErrorCode::CardAlreadyEnrolled,
                        "the card is already enrolled for 3DS with another cardholder; update the enrollment instead",
                    ),
                    RefusalKind::RateLimited => (
                        ErrorCode::TooManyRequests,
                        "the card-issuance API rate limit was reached; retry later",
                    ),
                    RefusalKind::Other => (
                        ErrorCode::UpstreamRejected,
                        "the card-issuance API rejected the request",
                    ),
                };
                // Their 401 is about our credentials, not the caller's key: never let it
                // read like our own UNAUTHORIZED.
                let code = if refusal.kind == RefusalKind::Unauthorized {
                    RefusalCode::Ours(fallback)
                } else {
                    RefusalCode::from_upstream(refusal.code.as_deref(), fallback)
                };
                let message = code.message(fallback, default_message);
                ApiError::UpstreamRefused {
                    status: refusal.status,
                    code,
                    message,
                    retry_after: refusal.retry_after_secs.map(Duration::from_secs),
                }
            }
            CardIssuanceError::NotSuccess { code } => {
                let code = RefusalCode::from_upstream(Some(&code), ErrorCode::UpstreamRejected);
                ApiError::UpstreamRefused {
                    status: 502,
                    message: code.message(
                        ErrorCode::UpstreamRejected,
                        "the card-issuance API did not report success",
                    ),
                    code,
                    retry_after: None,
                }
            }
        }
    }
}

impl ApiError {
    /// A refusal with the code's default message.
    pub fn of(code: ErrorCode) -> Self {
        ApiError::Refused {
            code,
            field: None,
            message: Cow::Borrowed(code.default_message()),
        }
    }

    /// A refusal with a message of our own.
    pub fn with_message(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Refused {
            code,
            field: None,
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError::new(field, message).into()
    }

    /// The code family, for matching on what went wrong.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ApiError::Refused { code, .. } | ApiError::Limited { code, .. } => *code,
            ApiError::UpstreamRefused { code, .. } => match code {
                RefusalCode::Ours(code) => *code,
                RefusalCode::Upstream(_) => ErrorCode::UpstreamRejected,
            },
            ApiError::Upstream(e) if e.is_timeout() => ErrorCode::UpstreamTimeout,
            ApiError::Upstream(_) => ErrorCode::UpstreamUnavailable,
            ApiError::Store(StoreError::Timeout) => ErrorCode::StoreTimeout,
            ApiError::Store(StoreError::Unavailable(_)) => ErrorCode::StoreUnavailable,
            ApiError::Store(StoreError::Corrupt(_)) | ApiError::Internal(_) => {
                ErrorCode::InternalError
            }
        }
    }

    /// The HTTP status: the code's, except an upstream refusal keeps the upstream's 4xx.
    pub fn status(&self) -> u16 {
        match self {
            // The upstream refusing the gateway's own credentials is not the caller's 401
            // (clients read that as "my key is wrong"): a bad gateway.
            ApiError::UpstreamRefused {
                code: RefusalCode::Ours(ErrorCode::UpstreamUnauthorized),
                ..
            } => ErrorCode::UpstreamUnauthorized.status(),
            ApiError::UpstreamRefused { status, .. } if (400..500).contains(status) => *status,
            ApiError::UpstreamRefused { .. } => 502,
            other => other.error_code().status(),
        }
    }

    /// The code as the caller sees it (an upstream's own code is passed on).
    pub fn code(&self) -> &str {
        match self {
            ApiError::UpstreamRefused { code, .. } => code.as_str(),
            other => other.error_code().as_str(),
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Refused { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// What the caller is told. Internal details (store errors) stay in our logs.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Refused { message, .. } => message.to_string(),
            ApiError::UpstreamRefused { message, .. } => message.clone(),
            ApiError::Upstream(e) if e.may_have_landed() => format!(
                "{e}; the outcome is unknown and nothing was declined: retry the same request"
            ),
            ApiError::Upstream(e) => format!("{e}; nothing was done: retry the request"),
            other => other.error_code().default_message().to_owned(),
        }
    }

    /// Whether the failure proves the upstream did nothing: our own refusal, the
    /// upstream's (a 4xx), or a connection never made. A fault after the request may have
    /// reached the upstream (a timeout, a 5xx, a store failure after the call) proves
    /// nothing.
    pub fn proves_nothing_happened(&self) -> bool {
        match self {
            ApiError::Refused { .. } | ApiError::Limited { .. } => true,
            ApiError::UpstreamRefused { status, .. } => (400..500).contains(status),
            ApiError::Upstream(e) => !e.may_have_landed(),
            ApiError::Store(_) | ApiError::Internal(_) => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::UpstreamRefused { retry_after, .. } => *retry_after,
            ApiError::Limited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Logs the refusal once, at the level its status deserves.
    pub fn log(&self) {
        let status = self.status();
        if status >= 500 {
            tracing::error!(status, code = self.code(), error = %self, "request failed");
        } else {
            tracing::warn!(status, code = self.code(), field = self.field(), detail = %self, "request refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Upstream;

    #[test]
    fn statuses_map_in_one_place() {
        let timeout = ApiError::Upstream(UpstreamError::Timeout {
            upstream: Upstream::PayerAuth,
        });
        assert_eq!(timeout.status(), 504);
        let five = ApiError::Upstream(UpstreamError::ServerError {
            upstream: Upstream::PayerAuth,
            status: 500,
        });
        assert_eq!(five.status(), 502);
        let refused = |status| ApiError::UpstreamRefused {
            status,
            code: RefusalCode::Upstream("X".into()),
            message: "m".into(),
            retry_after: None,
        };
        assert_eq!(refused(409).status(), 409);
        assert_eq!(refused(302).status(), 502);
        assert_eq!(
            ApiError::Store(StoreError::Unavailable("x".into())).status(),
            502
        );
    }

    #[test]
    fn every_code_has_a_distinct_name_and_an_error_status() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert!(code.status() >= 400, "{code:?}");
            assert_eq!(ErrorCode::from_upstream(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn upstream_codes_are_kept_only_when_they_look_like_codes() {
        assert_eq!(
            RefusalCode::from_upstream(Some("CARD_NOT_FOUND"), ErrorCode::NotFound),
            RefusalCode::Ours(ErrorCode::CardNotFound)
        );
        assert_eq!(
            RefusalCode::from_upstream(Some("CARD_NOT_ACTIVE"), ErrorCode::InvalidParameter),
            RefusalCode::Upstream("CARD_NOT_ACTIVE".into())
        );
        assert_eq!(
            RefusalCode::from_upstream(Some("not a code"), ErrorCode::NotFound),
            RefusalCode::Ours(ErrorCode::NotFound)
        );
    }

    #[test]
    fn card_issuance_refusals_become_the_documented_codes() {
        use crate::upstream::card_issuance::Refusal;
        let refused = |status, code: Option<&str>| {
            ApiError::from(CardIssuanceError::Refused(Refusal {
                status,
                kind: RefusalKind::from_status(status),
                code: code.map(str::to_owned),
                retry_after_secs: None,
            }))
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
        assert_eq!(refused(409, None).status(), 409);
    }

    #[test]
    fn an_upstreams_own_text_never_reaches_the_caller() {
        use crate::upstream::card_issuance::Refusal;
        let refused = ApiError::from(CardIssuanceError::Refused(Refusal {
            status: 400,
            kind: RefusalKind::InvalidParameter,
            code: Some("CARD_NOT_ACTIVE".into()),
            retry_after_secs: None,
        }));
        assert_eq!(refused.code(), "CARD_NOT_ACTIVE");
        assert_eq!(
            refused.public_message(),
            "the card-issuance API rejected a parameter"
        );
    }
}
