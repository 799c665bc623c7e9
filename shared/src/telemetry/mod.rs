//! JSON log lines via `tracing`, one object per line, which CloudWatch (and Lambda's JSON
//! log format, `AWS_LAMBDA_LOG_FORMAT=JSON`) reads as structured fields.
//!
//! Level: `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls) if set, else
//! `RUST_LOG`, else `info`. Each line carries the fields of the current request span —
//! `request_id` (Lambda's), and where known `tenant`, `reference_code`, `card_id`.
//! Nothing sensitive is ever recorded as a field: see the data-protection rules.
//!
//! The level applies to the gateway's own code only. Every dependency is held at `warn`
//! whatever level is asked for: at `trace`, `lambda_runtime` logs each raw event (API
//! keys, card numbers, security answers), and the HTTP, TLS and AWS SDK crates log
//! headers and bodies at `debug`/`trace`. A directive string in `RUST_LOG` is read for its
//! level only, so it cannot turn one of them back on.

pub mod metrics;

use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The gateway's own crates: the only targets that log below `warn`.
const OWN_TARGETS: &[&str] = &[
    "gateway",
    "enroll",
    "check_enroll",
    "callback",
    "notify",
    "gateway_local",
    "local",
    "admin",
];

/// The level asked for: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
fn requested_level() -> LevelFilter {
    std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .map(|raw| level_of(&raw))
        .unwrap_or(LevelFilter::INFO)
}

/// The level of a level name or of a directive string (its most verbose plain level; a
/// per-target directive counts only for its level).
fn level_of(raw: &str) -> LevelFilter {
    raw.split(',')
        .filter_map(|directive| {
            let level = directive.rsplit('=').next()?.trim();
            level.parse::<LevelFilter>().ok()
        })
        .max()
        .unwrap_or(LevelFilter::INFO)
}

pub(crate) fn filter_for(level: LevelFilter) -> EnvFilter {
    let mut directives = vec![LevelFilter::WARN.min(level).to_string()];
    directives.extend(OWN_TARGETS.iter().map(|target| format!("{target}={level}")));
    EnvFilter::new(directives.join(","))
}

fn filter() -> EnvFilter {
    filter_for(requested_level())
}

/// Installs the subscriber writing to stdout (Lambda ships stdout to CloudWatch), and
/// the metric lines beside it.
pub fn init() {
    metrics::set_sink(metrics::stdout_sink());
    install(std::io::stdout);
}

/// Installs the subscriber with another writer (tests capture logs to a file); metric
/// lines go to the same writer. A second call is a no-op.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let writer = Arc::new(writer);
    let for_metrics = writer.clone();
    metrics::set_sink(Arc::new(move |line: &[u8]| {
        use std::io::Write as _;
        let _ = for_metrics.make_writer().write_all(line);
    }));
    install(SharedWriter(writer));
}

/// One writer for the logs and the metrics.
struct SharedWriter<W>(Arc<W>);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for SharedWriter<W> {
    type Writer = W::Writer;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }
}

fn install<W>(writer: W)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_stay_at_warn_whatever_level_is_asked_for() {
        for asked in [
            "TRACE",
            "trace",
            "debug,lambda_runtime=trace",
            "lambda_runtime=trace",
        ] {
            let level = level_of(asked);
            let filter = filter_for(level).to_string();
            let directives: Vec<&str> = filter.split(',').collect();
            assert!(directives.contains(&"warn"), "{asked}: {filter}");
            assert!(!filter.contains("lambda_runtime"), "{asked}: {filter}");
            assert!(directives.contains(&"gateway=trace"), "{asked}: {filter}");
        }
        let quiet = filter_for(level_of("error")).to_string();
        assert!(quiet.split(',').any(|d| d == "error"), "{quiet}");
        assert_eq!(level_of("not a level"), LevelFilter::INFO);
    }
}
