//! Workspace integration tests (run by `scripts/test.sh`, which starts `moto_server`).

mod callback;
mod documents;
mod issuer;
mod merchant;
mod sandbox_cards;
mod store_contract;
