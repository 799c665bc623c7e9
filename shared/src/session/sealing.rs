//! What a session keeps sealed of its result: CAVV and XID (the cryptographic proof of
//! the authentication, usable in an authorization) under the session keys, the rest of
//! the result in clear for the status route and the redirect.

use serde::{Deserialize, Serialize};

use crate::crypto::SealedData;
use crate::domain::AuthenticationResult;
use crate::keys::GatewayKeys;
pub use crate::keys::SealError;
use crate::session::{AuthenticationSession, attr};

/// What is sealed of a result.
#[derive(Serialize, Deserialize)]
struct AuthenticationValues {
    cavv: Option<String>,
    xid: Option<String>,
}

/// A result ready to be written: see [`seal_result`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedResult {
    /// Without CAVV and XID.
    pub result: AuthenticationResult,
    pub sealed_values: Option<SealedData>,
}

/// The result as it is recorded: CAVV and XID (the cryptographic proof of the
/// authentication, usable in an authorization) sealed into the record; the rest in
/// clear, for the status route and the redirect.
pub fn seal_result(
    keys: &GatewayKeys,
    record: &str,
    result: AuthenticationResult,
) -> RecordedResult {
    let values = AuthenticationValues {
        cavv: result.cavv.clone(),
        xid: result.xid.clone(),
    };
    let sealed_values = (values.cavv.is_some() || values.xid.is_some())
        .then(|| keys.seal(record, attr::SEALED_AUTHENTICATION_VALUES, &values));
    RecordedResult {
        result: AuthenticationResult {
            cavv: None,
            xid: None,
            ..result
        },
        sealed_values,
    }
}

/// A session's result with its CAVV and XID opened for its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedResult {
    pub result: AuthenticationResult,
    /// The sealed values could not be opened (a key retired too early, or tampering):
    /// the result is given without them, never an error.
    pub values_unavailable: bool,
}

/// The session's result with its sealed values opened, if it has a result.
pub fn open_result(
    keys: &GatewayKeys,
    record: &str,
    session: &AuthenticationSession,
) -> Option<OpenedResult> {
    let result = session.result.clone()?;
    let Some(sealed) = &session.sealed_authentication_values else {
        return Some(OpenedResult {
            result,
            values_unavailable: false,
        });
    };
    match keys.open::<AuthenticationValues>(record, attr::SEALED_AUTHENTICATION_VALUES, sealed) {
        Ok(values) => Some(OpenedResult {
            result: AuthenticationResult {
                cavv: values.cavv,
                xid: values.xid,
                ..result
            },
            values_unavailable: false,
        }),
        Err(error) => {
            tracing::warn!(%error, "an authentication's sealed values are not available");
            Some(OpenedResult {
                result,
                values_unavailable: true,
            })
        }
    }
}
