//! Webhooks as a tenant sees them: a receiver on loopback, and the notify function driven
//! in process on the in-process queue, as Lambda's event sources would drive it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use gateway::events::{Events, RecordedEvent};
use gateway_loopback::queue::MemoryQueue;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::{
    Backend, Clock, Harness, MERCHANT, SandboxConfig, default_backend, tenant_id, test_registry,
};

/// A tenant's recorded events, newest first.
pub async fn events_of(h: &Harness, tenant: &str) -> Vec<RecordedEvent> {
    Events::new(h.store.clone())
        .page(&tenant_id(tenant), None, None, 100, h.clock.now_ms())
        .await
        .unwrap()
        .expect("no cursor")
        .events
}

/// shop-a's webhook secret (Standard Webhooks form: 32 random bytes, base64).
pub const WEBHOOK_SECRET: &str = "whsec_c2hvcC1hLXdlYmhvb2stc2VjcmV0LWZvci10ZXN0cy0wMQ==";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

type ReceiverState = (Arc<Mutex<Vec<Received>>>, Arc<AtomicUsize>, Arc<AtomicBool>);

/// A merchant's webhook endpoint on loopback: answers 500 to its first `fail_first`
/// requests (or to all), then 200 — or, hanging, never answers at all.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<AtomicUsize>,
    hanging: Arc<AtomicBool>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let fail_first = Arc::new(AtomicUsize::new(fail_first));
        let hanging = Arc::new(AtomicBool::new(false));
        let state = (received.clone(), fail_first.clone(), hanging.clone());
        let app = axum::Router::new()
            .route(
                "/hooks",
                axum::routing::post(
                    |State((received, fail_first, hanging)): State<ReceiverState>,
                     headers: HeaderMap,
                     body: String| async move {
                        let headers = headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        received.lock().unwrap().push(Received { headers, body });
                        if hanging.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        let failing = fail_first
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        if failing {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        }
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url,
            received,
            fail_first,
            hanging,
        }
    }

    /// From now on, takes every request and never answers.
    pub fn hang(&self) {
        self.hanging.store(true, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn fail_always(&self) {
        self.fail_first.store(usize::MAX, Ordering::SeqCst);
    }
}

/// The test registry with shop-a's webhook pointing at `receiver`.
pub fn registry_with_webhook(receiver: &Receiver) -> Value {
    registry_with_webhooks(&[(MERCHANT, receiver)])
}

/// The test registry with each tenant's webhook (a merchant's, or a card program's)
/// pointing at its receiver.
pub fn registry_with_webhooks(receivers: &[(&str, &Receiver)]) -> Value {
    let mut registry = test_registry();
    for tenant in registry["tenants"].as_array_mut().unwrap() {
        for (id, receiver) in receivers {
            if tenant["id"] == *id {
                let side = if tenant.get("merchant").is_some() {
                    "merchant"
                } else {
                    "issuer"
                };
                tenant[side]["webhook"] = json!({
                    "url": receiver.url,
                    "keys": [{"kid": "wh-1", "secret": WEBHOOK_SECRET}],
                });
            }
        }
    }
    registry
}

/// A gateway with shop-a's webhook on a loopback receiver, and the notify function on an
/// in-process queue with the retry schedule `schedule` (seconds).
pub struct Notifying {
    pub h: Harness,
    pub receiver: Receiver,
    pub app: notify::NotifyApp,
    pub queue: Arc<MemoryQueue>,
}

impl Notifying {
    pub async fn start(fail_first: usize, schedule: &str) -> Self {
        let receiver = Receiver::start(fail_first).await;
        Self::with(&[(MERCHANT, &receiver)], schedule, &[]).await
    }

    /// Each merchant's webhook on its receiver (the first is [`Notifying::receiver`]),
    /// with settings of `env` besides.
    pub async fn with(
        receivers: &[(&str, &Receiver)],
        schedule: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::on(default_backend(), receivers, schedule, env).await
    }

    /// As [`Notifying::with`], on the store `backend`.
    pub async fn on(
        backend: Backend,
        receivers: &[(&str, &Receiver)],
        schedule: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let receiver = receivers[0].1.clone();
        let mut settings = vec![
            ("ALLOW_INSECURE_LOOPBACK_URLS", "true"),
            ("DELIVERY_QUEUE_URL", "memory"),
            (
                "DELIVERY_DEAD_LETTER_QUEUE_ARN",
                gateway_loopback::queue::MemoryQueue::DEAD_LETTER_ARN,
            ),
            ("WEBHOOK_RETRY_SCHEDULE_SECS", schedule),
            // The first sweep looks back a quarter hour, not two: 64 shards a minute
            // are a query each, and moto_server answers one at a time.
            ("SWEEP_MINUTES_PER_RUN", "15"),
        ];
        settings.extend_from_slice(env);
        let h = Harness::with(backend, SandboxConfig::default(), &settings).await;
        h.set_registry(&registry_with_webhooks(receivers));
        let config = notify::NotifyConfig::from_env(&h.config_env()).unwrap();
        let queue = Arc::new(MemoryQueue::new(
            h.clock(),
            config.retry_schedule.max_receive_count(),
        ));
        let app = notify::build(&config, &h.platform(), queue.clone())
            .await
            .unwrap();
        Self {
            h,
            receiver,
            app,
            queue,
        }
    }

    /// A frictionless authentication of the merchant of `key`, then 10 ms later.
    pub async fn frictionless(&self, merchant: &axum::Router, key: &str, reference: &str) {
        let origin = if key == crate::MERCHANT_KEY {
            crate::MERCHANT_ORIGIN
        } else {
            crate::OTHER_MERCHANT_ORIGIN
        };
        let body =
            crate::prepared_enroll_as(merchant, key, origin, reference, "4000000000002701").await;
        let answer = crate::send(merchant, crate::post_json(crate::ENROLL, Some(key), &body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        self.h.clock.advance(Duration::from_millis(10));
    }

    /// Reads the change stream into events. Returns how many were recorded.
    pub async fn notice_changes(&self) -> usize {
        gateway_loopback::background::notice_changes(&self.app, &*self.h.feed).await
    }

    /// Makes the deliveries due now, as SQS's event source would hand them to the
    /// function; each failure waits its scheduled delay.
    pub async fn deliver_due(&self) -> usize {
        let mut made = 0;
        loop {
            let batch = gateway_loopback::background::deliver_memory(&self.app, &self.queue).await;
            if batch == 0 {
                return made;
            }
            made += batch;
        }
    }

    /// Notices the changes, then delivers until nothing is due within `horizon`,
    /// moving the clock through the retry delays.
    pub async fn run_for(&self, horizon: Duration) {
        self.notice_changes().await;
        let end = self.h.clock.now_ms() + horizon.as_millis() as i64;
        while self.h.clock.now_ms() <= end {
            self.deliver_due().await;
            self.notice_changes().await;
            self.h.clock.advance(Duration::from_secs(1));
        }
    }

    /// A tenant's recorded events, newest first, decoded by their own module.
    pub async fn events_of(&self, tenant: &str) -> Vec<RecordedEvent> {
        events_of(&self.h, tenant).await
    }

    /// The whole gateway, queuing redeliveries on this gateway's queue.
    pub async fn api(&self) -> axum::Router {
        let platform = gateway::platform::Platform {
            deliveries: Some(self.queue.clone()),
            ..self.h.platform()
        };
        self.h.api_on(&platform).await
    }
}

/// Asks the Standard Webhooks reference library (PyPI `standardwebhooks`) whether it
/// accepts a delivery with `secret`. `None` where the library is not installed (plain
/// `cargo test`; the test command installs it).
pub fn library_accepts(delivery: &Received, secret: &str) -> Option<bool> {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify_webhook.py");
    let check = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .ok()?;
    if !check.status.success() {
        eprintln!(
            "skipped: the standardwebhooks library is not installed (scripts/test.sh installs it)"
        );
        return None;
    }
    let mut child = std::process::Command::new(python)
        .arg(script)
        .arg(secret)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            json!({"headers": delivery.headers, "body": delivery.body})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    Some(child.wait_with_output().unwrap().status.success())
}
