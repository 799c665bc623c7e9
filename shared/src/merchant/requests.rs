//! The payer-authentication requests the merchant-side functions accept, checked field by
//! field once where they enter and turned into typed requests: the reference code, the
//! card number and the transaction id are parsed here and passed on, never re-read.

use chrono::NaiveDate;
use serde_json::Value;
use url::Url;

use crate::domain::field as f;
use crate::domain::{
    Amount, CardNumber, CardSummary, Check, CompletionMode, Expiry, FieldError, ReferenceCode,
    TransactionId,
};
use crate::error::ApiError;
use crate::redirect::ReturnUrlPolicy;
use crate::upstream::payer_auth::wire::{
    BillTo, Card, CheckEnrollRequest, DeviceInfo, OrderInfo, PaymentData, SetupRequest,
    TransactionInfo, ValidateRequest,
};

/// Device channels the 3DS 2 specification defines.
const DEVICE_CHANNELS: &[&str] = &["Browser", "SDK", "3RI"];

/// A setup request whose every field checked out.
#[derive(Debug, Clone)]
pub struct ValidSetup {
    pub reference: ReferenceCode,
    pub card: CardNumber,
    pub request: SetupRequest,
}

impl ValidSetup {
    pub fn parse(request: SetupRequest, today: NaiveDate) -> Check<Self> {
        let reference = transaction_info(&request.transaction_info, "setup")?;
        let card = card(&request.card, today)?;
        Ok(Self {
            reference,
            card,
            request,
        })
    }

    /// What makes a setup the same request again: its body as it goes upstream.
    pub fn fingerprint_body(&self) -> Value {
        serde_json::to_value(self.upstream_body()).expect("setup requests serialize")
    }

    /// What goes upstream: the typed request (anything else the caller sent is dropped),
    /// its reference code and card number as parsed.
    pub fn upstream_body(&self) -> SetupRequest {
        SetupRequest {
            transaction_info: TransactionInfo {
                kind: "setup".into(),
                reference_code: self.reference.to_string(),
            },
            card: upstream_card(&self.card, &self.request.card),
        }
    }
}

/// The card as it goes upstream: the number as parsed (trimmed), the expiry trimmed.
fn upstream_card(number: &CardNumber, sent: &Card) -> Card {
    Card {
        number: match number {
            CardNumber::Pan(pan) => pan.expose().to_owned(),
            CardNumber::Token(token) => token.clone(),
        },
        expiration_date: sent.expiration_date.trim().to_owned(),
    }
}

/// A check-enroll request whose every field checked out, with the merchant's return URL
/// (one we may redirect to).
#[derive(Debug, Clone)]
pub struct ValidCheckEnroll {
    pub reference: ReferenceCode,
    pub card: CardNumber,
    pub merchant_return_url: Url,
    /// The gateway's added field (never sent upstream): how the challenge ends, when the
    /// request asks for a mode other than the merchant's own.
    pub completion: Option<CompletionMode>,
    pub request: CheckEnrollRequest,
}

impl ValidCheckEnroll {
    /// The drop-in body as the merchant sent it (the upstream's fields, plus our own
    /// `completion`), parsed once.
    pub fn from_body(
        body: Value,
        today: NaiveDate,
        return_urls: &ReturnUrlPolicy,
    ) -> Result<Self, ApiError> {
        let completion = match body.get("completion") {
            None | Some(Value::Null) => None,
            Some(Value::String(mode)) => Some(CompletionMode::parse("completion", mode)?),
            Some(_) => {
                return Err(ApiError::invalid(
                    "completion",
                    "must be redirect, top or post_message",
                ));
            }
        };
        let request = crate::http::from_value(body)?;
        Ok(Self {
            completion,
            ..Self::parse(request, today, return_urls)?
        })
    }

    /// What makes a check enroll the same request again: the request as parsed and
    /// normalised (the merchant's own return URL), and the completion it asked for.
    pub fn fingerprint_body(&self) -> Value {
        let mut body = serde_json::to_value(self.upstream_body(&self.merchant_return_url))
            .expect("check-enroll requests serialize");
        if let Some(mode) = self.completion {
            body["completion"] = Value::from(mode.as_str());
        }
        body
    }

    /// Checks every field the check-enroll documentation marks required.
    pub fn parse(
        request: CheckEnrollRequest,
        today: NaiveDate,
        return_urls: &ReturnUrlPolicy,
    ) -> Check<Self> {
        let reference = transaction_info(&request.transaction_info, "check_enroll")?;
        let card = card(&request.card, today)?;
        order_info(&request.order_info)?;
        bill_to(&request.bill_to)?;
        f::phone("buyer_info.mobile_phone", &request.buyer_info.mobile_phone)?;
        device_info(&request.device_info)?;
        let auth = &request.authentication;
        f::text("authentication.reference_id", &auth.reference_id, 64)?;
        f::one_of(
            "authentication.device_channel",
            &auth.device_channel,
            DEVICE_CHANNELS,
        )?;
        f::text("authentication.mode", &auth.mode, 8)?;
        f::text("authentication.token", &auth.token, 512)?;
        let return_url = f::text("authentication.return_url", &auth.return_url, 2048)?;
        let merchant_return_url = return_urls
            .check(return_url)
            .map_err(|reason| FieldError::new("authentication.return_url", reason))?;
        Ok(Self {
            reference,
            card,
            merchant_return_url,
            completion: None,
            request,
        })
    }

    /// What goes upstream: the typed request (unknown fields, CVV-like fields and any
    /// other object the caller sent are dropped), the reference code and card number as
    /// parsed, and `return_url` — ours, so the browser comes back to us.
    pub fn upstream_body(&self, return_url: &Url) -> CheckEnrollRequest {
        let mut body = self.request.clone();
        body.transaction_info = TransactionInfo {
            kind: "check_enroll".into(),
            reference_code: self.reference.to_string(),
        };
        body.card = upstream_card(&self.card, &self.request.card);
        body.authentication.return_url = return_url.to_string();
        body
    }

    /// What validate will need after the challenge; sealed at rest.
    pub fn payment_data(&self) -> PaymentData {
        PaymentData {
            card: upstream_card(&self.card, &self.request.card),
            order_info: self.request.order_info.clone(),
            bill_to: self.request.bill_to.clone(),
        }
    }

    /// What may be kept of the card in clear.
    pub fn card_summary(&self) -> CardSummary {
        self.card.summary()
    }

    /// The amount and currency this check enroll authenticates (as checked: trimmed).
    pub fn authenticated_amount(&self) -> Amount {
        let details = &self.request.order_info.amount_details;
        Amount {
            total_amount: details.total_amount.trim().to_owned(),
            currency: details.currency.trim().to_owned(),
        }
    }
}

/// A merchant's validate request whose every field checked out.
#[derive(Debug, Clone)]
pub struct ValidValidate {
    pub reference: ReferenceCode,
    pub transaction_id: TransactionId,
    pub payment: PaymentData,
}

impl ValidValidate {
    pub fn parse(request: ValidateRequest, today: NaiveDate) -> Check<Self> {
        let reference = transaction_info(&request.transaction_info, "validate_result")?;
        card(&request.card, today)?;
        order_info(&request.order_info)?;
        bill_to(&request.bill_to)?;
        let transaction_id = TransactionId::parse(
            "authentication.transaction_id",
            &request.authentication.transaction_id,
        )?;
        Ok(Self {
            reference,
            transaction_id,
            payment: PaymentData {
                card: request.card,
                order_info: request.order_info,
                bill_to: request.bill_to,
            },
        })
    }
}

fn transaction_info(info: &TransactionInfo, expected_type: &str) -> Check<ReferenceCode> {
    let kind = f::text("transaction_info.type", &info.kind, 32)?;
    if kind != expected_type {
        return Err(FieldError::new(
            "transaction_info.type",
            format!("must be \"{expected_type}\""),
        ));
    }
    ReferenceCode::parse("transaction_info.reference_code", &info.reference_code)
}

fn card(card: &Card, today: NaiveDate) -> Check<CardNumber> {
    let number = CardNumber::parse("card.number", &card.number)?;
    Expiry::parse("card.expiration_date", &card.expiration_date, today)?;
    Ok(number)
}

fn order_info(order: &OrderInfo) -> Check {
    f::amount(
        "order_info.amount_details.total_amount",
        &order.amount_details.total_amount,
    )?;
    f::currency(
        "order_info.amount_details.currency",
        &order.amount_details.currency,
    )
}

fn bill_to(bill_to: &BillTo) -> Check {
    f::text("bill_to.first_name", &bill_to.first_name, 60)?;
    f::text("bill_to.last_name", &bill_to.last_name, 60)?;
    f::country("bill_to.country", &bill_to.country)?;
    f::text("bill_to.address_1", &bill_to.address_1, 60)?;
    f::optional_text("bill_to.address_2", bill_to.address_2.as_deref(), 60)?;
    f::text("bill_to.city", &bill_to.city, 50)?;
    f::text("bill_to.state", &bill_to.state, 20)?;
    f::phone("bill_to.phone_number", &bill_to.phone_number)?;
    f::email("bill_to.email", &bill_to.email)?;
    f::text("bill_to.postal_code", &bill_to.postal_code, 10)?;
    Ok(())
}

fn device_info(device: &DeviceInfo) -> Check {
    let required = |field: &str, value: Option<bool>| {
        value
            .map(|_| ())
            .ok_or_else(|| FieldError::new(field, "is required (true or false)"))
    };
    f::ip_address("device_info.ip_address", &device.ip_address)?;
    f::digits(
        "device_info.http_browser_color_depth",
        &device.http_browser_color_depth,
        1,
        3,
    )?;
    required(
        "device_info.http_browser_java_enabled",
        device.http_browser_java_enabled,
    )?;
    required(
        "device_info.http_browser_js_enabled",
        device.http_browser_js_enabled,
    )?;
    f::digits(
        "device_info.http_browser_screen_height",
        &device.http_browser_screen_height,
        1,
        6,
    )?;
    f::digits(
        "device_info.http_browser_screen_width",
        &device.http_browser_screen_width,
        1,
        6,
    )?;
    f::time_offset(
        "device_info.http_browser_time_offset",
        &device.http_browser_time_offset,
    )?;
    f::text("device_info.user_agent", &device.user_agent, 2048)?;
    required("device_info.cookies_accepted", device.cookies_accepted)?;
    f::text(
        "device_info.http_browser_language",
        &device.http_browser_language,
        16,
    )?;
    f::text(
        "device_info.http_accept_content",
        &device.http_accept_content,
        256,
    )?;
    Ok(())
}
