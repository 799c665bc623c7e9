//! One module per upstream, each split the same way: the client (`mod.rs`: URLs,
//! credentials, one method per endpoint with its retry policy), the wire types
//! (`wire.rs`) and the reading of answers (`answer.rs`: envelopes, statuses as closed
//! enums, the upstream's own error type). Neither depends on the session store or on the
//! HTTP error type: the error module maps their errors.

pub mod card_issuance;
pub mod payer_auth;
