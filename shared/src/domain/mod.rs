//! The gateway's vocabulary, validated at the edge and passed on typed: identifiers, card
//! data, field checks, and the outcome of an authentication.

mod card;
pub mod field;
mod ids;
mod outcome;

pub use card::{CardNumber, CardSummary, Expiry, Pan, card_network, luhn_valid};
pub use field::{Check, FieldError};
pub use ids::{BudgetId, CardId, CardholderId, ReferenceCode, TenantId, TransactionId};
pub use outcome::{Amount, AuthenticationResult, CompletionMode, Flow};
