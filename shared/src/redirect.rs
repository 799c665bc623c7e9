//! The browser's last hop: where we may send it (allowed merchant origins) and how the
//! merchant can trust what we tell it (an HMAC-SHA256 signature over the query).
//!
//! Signing scheme (documented for merchants in docs/merchant-integration.md):
//! 1. take every query parameter of the redirect URL except `signature`;
//! 2. sort them by name (byte order);
//! 3. join them as `name=value` pairs with `&`, names and values form-urlencoded as the
//!    WHATWG URL standard (and JavaScript's `URLSearchParams`) does: `*-._` and
//!    alphanumerics kept, space as `+`, every other byte of the UTF-8 percent-encoded;
//! 4. `signature` = lower-case hex HMAC-SHA256 of that string under the merchant's
//!    redirect key named by `kid`.
//!
//! `ts` (unix seconds), `tenant` (the merchant's tenant id) and `kid` are signed too, so a
//! merchant can refuse stale redirects and redirects meant for another tenant, and can
//! rotate its key (every key in its list verifies).

use std::time::Duration;

use url::Url;

use crate::crypto::{MacKeys, constant_time_eq};

/// Query parameters the gateway adds (the signing fields and every name of
/// `Outcome::redirect_params`); a merchant `return_url` may not carry them itself, or the
/// signed redirect would hold a name twice and every verifier would refuse it.
const RESERVED_PARAMS: &[&str] = &[
    "reference_code",
    "tenant",
    "status",
    "reason",
    "eci",
    "liability_shift",
    "flow",
    "directory_server_transaction_id",
    "specification_version",
    "details",
    "ts",
    "kid",
    "signature",
];

/// Which merchant URLs the gateway may send a browser to.
#[derive(Debug, Clone)]
pub struct ReturnUrlPolicy {
    origins: Vec<url::Origin>,
    allow_loopback_http: bool,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl ReturnUrlPolicy {
    pub fn new<'a>(
        origins: impl IntoIterator<Item = &'a str>,
        allow_loopback_http: bool,
    ) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for raw in origins.into_iter().filter(|o| !o.is_empty()) {
            let url = Url::parse(raw).map_err(|_| format!("{raw:?} is not an origin URL"))?;
            if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                return Err(format!(
                    "{raw:?} must be an origin (scheme://host[:port]) without a path"
                ));
            }
            Self::check_scheme(&url, allow_loopback_http)
                .map_err(|reason| format!("{raw:?}: {reason}"))?;
            allowed.push(url.origin());
        }
        if allowed.is_empty() {
            return Err("at least one origin is required".into());
        }
        Ok(Self {
            origins: allowed,
            allow_loopback_http,
        })
    }

    fn check_scheme(url: &Url, allow_loopback_http: bool) -> Result<(), &'static str> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if allow_loopback_http && is_loopback(url) => Ok(()),
            "http" => Err("must use https"),
            _ => Err("must be an https URL"),
        }
    }

    /// Parses and checks a merchant return URL; the reason is safe to show the caller.
    pub fn check(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|_| "must be an absolute URL".to_owned())?;
        Self::check_scheme(&url, self.allow_loopback_http)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.fragment().is_some() {
            return Err("must not carry a fragment".into());
        }
        if !self.origins.contains(&url.origin()) {
            return Err("its origin is not in the gateway's allowed return origins".into());
        }
        check_query(&url)?;
        Ok(url)
    }
}

/// The merchant's own query parameters must survive signing and verification unchanged:
/// none of ours, no name twice (verifiers take one value per name), and only UTF-8 after
/// percent-decoding (anything else would be rewritten on the way).
fn check_query(url: &Url) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    for pair in url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |raw: &str| {
            percent_encoding::percent_decode_str(&raw.replace('+', " "))
                .decode_utf8()
                .map(|text| text.into_owned())
        };
        let (Ok(name), Ok(_)) = (decode(name), decode(value)) else {
            return Err("its query must be UTF-8 once percent-decoded".into());
        };
        if RESERVED_PARAMS.contains(&name.as_str()) {
            return Err(format!(
                "must not carry the reserved query parameter {name}"
            ));
        }
        if seen.contains(&name) {
            return Err(format!("must not carry the query parameter {name} twice"));
        }
        seen.push(name);
    }
    Ok(())
}

fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort();
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in sorted {
        out.append_pair(name, value);
    }
    out.finish()
}

/// Appends `params`, `ts` and `kid` to the merchant URL and signs the whole query with the
/// first of `keys`.
pub fn sign_redirect(base: &Url, params: &[(&str, String)], now_unix: i64, keys: &MacKeys) -> Url {
    let (kid, key) = keys.primary();
    let mut url = base.clone();
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    pairs.extend(params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    pairs.push(("ts".into(), now_unix.to_string()));
    pairs.push(("kid".into(), kid.to_owned()));
    let signature = key.sign_message_hex(canonical_query(&pairs).as_bytes());
    pairs.push(("signature".into(), signature));
    url.query_pairs_mut().clear().extend_pairs(&pairs);
    url
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the redirect carries no signature")]
    Missing,
    #[error("a query parameter appears more than once")]
    DuplicateParameter,
    #[error("the redirect names no key, or a key this merchant does not hold")]
    UnknownKey,
    #[error("the signature does not match")]
    Mismatch,
    #[error("the redirect carries no valid ts")]
    MissingTimestamp,
    #[error("the redirect is older than allowed (or from the future)")]
    Stale,
}

/// A redirect whose signature checked out; its parameters can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRedirect {
    pub params: Vec<(String, String)>,
}

impl VerifiedRedirect {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a merchant runs on its return page: checks the signature over the query string
/// (with or without the leading `?`) with the key its `kid` names, and that `ts` is within
/// `max_age` of `now_unix`. The merchant then checks `tenant` is its own id and
/// `reference_code` is the order in progress.
pub fn verify_redirect(
    query: &str,
    keys: &MacKeys,
    now_unix: i64,
    max_age: Duration,
) -> Result<VerifiedRedirect, SignatureError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut signature = None;
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()).into_owned() {
        if name == "signature" {
            if signature.replace(value).is_some() {
                return Err(SignatureError::DuplicateParameter);
            }
        } else if params.iter().any(|(n, _)| *n == name) {
            return Err(SignatureError::DuplicateParameter);
        } else {
            params.push((name, value));
        }
    }
    let signature = signature.ok_or(SignatureError::Missing)?;
    let key = params
        .iter()
        .find(|(k, _)| k == "kid")
        .and_then(|(_, kid)| keys.key(kid))
        .ok_or(SignatureError::UnknownKey)?;
    let expected = key.sign_message_hex(canonical_query(&params).as_bytes());
    if !constant_time_eq(&expected, &signature.to_ascii_lowercase()) {
        return Err(SignatureError::Mismatch);
    }
    let ts: i64 = params
        .iter()
        .find(|(k, _)| k == "ts")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or(SignatureError::MissingTimestamp)?;
    let age = now_unix - ts;
    // A little clock skew is tolerated in the future direction.
    if age > max_age.as_secs() as i64 || age < -60 {
        return Err(SignatureError::Stale);
    }
    Ok(VerifiedRedirect { params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MacKey;

    fn policy() -> ReturnUrlPolicy {
        ReturnUrlPolicy::new(["https://shop.example", "http://127.0.0.1:3000"], true).unwrap()
    }

    #[test]
    fn only_allowed_origins_pass() {
        let p = policy();
        assert!(p.check("https://shop.example/return?order=7").is_ok());
        assert!(p.check("http://127.0.0.1:3000/demo/result").is_ok());
        for bad in [
            "https://evil.example/return",
            "https://shop.example.evil.example/",
            "https://shop.example:8443/return",
            "http://shop.example/return",
            "javascript:alert(1)",
            "//shop.example/return",
            "https://user:pw@shop.example/",
            "https://shop.example/return#x",
            "https://shop.example/return?status=ok",
            "https://shop.example/return?tenant=shop-b",
            "https://shop.example/return?details=mine",
            "https://shop.example/return?directory_server_transaction_id=x",
            "https://shop.example/return?specification_version=2.2.0",
            "https://shop.example/return?sku=b&sku=a",
            "https://shop.example/return?note=%FF",
        ] {
            assert!(p.check(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn plain_http_needs_the_loopback_switch() {
        assert!(ReturnUrlPolicy::new(["http://127.0.0.1:3000"], false).is_err());
        assert!(ReturnUrlPolicy::new(["http://shop.example"], true).is_err());
        assert!(ReturnUrlPolicy::new(["https://shop.example/path"], false).is_err());
    }

    fn keys(kid: &str, secret: &[u8]) -> MacKeys {
        MacKeys::new(vec![(kid.into(), MacKey::new(secret))]).unwrap()
    }

    #[test]
    fn a_signed_redirect_verifies_and_any_change_breaks_it() {
        let key = keys("k1", b"a-merchant-shared-key-of-32-bytes!!");
        let base = Url::parse("https://shop.example/return?order=7").unwrap();
        let url = sign_redirect(
            &base,
            &[
                ("reference_code", "ref 1&2".into()),
                ("status", "authenticated".into()),
                ("eci", "05".into()),
            ],
            1_000,
            &key,
        );
        let query = url.query().unwrap();
        let verified = verify_redirect(query, &key, 1_010, Duration::from_secs(300)).unwrap();
        assert_eq!(verified.get("reference_code"), Some("ref 1&2"));
        assert_eq!(verified.get("order"), Some("7"));
        let tampered = query.replace("authenticated", "failed");
        assert_eq!(
            verify_redirect(&tampered, &key, 1_010, Duration::from_secs(300)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_redirect(
                query,
                &keys("k1", b"other"),
                1_010,
                Duration::from_secs(300)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_redirect(query, &key, 2_000, Duration::from_secs(300)),
            Err(SignatureError::Stale)
        );
        let duplicated = format!("{query}&status=failed");
        assert_eq!(
            verify_redirect(&duplicated, &key, 1_010, Duration::from_secs(300)),
            Err(SignatureError::DuplicateParameter)
        );
    }

    #[test]
    fn the_canonical_string_uses_the_whatwg_form_encoding() {
        // As JavaScript's URLSearchParams: `*-._` and alphanumerics kept, space as `+`,
        // everything else (including `~`) percent-encoded as UTF-8.
        let pairs = vec![
            ("note".to_owned(), "a*b~c d/é:".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ];
        assert_eq!(canonical_query(&pairs), "a=1&note=a*b%7Ec+d%2F%C3%A9%3A");
    }

    #[test]
    fn the_canonical_string_is_what_the_readme_describes() {
        // A merchant re-implements this in any language: sorted, form-urlencoded pairs.
        let key = MacKey::new(b"k");
        let base = Url::parse("https://shop.example/r").unwrap();
        let url = sign_redirect(&base, &[("status", "a b".into())], 5, &keys("k1", b"k"));
        let expected = key.sign_message_hex(b"kid=k1&status=a+b&ts=5");
        assert_eq!(
            url.as_str(),
            format!("https://shop.example/r?status=a+b&ts=5&kid=k1&signature={expected}")
        );
    }

    #[test]
    fn after_a_rotation_the_old_key_still_verifies_until_it_is_removed() {
        let base = Url::parse("https://shop.example/r").unwrap();
        let old = keys("k1", b"the-first-redirect-key-of-32-bytes!!");
        let signed_before = sign_redirect(&base, &[("status", "failed".into())], 5, &old);
        let rotated = MacKeys::new(vec![
            (
                "k2".into(),
                MacKey::new(b"the-second-redirect-key-of-32-bytes!"),
            ),
            (
                "k1".into(),
                MacKey::new(b"the-first-redirect-key-of-32-bytes!!"),
            ),
        ])
        .unwrap();
        let signed_after = sign_redirect(&base, &[("status", "failed".into())], 5, &rotated);
        assert!(signed_after.query().unwrap().contains("kid=k2"));
        for url in [&signed_before, &signed_after] {
            assert!(
                verify_redirect(url.query().unwrap(), &rotated, 6, Duration::from_secs(60)).is_ok()
            );
        }
        let retired = keys("k2", b"the-second-redirect-key-of-32-bytes!");
        assert_eq!(
            verify_redirect(
                signed_before.query().unwrap(),
                &retired,
                6,
                Duration::from_secs(60)
            ),
            Err(SignatureError::UnknownKey)
        );
    }
}
