//! Webhook deliveries, signed as the Standard Webhooks specification says
//! (standardwebhooks.com), so a receiver verifies with the spec's own libraries:
//!
//! * `webhook-id`: the event id, the same on every retry (receivers de-duplicate on it);
//! * `webhook-timestamp`: Unix seconds of this attempt;
//! * `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one
//!   space-separated entry per key of the tenant's webhook, so a key rotation never
//!   breaks a receiver; `webhook-key-id` names the keys in the same order.
//!
//! The endpoint must be https on a public address: its name is resolved here and an
//! answer with a loopback, private or link-local address is refused (no server-side
//! request forgery through DNS), redirects are not followed, and the answer's body is
//! not read beyond its status.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::queue::{DeliveryMessage, Purpose, RetrySchedule};
use super::{Attempt, DeliveryStatus, EventType, Events};
use crate::clock::SharedClock;
use crate::domain::TenantId;
use crate::endpoint::{check_endpoint, may_connect};
use crate::secrets::{Cached, SecretError};
use crate::store::StoreError;
use crate::tenants::{Registry, Webhook};

/// The headers of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub key_ids: String,
}

/// Signs `body` for event `id` at `timestamp` with every key (`(kid, secret bytes)`).
pub fn sign(id: &str, timestamp: i64, body: &str, keys: &[(String, Vec<u8>)]) -> Signed {
    let signed_content = format!("{id}.{timestamp}.{body}");
    let signatures: Vec<String> = keys
        .iter()
        .map(|(_, secret)| {
            let mut mac =
                <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
            mac.update(signed_content.as_bytes());
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect();
    Signed {
        id: id.to_owned(),
        timestamp,
        signature: signatures.join(" "),
        key_ids: keys
            .iter()
            .map(|(kid, _)| kid.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Why a delivery does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("a webhook header is missing")]
    MissingHeader,
    #[error("the timestamp is too old or too new")]
    Timestamp,
    #[error("no signature matches")]
    Signature,
}

/// What a receiver checks (the Rust counterpart of the spec's libraries): one of the
/// `v1,` signatures is the HMAC of `id.timestamp.body` under one of its secrets
/// (`whsec_<base64>`), compared in constant time, and the timestamp is within
/// `tolerance` of `now` (against replays). Then de-duplicate on `id`.
pub fn verify(
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &str,
    secrets: &[&str],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    use subtle::ConstantTimeEq as _;
    let timestamp: i64 = timestamp.parse().map_err(|_| VerifyError::MissingHeader)?;
    if (now - timestamp).unsigned_abs() > tolerance.as_secs() {
        return Err(VerifyError::Timestamp);
    }
    let presented: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect();
    let signed_content = format!("{id}.{timestamp}.{body}");
    for secret in secrets {
        let Some(key) = secret
            .strip_prefix("whsec_")
            .and_then(|b64| STANDARD.decode(b64).ok())
        else {
            continue;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes any key");
        mac.update(signed_content.as_bytes());
        let expected = mac.finalize().into_bytes();
        if presented
            .iter()
            .any(|p| bool::from(p.ct_eq(expected.as_slice())))
        {
            return Ok(());
        }
    }
    Err(VerifyError::Signature)
}

/// Resolves names to public addresses only (unless loopback is allowed, locally).
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| may_connect(a.ip(), allow_loopback))
                .collect();
            if addresses.is_empty() {
                return Err("the endpoint resolves to no public address".into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The endpoint answered 2xx.
    Delivered,
    /// It did not: the next attempt is due after `retry_in`, or none is (the schedule
    /// ran out and the event is `failed`, or this was a redelivery's one attempt).
    Failed { retry_in: Option<Duration> },
    /// Nothing to send: the event is gone, already delivered or failed, or has no
    /// endpoint.
    Nothing,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Sends events to their tenants' endpoints and records each attempt.
pub struct Deliverer {
    http: reqwest::Client,
    events: Events,
    tenants: Arc<Cached<Registry>>,
    clock: SharedClock,
    schedule: RetrySchedule,
    allow_loopback: bool,
}

/// How a [`Deliverer`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// How long an endpoint has to answer (`WEBHOOK_TIMEOUT_MS`): a slow endpoint holds
    /// an invocation no longer than this.
    pub timeout: Duration,
    /// When failed deliveries are tried again.
    pub schedule: RetrySchedule,
    /// Plain http to loopback endpoints (the local stack and the tests only).
    pub allow_loopback: bool,
}

impl Deliverer {
    pub fn new(
        events: Events,
        tenants: Arc<Cached<Registry>>,
        clock: SharedClock,
        settings: DeliverySettings,
    ) -> Self {
        let allow_loopback = settings.allow_loopback;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::upstream_client_config())
            .dns_resolver(Arc::new(PublicOnly { allow_loopback }))
            .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("3ds-gateway-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the webhook client's configuration is static and valid");
        Self {
            http,
            events,
            tenants,
            clock,
            schedule: settings.schedule,
            allow_loopback,
        }
    }

    /// One delivery attempt of the message's event, recorded with it. Which attempt of
    /// the schedule it is comes from the event's own count, not from how often the queue
    /// handed the message out: a throttled or crashed invocation costs no attempt. A
    /// redelivery is one attempt, outside the schedule.
    pub async fn deliver(&self, message: &DeliveryMessage) -> Result<Delivery, DeliveryError> {
        let Some(event) = self.events.get(&message.tenant, &message.event_id).await? else {
            tracing::warn!("a delivery for an event that is not recorded was dropped");
            return Ok(Delivery::Nothing);
        };
        let attempt_number = event.scheduled_attempts + 1;
        let last = attempt_number >= i64::from(self.schedule.attempts());
        if message.purpose == Purpose::Delivery {
            if event.status != DeliveryStatus::Pending {
                return Ok(Delivery::Nothing);
            }
            if attempt_number > i64::from(self.schedule.attempts()) {
                // Its attempts were made, but the failure was not recorded as the end.
                self.events
                    .mark_failed(&message.tenant, &message.event_id)
                    .await?;
                return Ok(Delivery::Nothing);
            }
        }
        let kind = event.event_type;
        let Some(webhook) = self.webhook(&message.tenant, kind).await? else {
            tracing::info!("the tenant has no webhook endpoint now: the event stays listed");
            return Ok(Delivery::Nothing);
        };
        let attempt = self.post(&webhook, &event.event_id, &event.body).await;
        let delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
        let new_status = match (delivered, message.purpose, last) {
            (true, _, _) => DeliveryStatus::Delivered,
            // A redelivery that fails leaves the event where its schedule has it.
            (false, Purpose::Redelivery, _) => event.status,
            (false, Purpose::Delivery, true) => DeliveryStatus::Failed,
            (false, Purpose::Delivery, false) => DeliveryStatus::Pending,
        };
        self.events
            .record_attempt(
                &message.tenant,
                &message.event_id,
                &attempt,
                message.purpose,
                new_status,
            )
            .await?;
        tracing::info!(
            event_type = kind.as_str(),
            status = attempt.status,
            latency_ms = attempt.latency_ms,
            delivered,
            "webhook delivery attempted"
        );
        if delivered {
            return Ok(Delivery::Delivered);
        }
        if new_status == DeliveryStatus::Failed && event.status != DeliveryStatus::Failed {
            crate::telemetry::metrics::delivery_failed();
        }
        let retry_in = match message.purpose {
            Purpose::Delivery => self.schedule.after_attempt(attempt_number as u32),
            Purpose::Redelivery => None,
        };
        Ok(Delivery::Failed { retry_in })
    }

    /// The tenant's webhook for events of `kind`, if it has one with a signing key.
    async fn webhook(
        &self,
        tenant: &TenantId,
        kind: EventType,
    ) -> Result<Option<Webhook>, SecretError> {
        let registry = self.tenants.get().await?;
        Ok(registry.webhook_for(tenant, kind.audience()).cloned())
    }

    async fn post(&self, webhook: &Webhook, event_id: &str, body: &str) -> Attempt {
        let at = self.clock.now_ms();
        let started = Instant::now();
        let failed = |error: &str| Attempt {
            at,
            status: None,
            latency_ms: started.elapsed().as_millis() as u64,
            error: Some(error.to_owned()),
        };
        if check_endpoint(&webhook.url, self.allow_loopback).is_err() {
            return failed("endpoint refused: not https on a public address");
        }
        let signed = sign(event_id, at / 1000, body, &webhook.keys);
        let sent = self
            .http
            .post(webhook.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", &signed.signature)
            .header("webhook-key-id", &signed.key_ids)
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(response) => Attempt {
                at,
                status: Some(response.status().as_u16()),
                latency_ms: started.elapsed().as_millis() as u64,
                error: None,
            },
            Err(e) if e.is_timeout() => failed("timeout"),
            Err(e) if e.is_connect() => failed("unreachable"),
            Err(_) => failed("connection failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's own test vector (its reference libraries'
    /// `test_sign_function`).
    #[test]
    fn signatures_match_the_specifications_test_vector() {
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signed = sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            &[("k1".into(), secret)],
        );
        assert_eq!(
            signed.signature,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(signed.key_ids, "k1");
    }

    #[test]
    fn a_receiver_verifies_what_was_signed_and_nothing_else() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signed = sign("evt_1", 1_000, "{}", &[("k".into(), key)]);
        let tolerance = Duration::from_secs(300);
        let check = |body: &str, secrets: &[&str], now: i64| {
            verify(
                "evt_1",
                "1000",
                &signed.signature,
                body,
                secrets,
                now,
                tolerance,
            )
        };
        assert_eq!(check("{}", &[secret], 1_010), Ok(()));
        assert_eq!(check("{ }", &[secret], 1_010), Err(VerifyError::Signature));
        let other = "whsec_d3Jvbmctd2ViaG9vay1zZWNyZXQtZm9yLXRlc3RzLTAx";
        assert_eq!(check("{}", &[other], 1_010), Err(VerifyError::Signature));
        assert_eq!(
            check("{}", &[other, secret], 1_010),
            Ok(()),
            "either key during a rotation"
        );
        assert_eq!(check("{}", &[secret], 1_400), Err(VerifyError::Timestamp));
    }

    #[test]
    fn every_key_signs_during_a_rotation() {
        let signed = sign(
            "evt_1",
            1,
            "{}",
            &[("new".into(), vec![1; 24]), ("old".into(), vec![2; 24])],
        );
        assert_eq!(signed.signature.split(' ').count(), 2);
        assert_eq!(signed.key_ids, "new old");
    }
}
