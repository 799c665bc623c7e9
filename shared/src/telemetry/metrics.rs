//! CloudWatch metrics as embedded-metric-format (EMF) log lines: one JSON object per
//! metric, with its `_aws` directive, written beside the logs; CloudWatch Logs extracts
//! the metric, no API call and no agent needed. Dimensions are few and closed (flow,
//! outcome, upstream, operation, status class), so the metric count stays bounded
//! whatever the traffic; never a tenant's data, a card or a reference code.

use std::io::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The namespace of every metric of the gateway.
pub const NAMESPACE: &str = "ThreeDSGateway";

/// Where metric lines go: the log writer (stdout on Lambda).
type Sink = Arc<dyn Fn(&[u8]) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends metric lines to `sink` (done by [`super::init_with_writer`]); like the log
/// subscriber, the first one installed stays.
pub(crate) fn set_sink(sink: Sink) {
    let _ = SINK.set(sink);
}

pub use crate::domain::Flow;

/// One metric with its dimensions, aggregated by all of them.
fn emit(name: &str, unit: &str, value: f64, dimensions: &[(&str, &str)]) {
    let all: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    emit_by(name, unit, value, dimensions, &[&all]);
}

/// One metric, aggregated by each of `sets` (subsets of `dimensions`' names): an alarm
/// needs a metric by fewer dimensions than a dashboard shows.
fn emit_by(name: &str, unit: &str, value: f64, dimensions: &[(&str, &str)], sets: &[&[&str]]) {
    #[cfg(feature = "test-support")]
    let capturing = CAPTURED.try_with(|_| ()).is_ok();
    #[cfg(not(feature = "test-support"))]
    let capturing = false;
    let sink = SINK.get();
    if sink.is_none() && !capturing {
        return;
    }
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        }),
    );
    for (key, value) in dimensions {
        line.insert((*key).into(), Value::String((*value).into()));
    }
    line.insert(name.into(), json!(value));
    #[cfg(feature = "test-support")]
    let _ = CAPTURED.try_with(|captured| captured.borrow_mut().push(Value::Object(line.clone())));
    if let Some(sink) = sink {
        let mut bytes = serde_json::to_vec(&Value::Object(line)).expect("a metric serializes");
        bytes.push(b'\n');
        sink(&bytes);
    }
}

#[cfg(feature = "test-support")]
tokio::task_local! {
    /// The metric lines of one test's task (see [`captured`]).
    static CAPTURED: std::cell::RefCell<Vec<Value>>;
}

/// Runs `work` and returns the metric lines it emitted — its own, whatever other tests
/// of the same process emit meanwhile (the lines are kept per task).
#[cfg(feature = "test-support")]
pub async fn captured<F: std::future::Future>(work: F) -> (F::Output, Vec<Value>) {
    CAPTURED
        .scope(std::cell::RefCell::new(Vec::new()), async {
            let output = work.await;
            (output, CAPTURED.with(|captured| captured.take()))
        })
        .await
}

/// An authentication reached a final state: `outcome` is `authenticated`, `failed`,
/// `expired` or `canceled`.
pub fn authentication(flow: Flow, outcome: &str) {
    emit(
        "Authentications",
        "Count",
        1.0,
        &[("Flow", flow.as_str()), ("Outcome", outcome)],
    );
}

/// One upstream call (retries included) and how it ended: `status` is the HTTP status
/// class (`2xx`, `4xx`, `5xx`) or `timeout` / `unreachable`.
pub fn upstream_call(upstream: &str, operation: &str, status: &str, latency: Duration) {
    let dimensions = [("Upstream", upstream), ("Operation", operation)];
    emit(
        "UpstreamLatency",
        "Milliseconds",
        // Whole microseconds: a float's long tail of digits is noise (and looks like a
        // card number to a log scan).
        latency.as_micros() as f64 / 1000.0,
        &dimensions,
    );
    // 0 or 1 per call: its average by upstream is the error rate an alarm watches.
    let failed = !matches!(status, "2xx" | "4xx");
    emit_by(
        "UpstreamErrors",
        "Count",
        if failed { 1.0 } else { 0.0 },
        &[("Upstream", upstream), ("Status", status)],
        &[&["Upstream", "Status"], &["Upstream"]],
    );
}

/// A request met a claim held by another (a concurrent duplicate or a race).
pub fn claim_conflict(operation: &str) {
    emit("ClaimConflicts", "Count", 1.0, &[("Operation", operation)]);
}

/// A request was answered from the stored answer (an idempotent replay).
pub fn replay(operation: &str) {
    emit("Replays", "Count", 1.0, &[("Operation", operation)]);
}

/// A function instance read a key set holding these key ids (`data:<kids>;mac:<kids>`,
/// ids only): a promotion waits until every instance reports the new ones.
pub fn key_ids_held(key_ids: &str) {
    emit("KeyIdsHeld", "Count", 1.0, &[("KeyIds", key_ids)]);
}

/// A webhook event's deliveries ended without one getting through (its schedule ran
/// out, or its message was dead-lettered): the alarm on it pages the operator.
pub fn delivery_failed() {
    emit("WebhookDeliveriesFailed", "Count", 1.0, &[]);
}

/// One sweeper run: what it expired and skipped, and how far behind its cursor is (the
/// alarm on the lag says the sweeper is not keeping up).
pub fn sweep(expired: usize, skipped: usize, failed: usize, lag_minutes: i64) {
    emit("SweptChallenges", "Count", expired as f64, &[]);
    emit("SweepSkippedEntries", "Count", skipped as f64, &[]);
    emit("SweepFailures", "Count", failed as f64, &[]);
    emit("SweepLagMinutes", "Count", lag_minutes as f64, &[]);
}

/// A bulk enrollment job's item finished: `outcome` is `enrolled`, `reconciled`,
/// `failed` or `retried` (a fault: its chunk comes again).
pub fn job_item(outcome: &str) {
    emit("JobItems", "Count", 1.0, &[("Outcome", outcome)]);
}

/// How long a job's chunk waited on the queue before a worker took it (the alarm on a
/// stuck job watches it with the queue's oldest message).
pub fn job_chunk_wait(wait: Duration) {
    emit("JobChunkWaitSeconds", "Seconds", wait.as_secs() as f64, &[]);
}

/// Writes lines to stdout (Lambda ships it to CloudWatch Logs).
pub(crate) fn stdout_sink() -> Sink {
    Arc::new(|line: &[u8]| {
        let _ = std::io::stdout().lock().write_all(line);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_metric_line_is_embedded_metric_format() {
        let lines: Arc<Mutex<Vec<u8>>> = Arc::default();
        let captured = lines.clone();
        set_sink(Arc::new(move |line: &[u8]| {
            captured.lock().unwrap().extend_from_slice(line)
        }));
        authentication(Flow::Challenge, "authenticated");
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        // The sink is the process's: other tests of this process may write lines of
        // their own metrics meanwhile.
        let line: Value = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .find(|line| line.get("Authentications").is_some())
            .expect("the authentication's metric line");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Flow", "Outcome"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Authentications", "Unit": "Count"}])
        );
        assert!(line["_aws"]["Timestamp"].as_u64().unwrap() > 0);
        assert_eq!(line["Flow"], "challenge");
        assert_eq!(line["Outcome"], "authenticated");
        assert_eq!(line["Authentications"], 1.0);
    }
}
