//! The 3-D Secure gateway's shared library: what the Lambda functions (`functions/*`)
//! have in common. Each function's own routes and flows live in its crate.
//!
//! * the edge: [`http`] (extraction, envelopes, pages, route tables, the Lambda adapter)
//!   and [`error`] (the closed set of error codes and their statuses);
//! * the vocabulary: [`domain`] (validated identifiers and card data);
//! * the upstreams: [`upstream`] (one module per API) over [`outbound`] (the one HTTP
//!   client with its retry policies);
//! * state: [`store`] (conditional writes, DynamoDB and in memory), [`session`] (the
//!   authentication session, its state machine and the claim protocol), [`enrollment`];
//! * the merchant side's shared context and request checks: [`merchant`];
//! * tenants and their secrets: [`tenants`] (the registry), [`secrets`] (Secrets Manager
//!   or local files, cached with a TTL);
//! * plumbing: [`config`], [`crypto`], [`clock`], [`redirect`], [`telemetry`].

pub mod aws;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod enrollment;
pub mod error;
pub mod events;
pub mod http;
pub mod idempotency;
pub mod merchant;
pub mod outbound;
pub mod platform;
pub mod redirect;
pub mod secrets;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod tls;
pub mod upstream;
