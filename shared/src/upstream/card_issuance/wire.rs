//! The card-issuance API's request bodies and query, field for field. They are also the
//! gateway's own drop-in request bodies; what each field must hold is checked where the
//! request enters (the enroll function).

use serde::{Deserialize, Serialize};

/// `call_prefix` values the upstream accepts.
pub const CALL_PREFIXES: &[&str] = &[
    "+61", "+1", "+44", "+852", "+81", "+82", "+65", "+90", "+86", "+33",
];

/// Enroll a card, or re-point an enrolled card to another cardholder (same body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEnrollmentRequest {
    #[serde(default)]
    pub card_id: String,
    #[serde(default)]
    pub cardholder_id: String,
}

/// The contact fields that create and update share, borrowed for checking.
pub struct Contact<'a> {
    pub call_prefix: &'a str,
    pub mobile: &'a str,
    pub email: &'a str,
    pub date_of_birth: &'a str,
    pub state: &'a str,
    pub city: &'a str,
    pub address_line: &'a str,
    pub post_code: &'a str,
    pub country_code: &'a str,
    pub security_index: &'a str,
    pub security_answer: &'a str,
}

impl Contact<'_> {
    /// Every contact field the documentation requires, checked (`today` for the date of
    /// birth).
    pub fn check(&self, today: chrono::NaiveDate) -> crate::domain::Check {
        use crate::domain::field as f;
        f::one_of("call_prefix", self.call_prefix, CALL_PREFIXES)?;
        f::digits("mobile", self.mobile, 4, 15)?;
        f::email("email", self.email)?;
        f::date_of_birth("date_of_birth", self.date_of_birth, today)?;
        f::text("state", self.state, 64)?;
        f::text("city", self.city, 64)?;
        f::text("address_line", self.address_line, 128)?;
        f::text("post_code", self.post_code, 16)?;
        f::country("country_code", self.country_code)?;
        f::digits("security_index", self.security_index, 1, 2)?;
        f::text("security_answer", self.security_answer, 64)?;
        Ok(())
    }
}

/// Declares a cardholder request body: its own fields plus the contact fields that create
/// and update share. Plain fields (no `serde(flatten)`) so a type error names its field.
macro_rules! cardholder_request {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {
            $(#[serde(default)] pub $field: String,)*
            #[serde(default)] pub call_prefix: String,
            #[serde(default)] pub mobile: String,
            #[serde(default)] pub email: String,
            #[serde(default)] pub date_of_birth: String,
            #[serde(default)] pub state: String,
            #[serde(default)] pub city: String,
            #[serde(default)] pub address_line: String,
            #[serde(default)] pub post_code: String,
            #[serde(default)] pub country_code: String,
            #[serde(default)] pub security_index: String,
            #[serde(default)] pub security_answer: String,
        }

        impl $name {
            /// Every field as it was checked (trimmed, Unicode whitespace included): what
            /// is forwarded is what was validated and authorized, never the raw string.
            pub fn trimmed(self) -> Self {
                Self {
                    $($field: self.$field.trim().to_owned(),)*
                    call_prefix: self.call_prefix.trim().to_owned(),
                    mobile: self.mobile.trim().to_owned(),
                    email: self.email.trim().to_owned(),
                    date_of_birth: self.date_of_birth.trim().to_owned(),
                    state: self.state.trim().to_owned(),
                    city: self.city.trim().to_owned(),
                    address_line: self.address_line.trim().to_owned(),
                    post_code: self.post_code.trim().to_owned(),
                    country_code: self.country_code.trim().to_owned(),
                    security_index: self.security_index.trim().to_owned(),
                    security_answer: self.security_answer.trim().to_owned(),
                }
            }

            pub fn contact(&self) -> Contact<'_> {
                Contact {
                    call_prefix: &self.call_prefix,
                    mobile: &self.mobile,
                    email: &self.email,
                    date_of_birth: &self.date_of_birth,
                    state: &self.state,
                    city: &self.city,
                    address_line: &self.address_line,
                    post_code: &self.post_code,
                    country_code: &self.country_code,
                    security_index: &self.security_index,
                    security_answer: &self.security_answer,
                }
            }
        }
    };
}

cardholder_request! {
    /// Creates the 3DS contact (OTP email and mobile, security question) of a cardholder.
    CreateCardholderRequest { budget_id, first_name, last_name }
}

cardholder_request! {
    /// Replaces the contact of an existing cardholder (name and budget are fixed).
    UpdateCardholderRequest { cardholder_id }
}

/// Query of cardholder contacts; at least one filter is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CardholderQuery {
    pub page_no: u32,
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cardholder_id: Option<String>,
}

/// `POST 3ds/v2/unenroll` (inferred).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnenrollRequest {
    pub card_id: String,
}
