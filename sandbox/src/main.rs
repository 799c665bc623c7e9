//! `sandbox [--listen 127.0.0.1:3100] [--public-url URL] [--deterministic-ids]
//! [--bulk-cards N] [--issuance-requests-per-10s N]`: the upstream simulator as its own
//! process (more cards and a higher limit for a bulk job's benchmark).

use std::net::SocketAddr;

use sandbox::{Sandbox, SandboxConfig};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .init();
    let mut listen: SocketAddr = ([127, 0, 0, 1], 3100).into();
    let mut config = SandboxConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                listen = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--listen HOST:PORT")
            }
            "--public-url" => config.public_base_url = Some(args.next().expect("--public-url URL")),
            "--deterministic-ids" => config.deterministic_ids = true,
            "--bulk-cards" => {
                config.bulk_cards = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--bulk-cards N")
            }
            "--issuance-requests-per-10s" => {
                config.issuance_requests_per_10s = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--issuance-requests-per-10s N")
            }
            _ => {
                eprintln!(
                    "usage: sandbox [--listen HOST:PORT] [--public-url URL] [--deterministic-ids] [--bulk-cards N] [--issuance-requests-per-10s N]"
                );
                std::process::exit(2);
            }
        }
    }
    let sandbox = Sandbox::start(config, listen)
        .await
        .expect("bind the listen address");
    tracing::info!(url = %sandbox.base_url, "sandbox listening");
    let _ = tokio::signal::ctrl_c().await;
}
