//! Field checks shared by every route. Each failure names the field and the rule, never
//! the value (which may be card data).

use chrono::{Datelike, NaiveDate};

/// A request field that failed its check: which field, and which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Check<T = ()> = Result<T, FieldError>;

fn err<T>(field: &str, message: &str) -> Check<T> {
    Err(FieldError::new(field, message))
}

/// Required free text: present, not blank, at most `max` characters, no control
/// characters. Returns it trimmed.
pub fn text<'a>(field: &str, value: &'a str, max: usize) -> Check<&'a str> {
    let value = value.trim();
    if value.is_empty() {
        return err(field, "is required");
    }
    if value.chars().count() > max {
        return err(field, &format!("must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return err(field, "must not contain control characters");
    }
    Ok(value)
}

/// Optional free text: absent or blank is fine, otherwise as [`text`].
pub fn optional_text<'a>(
    field: &str,
    value: Option<&'a str>,
    max: usize,
) -> Check<Option<&'a str>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// An identifier: letters, digits, `-` and `_`, 1..=max.
pub fn identifier<'a>(field: &str, value: &'a str, max: usize) -> Check<&'a str> {
    let value = text(field, value, max)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return err(field, "must contain only letters, digits, '-' and '_'");
    }
    Ok(value)
}

/// A run of digits of length `min..=max`.
pub fn digits<'a>(field: &str, value: &'a str, min: usize, max: usize) -> Check<&'a str> {
    let value = text(field, value, max)?;
    if value.len() < min || !value.bytes().all(|b| b.is_ascii_digit()) {
        return err(field, &format!("must be {min} to {max} digits"));
    }
    Ok(value)
}

pub fn one_of<'a>(field: &str, value: &'a str, allowed: &[&str]) -> Check<&'a str> {
    let value = text(field, value, 64)?;
    if !allowed.contains(&value) {
        return err(field, &format!("must be one of {}", allowed.join(", ")));
    }
    Ok(value)
}

/// A positive decimal amount as a string: digits, optionally `.` and up to 3 decimals.
pub fn amount(field: &str, value: &str) -> Check {
    let value = text(field, value, 19)?;
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let well_formed = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() <= 3
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(value.contains('.') && fraction.is_empty());
    if !well_formed {
        return err(
            field,
            "must be a decimal amount such as \"1000\" or \"10.50\"",
        );
    }
    if whole.bytes().chain(fraction.bytes()).all(|b| b == b'0') {
        return err(field, "must be greater than zero");
    }
    Ok(())
}

pub fn currency(field: &str, value: &str) -> Check {
    let value = text(field, value, 3)?;
    if CURRENCIES.binary_search(&value).is_err() {
        return err(field, "must be an ISO 4217 currency code such as USD");
    }
    Ok(())
}

pub fn country(field: &str, value: &str) -> Check {
    let value = text(field, value, 2)?;
    if COUNTRIES.binary_search(&value).is_err() {
        return err(
            field,
            "must be an ISO 3166-1 alpha-2 country code such as US",
        );
    }
    Ok(())
}

pub fn email(field: &str, value: &str) -> Check {
    let value = text(field, value, 254)?;
    let valid = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    }) && !value.chars().any(char::is_whitespace);
    if !valid {
        return err(field, "must be an email address");
    }
    Ok(())
}

/// `YYYY-MM-DD`, a real date, in the past, after 1900.
pub fn date_of_birth(field: &str, value: &str, today: NaiveDate) -> Check {
    let value = text(field, value, 10)?;
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| value.len() == 10);
    match date {
        None => err(field, "must be a date YYYY-MM-DD"),
        Some(d) if d >= today || d.year() < 1900 => err(field, "must be a past date"),
        Some(_) => Ok(()),
    }
}

/// A phone number: an optional `+` and 6 to 20 digits.
pub fn phone(field: &str, value: &str) -> Check {
    let value = text(field, value, 20)?;
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return err(field, "must be a phone number of 6 to 20 digits");
    }
    Ok(())
}

/// A browser's time offset: a whole number of minutes, maybe negative.
pub fn time_offset(field: &str, value: &str) -> Check {
    let offset = text(field, value, 6)?;
    if offset
        .strip_prefix('-')
        .unwrap_or(offset)
        .parse::<u16>()
        .is_err()
    {
        return err(field, "must be a whole number of minutes");
    }
    Ok(())
}

pub fn ip_address(field: &str, value: &str) -> Check {
    let value = text(field, value, 45)?;
    if value.parse::<std::net::IpAddr>().is_err() {
        return err(field, "must be an IPv4 or IPv6 address");
    }
    Ok(())
}

/// Active ISO 4217 currency codes (funds, metals and test codes excluded).
const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// ISO 3166-1 alpha-2 country codes (all 249 officially assigned).
const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn iso_tables_are_sorted_for_binary_search_and_complete() {
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(COUNTRIES.len(), 249);
        assert!(currency("c", "MXN").is_ok() && currency("c", "XXX").is_err());
        assert!(country("c", "US").is_ok() && country("c", "UK").is_err());
    }

    #[test]
    fn amounts_emails_dates_ips() {
        for ok in ["1000", "10.50", "0.01", "10.125"] {
            assert!(amount("a", ok).is_ok(), "{ok}");
        }
        for bad in [
            "0", "0.00", "-1", "1,000", "10.", ".5", "1e3", "10.1234", "",
        ] {
            assert!(amount("a", bad).is_err(), "{bad}");
        }
        assert!(email("e", "accept@gmsectec.com").is_ok());
        for bad in ["a@b", "@b.com", "a b@c.com", "a@@b.com", "a@b..com"] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
        assert!(date_of_birth("d", "1996-10-31", today()).is_ok());
        for bad in ["1996-13-01", "2030-01-01", "31/10/1996", "1996-1-1"] {
            assert!(date_of_birth("d", bad, today()).is_err(), "{bad}");
        }
        assert!(ip_address("i", "190.123.237.237").is_ok());
        assert!(ip_address("i", "::1").is_ok());
        assert!(ip_address("i", "300.1.1.1").is_err());
    }

    #[test]
    fn text_limits() {
        assert_eq!(text("t", "  a  ", 3).unwrap(), "a");
        assert!(text("t", "   ", 3).is_err());
        assert!(text("t", "abcd", 3).is_err());
        assert!(text("t", "a\u{0}", 3).is_err());
        assert!(identifier("i", "card59202507231957437131", 64).is_ok());
        assert!(identifier("i", "card 1", 64).is_err());
        assert!(digits("d", "2125551234", 4, 15).is_ok());
        assert!(digits("d", "212-555", 4, 15).is_err());
    }
}
