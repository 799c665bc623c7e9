//! Identifiers that cross the code, validated once where they enter and passed on typed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::field::{self, Check, FieldError};

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Read back from storage or JSON, it is checked again (`try_from`): a stored id
        /// that is not one is a corrupt record, never a value passed on.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(raw: String) -> Result<Self, String> {
                Self::parse(stringify!($name), &raw).map_err(|e| e.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

identifier! {
    /// The merchant's reference of one authentication: it keys the session and appears
    /// in our callback URL, so its characters are URL-path safe.
    ReferenceCode
}

impl ReferenceCode {
    pub const MAX_LEN: usize = 64;

    /// Words of our routes a reference code must not be, or `/v1/risk/authentication/{it}`
    /// would name a route instead of the session.
    const ROUTE_WORDS: &'static [&'static str] =
        &["setup", "enroll", "validate", "callback", "events"];

    /// 1 to 64 of letters, digits, `-`, `_`, `.` and `:`, starting with a letter or digit
    /// (so never `.` or `..`, which a URL path would resolve away), and not a route word.
    pub fn parse(field: &str, raw: &str) -> Check<Self> {
        let value = field::text(field, raw, Self::MAX_LEN)?;
        let well_formed = value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !well_formed {
            return Err(FieldError::new(
                field,
                "must be letters, digits, '-', '_', '.' and ':', starting with a letter or digit",
            ));
        }
        if Self::ROUTE_WORDS
            .iter()
            .any(|word| value.eq_ignore_ascii_case(word))
        {
            return Err(FieldError::new(
                field,
                "must not be a word of the gateway's routes",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

identifier! {
    /// A tenant of the gateway (a merchant, a card program, or both): lower-case letters,
    /// digits and `-`, starting with a letter or digit. It appears in our callback URLs
    /// and in every key the tenant's records are stored under.
    TenantId
}

impl TenantId {
    pub fn parse(field: &str, raw: &str) -> Check<Self> {
        let valid = (1..=63).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-');
        if !valid {
            return Err(FieldError::new(
                field,
                "must be 1 to 63 of a-z, 0-9 and '-', not starting with '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

identifier! {
    /// The upstream's authentication transaction id (Cardinal's `TransactionId`).
    TransactionId
}

impl TransactionId {
    pub fn parse(field: &str, raw: &str) -> Check<Self> {
        let value = field::text(field, raw, 64)?;
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(FieldError::new(field, "is not a transaction id"));
        }
        Ok(Self(value.to_owned()))
    }
}

identifier! {
    /// A card of the card-issuance API (`card59202507231957437131`).
    CardId
}

identifier! {
    /// A cardholder 3DS contact of the card-issuance API (`471041678120300545`).
    CardholderId
}

identifier! {
    /// A budget (account) of the card-issuance API (`ci202008281528472924`).
    BudgetId
}

macro_rules! parse_identifier {
    ($($name:ident),*) => {
        $(impl $name {
            pub fn parse(field: &str, raw: &str) -> Check<Self> {
                field::identifier(field, raw, 64).map(|v| Self(v.to_owned()))
            }
        })*
    };
}

parse_identifier!(CardId, CardholderId, BudgetId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_trimmed_and_checked_once() {
        assert_eq!(
            ReferenceCode::parse("r", " PASS-1 ").unwrap().as_str(),
            "PASS-1"
        );
        for refused in [
            "a/b", ".", "..", ".hidden", "-x", "setup", "Validate", "callback", "a b",
        ] {
            assert!(ReferenceCode::parse("r", refused).is_err(), "{refused}");
        }
        assert!(ReferenceCode::parse("r", &"x".repeat(65)).is_err());
        assert!(ReferenceCode::parse("r", "order-1.2:3_4").is_ok());
        assert_eq!(
            TransactionId::parse("t", "DKjne4MBXRSsa1fryRE0")
                .unwrap()
                .as_str(),
            "DKjne4MBXRSsa1fryRE0"
        );
        assert!(TransactionId::parse("t", "a b").is_err());
        assert!(CardId::parse("card_id", "card 1").is_err());
        assert_eq!(
            CardId::parse("card_id", "card59202507231957437131")
                .unwrap()
                .to_string(),
            "card59202507231957437131"
        );
    }
}
