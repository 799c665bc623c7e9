//! Card data, parsed once at the edge: a [`Pan`] that never prints, token expressions the
//! payer-authentication API resolves itself, an expiry, and the summary we may keep in
//! clear (BIN, last four, network).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::field::{Check, FieldError};

/// A primary account number that passed the format and Luhn checks. Its `Debug` and
/// `Display` show only the BIN and last four, so it can never reach a log in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(String);

impl Pan {
    /// The digits, for the one place that needs them: the upstream request body.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn bin(&self) -> &str {
        &self.0[..6]
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// The card network from the leading digits, where it can be told.
    pub fn network(&self) -> Option<&'static str> {
        card_network(&self.0)
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({}…{})", self.bin(), self.last4())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…{}", self.bin(), self.last4())
    }
}

/// What a card number field held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardNumber {
    /// A PAN that passed the format and Luhn checks.
    Pan(Pan),
    /// A token expression (`{{token_id : detokenize}}`), resolved by the upstream.
    Token(String),
}

impl CardNumber {
    pub fn parse(field: &str, value: &str) -> Check<Self> {
        if is_token_expression(value) {
            return Ok(CardNumber::Token(value.trim().to_owned()));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                field,
                "must contain only digits (or be a token expression)",
            ));
        }
        if !(12..=19).contains(&value.len()) {
            return Err(FieldError::new(field, "must be 12 to 19 digits long"));
        }
        if !luhn_valid(value) {
            return Err(FieldError::new(
                field,
                "is not a valid card number (Luhn check failed)",
            ));
        }
        Ok(CardNumber::Pan(Pan(value.to_owned())))
    }

    /// What may be kept in clear: BIN, last four, network (nothing for a token).
    pub fn summary(&self) -> CardSummary {
        match self {
            CardNumber::Pan(pan) => CardSummary {
                bin: Some(pan.bin().to_owned()),
                last4: Some(pan.last4().to_owned()),
                network: pan.network().map(str::to_owned),
            },
            CardNumber::Token(_) => CardSummary::default(),
        }
    }
}

/// A card expiry (`MM/YY` or `MM/YYYY`, not in the past), or a token expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Date { year: i32, month: u32 },
    Token,
}

impl Expiry {
    pub fn parse(field: &str, value: &str, today: NaiveDate) -> Check<Self> {
        if is_token_expression(value) {
            return Ok(Expiry::Token);
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        let parsed = value.split_once('/').and_then(|(m, y)| {
            // Digits only: `parse` would also take a sign ("+1").
            let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
            let month: u32 = (m.len() == 2 && digits(m))
                .then(|| m.parse().ok())
                .flatten()?;
            let year: i32 = match y.len() {
                2 => 2000 + y.parse::<i32>().ok()?,
                4 => y.parse().ok()?,
                _ => return None,
            };
            (digits(y) && (1..=12).contains(&month)).then_some((year, month))
        });
        let Some((year, month)) = parsed else {
            return Err(FieldError::new(field, "must be MM/YY or MM/YYYY"));
        };
        if (year, month) < (today.year(), today.month()) {
            return Err(FieldError::new(field, "is in the past"));
        }
        if year > today.year() + 30 {
            return Err(FieldError::new(field, "is too far in the future"));
        }
        Ok(Expiry::Date { year, month })
    }
}

/// What we may keep of a card in clear: never the number or expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

impl CardSummary {
    /// Ours, completed by what the upstream reported (its network wins: it knows the
    /// card; our BIN wins: it is the card's own digits).
    pub fn merged_with(self, upstream: CardSummary) -> CardSummary {
        CardSummary {
            bin: self.bin.or(upstream.bin),
            last4: self.last4.or(upstream.last4),
            network: upstream.network.or(self.network),
        }
    }
}

/// A token expression as the payer-authentication API accepts them in place of card
/// data: `{{token_id : detokenize}}`, `{{temp_token_id : transaction}}`.
fn is_token_expression(value: &str) -> bool {
    let value = value.trim();
    value.len() <= 200
        && value.starts_with("{{")
        && value.ends_with("}}")
        && value.len() > 4
        && !value[2..value.len() - 2].contains(['{', '}'])
}

pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// Card network from the leading digits, where it can be told.
pub fn card_network(pan: &str) -> Option<&'static str> {
    let prefix = |n: usize| pan.get(..n).and_then(|p| p.parse::<u32>().ok());
    match (prefix(1)?, prefix(2)?, prefix(4)?) {
        (4, _, _) => Some("VISA"),
        (_, 34 | 37, _) => Some("AMEX"),
        (_, 51..=55, _) | (_, _, 2221..=2720) => Some("MASTERCARD"),
        (_, _, 6011) | (_, 65, _) => Some("DISCOVER"),
        (_, _, 3528..=3589) => Some("JCB"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn card_numbers() {
        for pan in [
            "4000000000002701",
            "5200000000002235",
            "340000000002534",
            "4111111111111111",
        ] {
            assert!(
                matches!(CardNumber::parse("n", pan), Ok(CardNumber::Pan(_))),
                "{pan}"
            );
        }
        assert!(matches!(
            CardNumber::parse("n", "{{tok_123 : detokenize}}"),
            Ok(CardNumber::Token(_))
        ));
        for bad in [
            "4000000000002702",
            "4000-0000-0000-2701",
            "40000000000",
            "",
            "{{}}",
            "{{a}}}",
        ] {
            assert!(CardNumber::parse("n", bad).is_err(), "{bad}");
        }
        assert_eq!(card_network("4000000000002701"), Some("VISA"));
        assert_eq!(card_network("5200000000002235"), Some("MASTERCARD"));
        assert_eq!(card_network("2221000000000009"), Some("MASTERCARD"));
        assert_eq!(card_network("340000000002534"), Some("AMEX"));
        assert_eq!(card_network("9000000000000000"), None);
    }

    #[test]
    fn a_pan_never_prints_in_clear() {
        let Ok(CardNumber::Pan(pan)) = CardNumber::parse("n", "4000000000002701") else {
            panic!()
        };
        let shown = format!("{pan} {pan:?} {:?}", CardNumber::Pan(pan.clone()));
        assert!(!shown.contains("4000000000002701"), "{shown}");
        assert_eq!(pan.to_string(), "400000…2701");
        assert_eq!(
            CardNumber::Pan(pan).summary(),
            CardSummary {
                bin: Some("400000".into()),
                last4: Some("2701".into()),
                network: Some("VISA".into())
            }
        );
    }

    #[test]
    fn expiries() {
        for ok in ["11/26", "01/2027", "12/2056", "{{tok : detokenize}}"] {
            assert!(Expiry::parse("e", ok, today()).is_ok(), "{ok}");
        }
        for bad in [
            "10/26", "13/27", "1/27", "01-27", "01/227", "", "01/2099", "aa/bb", "+1/2030",
            "01/+030",
        ] {
            assert!(Expiry::parse("e", bad, today()).is_err(), "{bad}");
        }
    }
}
