//! Single use: an authenticated result is taken to one authorization, once. A consume is
//! one conditional write ([`super::Transition::Consume`]) whose guard says everything
//! that must hold — authenticated, never consumed, and (when the merchant names one) an
//! amount within the authenticated amount in its currency — so twenty consumes at once
//! give one success. A refused write carries the session as it is, and [`Refusal::of`]
//! says why from it, with no second read.
//!
//! A consume retried under the same `Idempotency-Key` (after a timeout) finds its own
//! consumption and gets the same answer; the record of the consumption is the record of
//! the key, written by the same write.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AuthenticationSession, SessionState};
use crate::domain::field as f;
use crate::domain::{Amount, Check, FieldError};
use crate::keys::{GatewayKeys, KeyedValue};

/// A consume's body: all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeBody {
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub amount: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// A consume whose fields checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeRequest {
    /// The merchant's order that uses the authentication (shown to a second consume).
    pub order_id: Option<String>,
    /// The amount authorized with it: at most the authenticated amount, in its currency.
    pub amount: Option<Amount>,
}

impl ConsumeRequest {
    pub fn parse(body: ConsumeBody) -> Check<Self> {
        let order_id = match &body.order_id {
            Some(id) => Some(f::text("order_id", id, 64)?.to_owned()),
            None => None,
        };
        let amount = match (&body.amount, &body.currency) {
            (None, None) => None,
            (Some(_), None) => return Err(FieldError::new("currency", "is required with amount")),
            (None, Some(_)) => return Err(FieldError::new("amount", "is required with currency")),
            (Some(amount), Some(currency)) => {
                f::amount("amount", amount)?;
                f::currency("currency", currency)?;
                let amount = Amount {
                    total_amount: amount.trim().to_owned(),
                    currency: currency.trim().to_owned(),
                };
                if amount.thousandths().is_none() {
                    return Err(FieldError::new("amount", "is too large"));
                }
                Some(amount)
            }
        };
        Ok(Self { order_id, amount })
    }

    /// What makes a consume the same request again, for its keyed digest.
    fn canonical(&self) -> Value {
        json!({"order_id": self.order_id, "amount": self.amount})
    }
}

/// A consume's keyed digests (HMACs under the session keys, under every key held, so a
/// rotation does not break a retry): of its `Idempotency-Key`, and of the request.
pub struct ConsumeDigests {
    pub key: Option<KeyedValue>,
    pub request: KeyedValue,
}

impl ConsumeDigests {
    pub fn of(
        keys: &GatewayKeys,
        tenant: &str,
        idempotency_key: Option<&str>,
        request: &ConsumeRequest,
    ) -> Self {
        Self {
            key: idempotency_key
                .map(|key| KeyedValue::new(keys.fingerprints("consume-key", tenant, &json!(key)))),
            request: KeyedValue::new(keys.fingerprints(
                "consume-request",
                tenant,
                &request.canonical(),
            )),
        }
    }
}

/// How a session records that it was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumption {
    /// Epoch milliseconds.
    pub consumed_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// The keyed digest of the `Idempotency-Key` it came with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The keyed digest of the request (order id and amount).
    pub request: String,
}

impl Consumption {
    pub fn new(request: &ConsumeRequest, digests: &ConsumeDigests, now_ms: i64) -> Self {
        Self {
            consumed_at: now_ms,
            order_id: request.order_id.clone(),
            amount: request.amount.clone(),
            idempotency_key: digests.key.as_ref().map(|k| k.current().to_owned()),
            request: digests.request.current().to_owned(),
        }
    }
}

/// Why a consume was refused, from the session as the refused write found it.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No such session (of this tenant).
    NotFound,
    /// Not (or not yet) authenticated: failed, expired, canceled, or still pending.
    NotAuthenticated(SessionState),
    /// This very consume, retried under its `Idempotency-Key`: answer it again.
    Repeated,
    /// The key of an earlier consume, with another order id or amount.
    KeyReused,
    /// Used before, by another consume.
    AlreadyConsumed(Consumption),
    /// The amount is in another currency than the one authenticated.
    OtherCurrency { authenticated: Amount },
    /// The amount is above the one authenticated.
    AboveAuthenticated { authenticated: Amount },
    /// The session as read admits the consume its write refused.
    Unexplained,
}

impl Refusal {
    /// Why `request` was refused by `current` (the session as the write found it), at
    /// `now_ms`.
    pub fn of(
        current: Option<&AuthenticationSession>,
        request: &ConsumeRequest,
        digests: &ConsumeDigests,
        now_ms: i64,
    ) -> Self {
        let Some(current) = current else {
            return Refusal::NotFound;
        };
        let state = current.effective_state(now_ms);
        if state != SessionState::Authenticated {
            return Refusal::NotAuthenticated(state);
        }
        if let Some(consumption) = &current.consumption {
            let same_key = match (&digests.key, &consumption.idempotency_key) {
                (Some(ours), Some(theirs)) => ours.matches(theirs),
                _ => false,
            };
            return match (same_key, digests.request.matches(&consumption.request)) {
                (true, true) => Refusal::Repeated,
                (true, false) => Refusal::KeyReused,
                (false, _) => Refusal::AlreadyConsumed(consumption.clone()),
            };
        }
        match (current.authenticated_amount(), &request.amount) {
            (Some(authenticated), Some(asked)) if asked.currency != authenticated.currency => {
                Refusal::OtherCurrency { authenticated }
            }
            (Some(authenticated), Some(asked)) if !authenticated.covers(asked) => {
                Refusal::AboveAuthenticated { authenticated }
            }
            // The session admits this consume now: what refused it has changed since
            // (nothing that can change would have refused it), so it is not explained.
            _ => Refusal::Unexplained,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Check<ConsumeRequest> {
        ConsumeRequest::parse(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn an_amount_comes_with_its_currency_and_each_is_checked() {
        assert_eq!(
            body(json!({})).unwrap(),
            ConsumeRequest {
                order_id: None,
                amount: None
            }
        );
        assert_eq!(body(json!({"amount": "10"})).unwrap_err().field, "currency");
        assert_eq!(
            body(json!({"currency": "USD"})).unwrap_err().field,
            "amount"
        );
        assert_eq!(
            body(json!({"amount": "ten", "currency": "USD"}))
                .unwrap_err()
                .field,
            "amount"
        );
        assert_eq!(
            body(json!({"amount": "10", "currency": "XXY"}))
                .unwrap_err()
                .field,
            "currency"
        );
        assert_eq!(
            body(json!({"order_id": " "})).unwrap_err().field,
            "order_id"
        );
        let parsed = body(json!({"order_id": " o-1 ", "amount": " 10.50", "currency": "USD"}));
        assert_eq!(
            parsed.unwrap(),
            ConsumeRequest {
                order_id: Some("o-1".into()),
                amount: Some(Amount {
                    total_amount: "10.50".into(),
                    currency: "USD".into()
                }),
            }
        );
    }
}
