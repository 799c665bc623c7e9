//! The upstream HTTP client, built once per cold start and shared by every upstream module,
//! with the retry policy that makes upstream calls safe to repeat. (Webhook deliveries,
//! which go to tenants' own endpoints, have a client of their own in
//! `events::webhooks`: other timeouts, no retries of its own, and a resolver that refuses
//! private addresses.)

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, StatusCode};

use crate::config::HttpSettings;
use crate::telemetry::metrics;

/// Which upstream a call goes to; shown in errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    CardIssuance,
    PayerAuth,
}

impl Upstream {
    /// The name in metrics.
    pub fn metric_name(self) -> &'static str {
        match self {
            Upstream::CardIssuance => "card-issuance",
            Upstream::PayerAuth => "payer-auth",
        }
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Upstream::CardIssuance => "card-issuance API",
            Upstream::PayerAuth => "payer-authentication API",
        })
    }
}

/// When a failed attempt may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryPolicy {
    /// Safe to repeat even if the upstream processed it (reads, and writes whose repeat
    /// is detected and reconciled): retried on timeouts, dropped connections, 5xx and 429.
    Idempotent,
    /// Must not run twice: retried only when the upstream provably did not process it —
    /// the connection was refused, or a 429 (documented as "further calls are dropped").
    /// Not a 503: a proxy can answer 503 after the backend acted, and neither upstream
    /// documents its 503 as "not processed".
    NotIfProcessed,
}

/// A final HTTP answer (2xx or not) from the upstream.
#[derive(Debug)]
pub(crate) struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An upstream's final answer, read the way every upstream here is: a refusal (4xx, with
/// whatever JSON body it has) or an answer (2xx with a JSON object). A 5xx, and anything
/// else, is a failure: nothing was decided.
pub(crate) enum JsonAnswer {
    Refused {
        status: u16,
        body: Option<serde_json::Value>,
    },
    Answered {
        body: serde_json::Value,
    },
}

impl UpstreamResponse {
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    pub(crate) fn json(&self, upstream: Upstream) -> Result<JsonAnswer, UpstreamError> {
        let status = self.status.as_u16();
        if self.status.is_server_error() {
            return Err(UpstreamError::ServerError { upstream, status });
        }
        let body: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        if self.status.is_client_error() {
            return Ok(JsonAnswer::Refused { status, body });
        }
        match body.filter(serde_json::Value::is_object) {
            Some(body) if self.status.is_success() => Ok(JsonAnswer::Answered { body }),
            _ => Err(UpstreamError::Malformed { upstream, status }),
        }
    }
}

/// Transport-level and server-side failures; each maps to 502/504 for our caller.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UpstreamError {
    #[error("the {upstream} did not answer in time")]
    Timeout { upstream: Upstream },
    #[error("the {upstream} could not be reached")]
    Unreachable { upstream: Upstream },
    #[error("the {upstream} closed the connection without answering")]
    ConnectionDropped { upstream: Upstream },
    #[error("the {upstream} answered HTTP {status} with a body that is not its documented JSON")]
    Malformed { upstream: Upstream, status: u16 },
    #[error("the {upstream} failed with HTTP {status}")]
    ServerError { upstream: Upstream, status: u16 },
}

impl UpstreamError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, UpstreamError::Timeout { .. })
    }

    /// Whether the upstream may have acted on the request: anything but a connection
    /// that was never made (a timeout, a dropped connection, a 5xx or an unreadable
    /// answer may all come after the upstream did what was asked).
    pub fn may_have_landed(&self) -> bool {
        !matches!(self, UpstreamError::Unreachable { .. })
    }
}

/// A client-side ceiling on request rate, so bursts (bulk enrollment) stay under an
/// upstream's documented limit instead of discovering it through 429s.
pub(crate) struct RequestRateLimit(DefaultDirectRateLimiter);

impl RequestRateLimit {
    /// At most `per_10s` requests in any 10-second window: a bucket of `burst` requests
    /// (taken at once by an idle instance) refilled at `per_10s - burst` per 10 s, so a
    /// window holds at most the burst and its refill — `per_10s` — and the fleet at most
    /// this × its instances (`docs/capacity.md`).
    pub(crate) fn per_10_seconds(per_10s: u32, burst: u32) -> Self {
        let burst = burst.clamp(1, per_10s.saturating_sub(1).max(1));
        let refill = per_10s.saturating_sub(burst).max(1);
        let period = Duration::from_micros(10_000_000 / u64::from(refill));
        let quota = Quota::with_period(period)
            .expect("a refill period is never zero")
            .allow_burst(NonZeroU32::new(burst).expect("non-zero"));
        Self(RateLimiter::direct(quota))
    }

    pub async fn wait(&self) {
        self.0.until_ready().await;
    }
}

/// The largest upstream response body read; a larger one is malformed (no 3DS answer is
/// near it, and a runaway body must not exhaust the function's memory mid-claim).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One outbound call's description.
pub(crate) struct Call<'a> {
    pub upstream: Upstream,
    /// Short operation name for logs (`enroll`, `validate`, ...).
    pub operation: &'static str,
    pub policy: RetryPolicy,
    pub rate_limit: Option<&'a RequestRateLimit>,
    /// When the whole call must be over, if earlier than the call budget allows (a claim's
    /// lease, a batch's deadline).
    pub deadline: Option<Instant>,
}

/// The shared client: one connection pool, timeouts and retry budget from configuration.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
}

enum Attempt {
    Answered(StatusCode, HeaderMap, Bytes),
    Failed {
        error: UpstreamError,
        may_have_landed: bool,
    },
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Self {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::upstream_client_config())
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!("3ds-gateway/", env!("CARGO_PKG_VERSION")))
            // Upstream errors must never be followed to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client's TLS configuration is static and valid");
        Self { client, settings }
    }

    /// Sends the request built by `build`, retrying per `call.policy` within the
    /// configured attempts and [`HttpSettings::call_budget`] (or the call's earlier
    /// deadline). Waiting for the rate limit counts against it too. Returns the final
    /// HTTP answer whatever its status, or the transport failure of the last attempt.
    pub(crate) async fn send(
        &self,
        call: Call<'_>,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let (upstream, operation) = (call.upstream, call.operation);
        let started = Instant::now();
        let outcome = self.send_with_retries(call, build).await;
        let status = match &outcome {
            Ok(response) if response.status == StatusCode::TOO_MANY_REQUESTS => "429",
            Ok(response) if response.status.is_success() => "2xx",
            Ok(response) if response.status.is_client_error() => "4xx",
            Ok(_) => "5xx",
            Err(UpstreamError::Timeout { .. }) => "timeout",
            Err(UpstreamError::Unreachable { .. } | UpstreamError::ConnectionDropped { .. }) => {
                "unreachable"
            }
            Err(UpstreamError::Malformed { .. } | UpstreamError::ServerError { .. }) => "5xx",
        };
        metrics::upstream_call(upstream.metric_name(), operation, status, started.elapsed());
        outcome
    }

    async fn send_with_retries(
        &self,
        call: Call<'_>,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let started = Instant::now();
        let end = call
            .deadline
            .map_or(started + self.settings.call_budget(), |deadline| {
                deadline.min(started + self.settings.call_budget())
            });
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(limit) = call.rate_limit
                && tokio::time::timeout_at(end.into(), limit.wait())
                    .await
                    .is_err()
            {
                // Nothing was sent: our own ceiling held the call until its time ran out.
                return Err(UpstreamError::Timeout {
                    upstream: call.upstream,
                });
            }
            let time_left = end.saturating_duration_since(Instant::now());
            let outcome = self
                .attempt(call.upstream, build(&self.client), time_left)
                .await;
            let retry_delay = match &outcome {
                Attempt::Answered(status, headers, _) => {
                    self.retry_delay_for_status(call.policy, *status, headers, attempt)
                }
                Attempt::Failed {
                    may_have_landed, ..
                } => {
                    let retryable = match call.policy {
                        RetryPolicy::Idempotent => true,
                        RetryPolicy::NotIfProcessed => !may_have_landed,
                    };
                    retryable.then(|| self.backoff(attempt))
                }
            };
            let last = attempt >= self.settings.max_attempts;
            // The budget bounds the whole call: a retry starts only if it can run to its
            // own timeout within it (callers size their leases on this bound).
            let delay = retry_delay
                .filter(|d| !last && Instant::now() + *d + self.settings.request_timeout <= end);
            match (outcome, delay) {
                (Attempt::Answered(status, headers, body), None) => {
                    return Ok(UpstreamResponse {
                        status,
                        headers,
                        body,
                    });
                }
                (Attempt::Failed { error, .. }, None) => {
                    tracing::warn!(upstream = %call.upstream, operation = call.operation, attempts = attempt, error = %error, "upstream call failed");
                    return Err(error);
                }
                (Attempt::Answered(status, ..), Some(delay)) => {
                    tracing::warn!(upstream = %call.upstream, operation = call.operation, attempt, status = status.as_u16(), delay_ms = delay.as_millis() as u64, "retrying upstream call");
                    tokio::time::sleep(delay).await;
                }
                (Attempt::Failed { error, .. }, Some(delay)) => {
                    tracing::warn!(upstream = %call.upstream, operation = call.operation, attempt, error = %error, delay_ms = delay.as_millis() as u64, "retrying upstream call");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One attempt, within `time_left` (and never longer than the per-attempt timeout).
    async fn attempt(
        &self,
        upstream: Upstream,
        request: reqwest::RequestBuilder,
        time_left: Duration,
    ) -> Attempt {
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Some((status, headers, Bytes::from(body))))
        };
        let timeout = self.settings.request_timeout.min(time_left);
        let malformed = |status: StatusCode| Attempt::Failed {
            error: UpstreamError::Malformed {
                upstream,
                status: status.as_u16(),
            },
            may_have_landed: true,
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(None)) => {
                tracing::warn!(%upstream, "an upstream answer over the size limit was dropped");
                malformed(StatusCode::OK)
            }
            // Every upstream here is a JSON API: a 2xx that is not JSON (a proxy's error
            // page, a truncated body) is a failed attempt, not an answer.
            Ok(Ok(Some((status, _, body))))
                if status.is_success()
                    && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() =>
            {
                malformed(status)
            }
            Ok(Ok(Some((status, headers, body)))) => Attempt::Answered(status, headers, body),
            Err(_) => Attempt::Failed {
                error: UpstreamError::Timeout { upstream },
                may_have_landed: true,
            },
            Ok(Err(e)) if e.is_connect() => Attempt::Failed {
                // The TCP/TLS connection never came up: nothing was sent.
                error: UpstreamError::Unreachable { upstream },
                may_have_landed: false,
            },
            Ok(Err(e)) if e.is_timeout() => Attempt::Failed {
                error: UpstreamError::Timeout { upstream },
                may_have_landed: true,
            },
            Ok(Err(_)) => Attempt::Failed {
                error: UpstreamError::ConnectionDropped { upstream },
                may_have_landed: true,
            },
        }
    }

    fn retry_delay_for_status(
        &self,
        policy: RetryPolicy,
        status: StatusCode,
        headers: &HeaderMap,
        attempt: u32,
    ) -> Option<Duration> {
        // A 429 is documented as dropped; anything else may have been acted on.
        let rejected_unprocessed = status == StatusCode::TOO_MANY_REQUESTS;
        let retryable =
            rejected_unprocessed || (policy == RetryPolicy::Idempotent && status.is_server_error());
        if !retryable {
            return None;
        }
        match retry_after(headers) {
            // The upstream asked for longer than we are willing to hold our caller:
            // give the caller the 429 (with its Retry-After) instead.
            Some(wait) if wait > self.settings.max_retry_after => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(attempt)),
        }
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.settings.max_retry_after;
        let exp = self
            .settings
            .retry_base_delay
            .saturating_mul(1 << (attempt - 1).min(10))
            .min(cap);
        Duration::from_millis(fastrand::u64(0..=exp.as_millis() as u64))
    }
}

/// `base` (which may carry a path prefix) joined with an absolute `path`.
pub(crate) fn join_url(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    let base_path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base_path}{path}"));
    url
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let delta = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(delta.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> HttpSettings {
        HttpSettings {
            connect_timeout: Duration::from_millis(200),
            request_timeout: Duration::from_millis(300),
            max_attempts: 3,
            retry_base_delay: Duration::from_millis(10),
            max_retry_after: Duration::from_millis(2_000),
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn which_statuses_are_retried() {
        let client = HttpClient::new(settings());
        let none = HeaderMap::new();
        let s = |code: u16| StatusCode::from_u16(code).unwrap();
        for policy in [RetryPolicy::Idempotent, RetryPolicy::NotIfProcessed] {
            assert!(
                client
                    .retry_delay_for_status(policy, s(429), &none, 1)
                    .is_some()
            );
            assert!(
                client
                    .retry_delay_for_status(policy, s(409), &none, 1)
                    .is_none()
            );
            assert!(
                client
                    .retry_delay_for_status(policy, s(200), &none, 1)
                    .is_none()
            );
        }
        assert!(
            client
                .retry_delay_for_status(RetryPolicy::Idempotent, s(500), &none, 1)
                .is_some()
        );
        assert!(
            client
                .retry_delay_for_status(RetryPolicy::Idempotent, s(503), &none, 1)
                .is_some()
        );
        for unprocessed_unproven in [500, 502, 503] {
            assert!(
                client
                    .retry_delay_for_status(
                        RetryPolicy::NotIfProcessed,
                        s(unprocessed_unproven),
                        &none,
                        1
                    )
                    .is_none(),
                "a {unprocessed_unproven} may come after the upstream acted"
            );
        }
        let mut long = HeaderMap::new();
        long.insert(http::header::RETRY_AFTER, "60".parse().unwrap());
        assert!(
            client
                .retry_delay_for_status(RetryPolicy::Idempotent, s(429), &long, 1)
                .is_none()
        );
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let client = HttpClient::new(settings());
        for attempt in 1..20 {
            assert!(client.backoff(attempt) <= Duration::from_millis(2_000));
        }
    }
}
