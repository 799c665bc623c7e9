//! The 3-D Secure gateway's shared library: everything the three Lambda functions do,
//! reachable by tests without Lambda.

pub mod api;
pub mod callback;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod enrollment;
pub mod http_client;
pub mod issuer;
pub mod merchant;
pub mod pages;
pub mod redirect;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod validation;
