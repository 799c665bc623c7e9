//! Workspace integration tests: `cargo test` runs them on the in-memory store; the test
//! command (`scripts/test.sh`) runs them again against DynamoDB (`moto_server`).

mod abandoned;
mod authorization;
mod callback;
mod capacity;
mod completion;
mod contract;
mod documents;
mod events;
mod fair_sharing;
mod index_capacity;
mod issuer;
mod issuer_records;
mod jobs;
mod merchant;
mod privilege;
mod request_ids;
mod rotation;
mod sandbox_cards;
mod store_contract;
mod tenants;
