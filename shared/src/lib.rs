//! The 3-D Secure gateway's shared library: what the Lambda functions (`functions/*`)
//! have in common. Each function's own routes and flows live in its crate.
//!
//! * the edge: [`http`] (extraction, envelopes, pages, route tables, the Lambda adapter)
//!   and [`error`] (the closed set of error codes and their statuses);
//! * the vocabulary: [`domain`] (validated identifiers and card data);
//! * the upstreams: [`upstream`] (one module per API) over [`outbound`] (the one HTTP
//!   client with its retry policies);
//! * state: [`store`] (conditional writes, DynamoDB and in memory; each kind of record,
//!   key and index format declared once), [`lease`] (the one protocol for work that must
//!   happen once), [`session`] (the authentication session, its state machine, its claims
//!   and the one view of its outcome), [`enrollment`], [`idempotency`], [`events`];
//! * the merchant side's shared context and request checks: [`merchant`];
//! * tenants, keys and secrets: [`tenants`] (the registry), [`keys`] (the gateway's own key
//!   sets), [`secrets`] (Secrets Manager, cached with a TTL);
//! * where the gateway may send the browser and its own requests: [`redirect`] (return
//!   URLs, signed redirects), [`endpoint`] (webhook addresses);
//! * plumbing: [`config`], [`crypto`], [`clock`], [`platform`], [`telemetry`], [`tls`].
//!
//! What stands in for AWS off it (the change-stream poller, table creation, in-process
//! queues, local secrets) lives in the `gateway-loopback` crate, which no Lambda links.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod endpoint;
pub mod enrollment;
pub mod error;
pub mod events;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod keys;
pub mod lease;
pub mod merchant;
pub mod objects;
pub mod outbound;
pub mod platform;
pub mod queue;
pub mod redirect;
pub mod secrets;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod tls;
pub mod upstream;
