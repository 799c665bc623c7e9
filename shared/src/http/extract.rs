//! Request extraction: bounded bodies, JSON that fails with the field's name (never its
//! value), and the calling tenant (its `x-api-key`, its role).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::domain::TenantId;
use crate::error::{ApiError, ErrorCode};
use crate::secrets::Cached;
use crate::tenants::{IssuerProfile, MerchantProfile, Registry, Role, Tenant};

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
    // The path already ends with the unknown field's name.
    if serde_message.starts_with("unknown field `") && !parent.is_empty() {
        return (parent.to_owned(), "is not a field of this request".into());
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

/// The route's path parameters, percent-decoded. A parameter that is not UTF-8 once
/// decoded is refused in the route's own envelope, naming it (axum's rejection would be a
/// plain-text answer); the handler then checks each value as the field it is.
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParams(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => match error.kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => Err(ApiError::invalid(
                    key.clone(),
                    "must be UTF-8 once percent-decoded",
                )),
                // The route and its handler disagree on the parameters: ours, not the
                // caller's. (The kind is not logged: some kinds carry the value.)
                _ => {
                    tracing::error!("path parameters do not fit the handler");
                    Err(ErrorCode::InternalError.into())
                }
            },
            Err(_) => {
                tracing::error!("path parameters missing for a matched route");
                Err(ErrorCode::InternalError.into())
            }
        }
    }
}

/// Access to the tenant registry, for the caller extractors.
pub trait HasTenants {
    fn tenants(&self) -> &Cached<Registry>;
}

/// Who is calling: the tenant whose `x-api-key` this is, in the role the route needs.
/// `MerchantCaller` on the merchant routes, `IssuerCaller` on the issuer routes: a key of
/// a tenant without that role is refused (403) before anything else happens.
#[derive(Debug, Clone)]
pub struct Caller<N: Needs>(pub Arc<Tenant>, PhantomData<N>);

/// The role a route needs of its caller.
pub trait Needs: Send + Sync {
    /// `None`: any tenant.
    const ROLE: Option<Role>;
}

/// A merchant's routes.
#[derive(Debug, Clone)]
pub struct Merchant;
/// A card program's routes.
#[derive(Debug, Clone)]
pub struct Issuer;
/// Routes every tenant calls, whatever its roles (the events API: every tenant has
/// events).
#[derive(Debug, Clone)]
pub struct AnyTenant;

impl Needs for Merchant {
    const ROLE: Option<Role> = Some(Role::Merchant);
}

impl Needs for Issuer {
    const ROLE: Option<Role> = Some(Role::Issuer);
}

impl Needs for AnyTenant {
    const ROLE: Option<Role> = None;
}

pub type MerchantCaller = Caller<Merchant>;
pub type IssuerCaller = Caller<Issuer>;
pub type TenantCaller = Caller<AnyTenant>;

impl<N: Needs> Caller<N> {
    pub fn tenant(&self) -> &Tenant {
        &self.0
    }

    pub fn id(&self) -> &TenantId {
        &self.0.id
    }

    /// Finds the key's tenant and checks its role.
    pub fn authenticate(registry: &Registry, presented: Option<&str>) -> Result<Self, ApiError> {
        let tenant = presented
            .and_then(|key| registry.authenticate(key))
            .ok_or(ApiError::of(ErrorCode::Unauthorized))?;
        tracing::Span::current().record("tenant", tenant.id.as_str());
        if let Some(role) = N::ROLE
            && !tenant.has_role(role)
        {
            tracing::warn!(
                needed = role.as_str(),
                "a tenant called a route of another role"
            );
            return Err(ErrorCode::RoleNotAllowed.into());
        }
        Ok(Self(tenant, PhantomData))
    }
}

impl Caller<Merchant> {
    pub fn merchant(&self) -> &MerchantProfile {
        self.0
            .merchant
            .as_ref()
            .expect("the registry gives every merchant tenant its merchant settings")
    }
}

impl Caller<Issuer> {
    /// The card program `tenant`, acting through work it queued (a job's items): `None`
    /// when the tenant is not a card program (any more).
    pub fn acting_for(tenant: Arc<Tenant>) -> Option<Self> {
        (tenant.has_role(Role::Issuer) && tenant.issuer.is_some())
            .then_some(Self(tenant, PhantomData))
    }

    pub fn issuer(&self) -> &IssuerProfile {
        self.0
            .issuer
            .as_ref()
            .expect("the registry gives every issuer tenant its issuer settings")
    }
}

impl<T, N: Needs> FromRequestParts<Arc<T>> for Caller<N>
where
    T: HasTenants + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<T>,
    ) -> Result<Self, Self::Rejection> {
        let registry = state.tenants().get().await?;
        let presented = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        Self::authenticate(&registry, presented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_key_finds_its_tenant_and_a_tenant_of_another_role_is_refused() {
        use crate::tenants::{RegistryDocument, RegistryPolicy, api_key_digest};
        let document: RegistryDocument = serde_json::from_value(serde_json::json!({"tenants": [{
            "id": "bank-x", "roles": ["issuer"], "api_key_sha256": [api_key_digest("key-x")],
            "issuer": {"budget_ids": ["ci202008281528472924"]}
        }]}))
        .unwrap();
        let registry = Registry::check(document, &RegistryPolicy::default()).unwrap();
        let issuer = IssuerCaller::authenticate(&registry, Some("key-x")).unwrap();
        assert_eq!(issuer.id().as_str(), "bank-x");
        let refused = MerchantCaller::authenticate(&registry, Some("key-x")).unwrap_err();
        assert_eq!(refused.error_code(), ErrorCode::RoleNotAllowed);
        for unknown in [Some("key-y"), None] {
            let refused = IssuerCaller::authenticate(&registry, unknown).unwrap_err();
            assert_eq!(refused.error_code(), ErrorCode::Unauthorized);
        }
    }
}
