//! One module per upstream: its client, request and response types, and error mapping.

pub mod card_issuance;
pub mod payer_auth;
