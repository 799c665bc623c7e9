//! What an acquirer needs of an authenticated result, in one object ([`Authorization`]),
//! and the same in the external-3DS fields of three acquirers ([`AcquirerFormat`]):
//!
//! - Stripe, `payment_method_options.card.three_d_secure` (PaymentIntent create/confirm):
//!   `ares_trans_status`, `cryptogram`, `electronic_commerce_indicator`, `transaction_id`
//!   (for 3DS 2 the directory server's transaction id), `version`.
//! - Adyen, `mpiData` (ThreeDSecureData): `authenticationResponse` (the challenge's
//!   `transStatus`, omitted when frictionless), `directoryResponse` (the ARes
//!   `transStatus`), `cavv`, `dsTransID`, `eci`, `threeDSVersion`, `transStatusReason`.
//! - Cybersource, `consumerAuthenticationInformation` on a payment: `cavv` and `xid`
//!   (Visa, Amex and the others) or `ucafAuthenticationData` and
//!   `ucafCollectionIndicator` (Mastercard: `2` authenticated, `1` attempted), `eciRaw`,
//!   `paresStatus`, `veresEnrolled`, `directoryServerTransactionId`,
//!   `paSpecificationVersion`; and `processingInformation.commerceIndicator`.
//!
//! The sources, field by field, are in `docs/authorization.md`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::outcome::Flow;
use super::sealing::OpenedResult;
use super::{AuthenticationSession, SessionState};
use crate::domain::{Amount, FieldError};

/// An authenticated result as an acquirer takes it. Absent fields are `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Authorization {
    /// `VISA`, `MASTERCARD`, `AMEX`, ...
    pub network: Option<String>,
    /// The final `transStatus`: `Y` (authenticated) or `A` (attempted).
    pub authentication_status: Option<String>,
    /// The ARes `transStatus`: `C` for a challenge, the final status when frictionless.
    pub ares_trans_status: Option<String>,
    /// The challenge result's (RReq) `transStatus`; `null` when frictionless.
    pub rreq_trans_status: Option<String>,
    /// The reason code with the status (`signed_pares_status_reason`), when given.
    pub trans_status_reason: Option<String>,
    /// The CAVV (AAV for Mastercard, AEVV for Amex), base64.
    pub cryptogram: Option<String>,
    /// The ECI (Mastercard's raw one, which is the only one it returns).
    pub eci: Option<String>,
    pub directory_server_transaction_id: Option<String>,
    /// The 3-D Secure version (`specificationVersion`).
    pub three_ds_version: Option<String>,
    /// 3-D Secure 1's transaction id; the CAVV's copy on some networks in 3DS 2.
    pub xid: Option<String>,
    pub commerce_indicator: Option<String>,
    pub veres_enrolled: Option<String>,
    pub liability_shift: bool,
    /// The amount and currency authenticated: an authorization may not exceed it.
    pub authenticated_amount: Option<Amount>,
    /// `not_available` when the sealed CAVV and XID could not be opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_values: Option<&'static str>,
}

impl Authorization {
    /// The authorization view of `session` at `now_ms`, with its result opened: only an
    /// authenticated session has one.
    pub fn of(
        session: &AuthenticationSession,
        opened: Option<&OpenedResult>,
        now_ms: i64,
    ) -> Option<Self> {
        if session.effective_state(now_ms) != SessionState::Authenticated {
            return None;
        }
        let opened = opened?;
        let result = &opened.result;
        let network = session.card.as_ref().and_then(|c| c.network.clone());
        let flow = if session.challenge_deadline.is_some() {
            Flow::Challenge
        } else {
            Flow::Frictionless
        };
        let (ares, rreq) = match flow {
            // A challenge was asked for by the ARes: its status is C.
            Flow::Challenge => (
                session
                    .enrollment_result
                    .as_ref()
                    .and_then(|e| e.pares_status.clone())
                    .or_else(|| Some("C".to_owned())),
                result.pares_status.clone(),
            ),
            Flow::Frictionless => (result.pares_status.clone(), None),
        };
        Some(Self {
            liability_shift: result.liability_shift(network.as_deref()),
            network,
            authentication_status: result.pares_status.clone(),
            ares_trans_status: ares,
            rreq_trans_status: rreq,
            trans_status_reason: result.signed_pares_status_reason.clone(),
            cryptogram: result.cavv.clone(),
            eci: result.eci.clone().or_else(|| result.eci_raw.clone()),
            directory_server_transaction_id: result.directory_server_transaction_id.clone(),
            three_ds_version: result.specification_version.clone(),
            xid: result.xid.clone(),
            commerce_indicator: result.commerce_indicator.clone(),
            veres_enrolled: result.veres_enrolled.clone(),
            authenticated_amount: session.authenticated_amount(),
            authentication_values: opened.values_unavailable.then_some("not_available"),
        })
    }

    fn is_mastercard(&self) -> bool {
        self.network.as_deref() == Some("MASTERCARD")
    }

    /// 3-D Secure 1 (whose XID is its transaction id).
    fn is_version_one(&self) -> bool {
        self.three_ds_version
            .as_deref()
            .is_some_and(|v| v.starts_with("1."))
    }
}

/// The acquirers whose external-3DS fields a result can be given in
/// (`?format=stripe|adyen|cybersource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquirerFormat {
    Stripe,
    Adyen,
    Cybersource,
}

/// Fields with a value, in order; absent ones left out (the acquirers reject `null`s).
fn fields(pairs: &[(&str, &Option<String>)]) -> Value {
    let map: Map<String, Value> = pairs
        .iter()
        .filter_map(|(name, value)| Some(((*name).to_owned(), json!(value.as_ref()?))))
        .collect();
    Value::Object(map)
}

impl AcquirerFormat {
    pub const ALL: [AcquirerFormat; 3] = [
        AcquirerFormat::Stripe,
        AcquirerFormat::Adyen,
        AcquirerFormat::Cybersource,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AcquirerFormat::Stripe => "stripe",
            AcquirerFormat::Adyen => "adyen",
            AcquirerFormat::Cybersource => "cybersource",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == value)
            .ok_or_else(|| FieldError::new(field, "must be stripe, adyen or cybersource"))
    }

    /// `authorization` in this acquirer's fields, as a fragment of its payment request.
    pub fn render(self, authorization: &Authorization) -> Value {
        let a = authorization;
        match self {
            AcquirerFormat::Stripe => json!({
                "payment_method_options": {"card": {"three_d_secure": fields(&[
                    ("ares_trans_status", &a.ares_trans_status),
                    ("cryptogram", &a.cryptogram),
                    ("electronic_commerce_indicator", &a.eci),
                    // "For 3D Secure 1, the XID. For 3D Secure 2, the Directory Server
                    // Transaction ID (dsTransID)."
                    ("transaction_id", if a.is_version_one() { &a.xid } else { &a.directory_server_transaction_id }),
                    ("version", &a.three_ds_version),
                ])}}
            }),
            AcquirerFormat::Adyen => json!({
                "mpiData": fields(&[
                    ("authenticationResponse", &a.rreq_trans_status),
                    ("directoryResponse", &a.ares_trans_status),
                    ("cavv", &a.cryptogram),
                    ("dsTransID", &a.directory_server_transaction_id),
                    ("eci", &a.eci),
                    ("threeDSVersion", &a.three_ds_version),
                    ("transStatusReason", &a.trans_status_reason),
                    // "Supported for 3D Secure 1" only.
                    ("xid", if a.is_version_one() { &a.xid } else { &None }),
                ])
            }),
            AcquirerFormat::Cybersource => {
                let mastercard = a.is_mastercard();
                let ucaf_indicator = match a.authentication_status.as_deref() {
                    Some("Y") => Some("2".to_owned()),
                    Some("A") => Some("1".to_owned()),
                    _ => None,
                };
                let none = None;
                json!({
                    "consumerAuthenticationInformation": fields(&[
                        ("cavv", if mastercard { &none } else { &a.cryptogram }),
                        ("xid", if mastercard { &none } else { &a.xid }),
                        ("ucafAuthenticationData", if mastercard { &a.cryptogram } else { &none }),
                        ("ucafCollectionIndicator", if mastercard { &ucaf_indicator } else { &none }),
                        ("eciRaw", &a.eci),
                        ("paresStatus", &a.authentication_status),
                        ("veresEnrolled", &a.veres_enrolled),
                        ("directoryServerTransactionId", &a.directory_server_transaction_id),
                        ("paSpecificationVersion", &a.three_ds_version),
                    ]),
                    "processingInformation": fields(&[
                        ("commerceIndicator", &a.commerce_indicator),
                    ]),
                })
            }
        }
    }
}
