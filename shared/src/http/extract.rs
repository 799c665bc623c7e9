//! Request extraction: bounded bodies, JSON that fails with the field's name (never its
//! value), and the caller's `x-api-key`.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::config::ClientKeys;
use crate::crypto::constant_time_eq;
use crate::error::{ApiError, ErrorCode};

/// Largest request body accepted (API Gateway allows more; no 3DS request needs it).
const MAX_BODY_BYTES: usize = 64 * 1024;

pub async fn read_body(body: axum::body::Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::with_message(
                ErrorCode::PayloadTooLarge,
                format!("the request body must not be larger than {MAX_BODY_BYTES} bytes"),
            )
        })
}

/// Parses a JSON object body into `T`. Syntax errors report line and column; type errors
/// report the field path (`card.number`, `items[3].card_id`) and what was expected.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("body", "a JSON request body is required"));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::with_message(
            ErrorCode::MalformedJson,
            format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    from_value(value)
}

/// Reads an already parsed JSON value as `T`, naming the field of a type error.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let (field, message) = describe(&path, &e.inner().to_string());
        ApiError::invalid(field, message)
    })
}

/// Turns serde's message (which may quote the offending value — possibly a card
/// number) into one that names only the field and the expected type.
fn describe(path: &str, serde_message: &str) -> (String, String) {
    let parent = if path == "." { "" } else { path };
    if let Some(rest) = serde_message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        };
        return (field, "is required".into());
    }
    let field = if parent.is_empty() { "body" } else { parent }.to_owned();
    let expected = serde_message
        .split_once("expected ")
        .map(|(_, e)| e.trim_end_matches('.'));
    let message = match expected {
        Some(e) if e.starts_with("a string") => "must be a string",
        Some(e) if e.starts_with("a boolean") => "must be true or false",
        Some(e) if e.starts_with("a sequence") => "must be an array",
        Some(e) if e.starts_with("struct") || e.starts_with("a map") => "must be an object",
        Some(e) if e.starts_with("u") || e.starts_with("i") || e.contains("integer") => {
            "must be an integer"
        }
        _ if serde_message.starts_with("unknown variant") => "has an unsupported value",
        _ => "has an invalid value",
    };
    (field, message.into())
}

/// A JSON request body of at most [`MAX_BODY_BYTES`].
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request.into_body()).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Access to the configured caller keys, for the [`Caller`] extractor.
pub trait HasClientKeys {
    fn client_keys(&self) -> &ClientKeys;
}

/// The authenticated caller: whose `x-api-key` matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
}

impl Caller {
    /// Checks the key against every configured key in constant time per key (and
    /// without stopping at the first match, so timing does not reveal its position).
    pub fn authenticate(keys: &ClientKeys, presented: Option<&str>) -> Result<Self, ApiError> {
        let presented = presented.ok_or(ApiError::of(ErrorCode::Unauthorized))?;
        let mut matched = None;
        for (client_id, key) in &keys.0 {
            if constant_time_eq(key.expose(), presented) && matched.is_none() {
                matched = Some(client_id.clone());
            }
        }
        let client_id = matched.ok_or(ApiError::of(ErrorCode::Unauthorized))?;
        tracing::Span::current().record("client_id", client_id.as_str());
        Ok(Self { client_id })
    }
}

impl<T> FromRequestParts<Arc<T>> for Caller
where
    T: HasClientKeys + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<T>,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        Caller::authenticate(state.client_keys(), presented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Card {
        number: String,
        expiration_date: String,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        card: Card,
        items: Vec<Card>,
    }

    fn field_error(json: &str) -> (String, String) {
        let error = parse_json::<Body>(json.as_bytes()).unwrap_err();
        match (error.field(), error.error_code()) {
            (Some(field), ErrorCode::InvalidParameter) => {
                let message = error.public_message();
                let rule = message
                    .strip_prefix(&format!("{field}: "))
                    .unwrap_or(&message);
                (field.to_owned(), rule.to_owned())
            }
            _ => panic!("{error:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_field_and_never_echo_the_value() {
        let (field, message) = field_error(
            r#"{"card":{"number":4111111111111111,"expiration_date":"01/30"},"items":[]}"#,
        );
        assert_eq!(field, "card.number");
        assert_eq!(message, "must be a string");
        let (field, message) = field_error(r#"{"card":{"number":"4"},"items":[]}"#);
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("card.expiration_date", "is required")
        );
        let (field, _) = field_error(
            r#"{"card":{"number":"4","expiration_date":"1"},"items":[{"number":"1","expiration_date":7}]}"#,
        );
        assert_eq!(field, "items[0].expiration_date");
        let (field, message) = field_error(r#"{"items":[]}"#);
        assert_eq!((field.as_str(), message.as_str()), ("card", "is required"));
    }

    #[test]
    fn syntax_errors_and_empty_bodies_are_reported_without_content() {
        let code = |body: &[u8]| parse_json::<Body>(body).unwrap_err().error_code();
        let truncated = parse_json::<Body>(b"{\"card\": 4111111111111111").unwrap_err();
        assert_eq!(truncated.error_code(), ErrorCode::MalformedJson);
        assert!(truncated.public_message().contains("line 1"));
        assert!(!truncated.public_message().contains("4111"));
        assert_eq!(code(b"  "), ErrorCode::InvalidParameter);
        assert_eq!(code(b"[1]"), ErrorCode::InvalidParameter);
    }

    #[test]
    fn callers_are_matched_by_key() {
        let keys = ClientKeys(vec![
            ("a".into(), Secret::new("key-a-0123456789")),
            ("b".into(), Secret::new("key-b-0123456789")),
        ]);
        assert_eq!(
            Caller::authenticate(&keys, Some("key-b-0123456789"))
                .unwrap()
                .client_id,
            "b"
        );
        assert!(Caller::authenticate(&keys, Some("key-b-012345678")).is_err());
        assert!(Caller::authenticate(&keys, None).is_err());
    }
}
