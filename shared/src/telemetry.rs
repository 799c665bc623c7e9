//! JSON log lines via `tracing`, one object per line, which CloudWatch (and Lambda's JSON
//! log format, `AWS_LAMBDA_LOG_FORMAT=JSON`) reads as structured fields.
//!
//! Level: `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls) if set, else
//! `RUST_LOG`, else `info`. Each line carries the fields of the current request span —
//! `request_id` (Lambda's), and where known `client_id`, `reference_code`, `card_id`.
//! Nothing sensitive is ever recorded as a field: see the data-protection rules.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

fn filter() -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_ascii_lowercase();
    // Keep the SDKs' chatter out unless asked for explicitly.
    EnvFilter::try_new(format!(
        "{level},aws_smithy_runtime=warn,aws_config=warn,hyper=warn"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the subscriber writing to stdout (Lambda ships stdout to CloudWatch).
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// Installs the subscriber with another writer (tests capture logs to a file). A second
/// call is a no-op.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter())
        .with_writer(writer)
        .try_init();
}

/// Names the session the current request is about, on every later log line of it.
pub fn note_reference(reference_code: &str) {
    tracing::Span::current().record("reference_code", reference_code);
}

/// Names the card the current request is about, on every later log line of it.
pub fn note_card(card_id: &str) {
    tracing::Span::current().record("card_id", card_id);
}
