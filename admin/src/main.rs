//! The admin command: parses its arguments and runs them (`admin::run`) at the current
//! time.

use clap::Parser as _;

#[tokio::main]
async fn main() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    if let Err(error) = admin::run(admin::Cli::parse(), now).await {
        eprintln!("admin: {error}");
        std::process::exit(1)
    }
}
