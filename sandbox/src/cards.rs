//! The Cardinal/Cybersource sandbox test cards: which network each is, which flow it
//! takes (frictionless, or a step-up) and what the issuer decides, with the fields an
//! authorization needs for each scenario (ECI, commerce indicator, reason code).

/// A 3DS result as the issuer would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub successful: bool,
    pub pares_status: &'static str,
    /// ECI (for Mastercard the `eci_raw`; Mastercard returns no `eci`).
    pub eci: &'static str,
}

impl Outcome {
    /// The reason code a result that is not a success carries
    /// (`signed_pares_status_reason`, the EMV 3-D Secure `transStatusReason`): `01` card
    /// authentication failed (N), `11` suspected fraud (R), `14` transaction timed out
    /// at the ACS (U). None for a success or an attempt.
    pub fn reason(&self) -> Option<&'static str> {
        match self.pares_status {
            "N" => Some("01"),
            "R" => Some("11"),
            "U" => Some("14"),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Enroll decides: no challenge.
    Frictionless(Outcome),
    /// Enroll answers `Pending_authentication`; validate gives this after the
    /// cardholder passes the challenge.
    StepUp(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCard {
    pub number: &'static str,
    pub network: &'static str,
    pub scenario: &'static str,
    pub flow: Flow,
}

pub(crate) const fn ok(pares_status: &'static str, eci: &'static str) -> Outcome {
    Outcome {
        successful: true,
        pares_status,
        eci,
    }
}

pub(crate) const fn no(pares_status: &'static str, eci: &'static str) -> Outcome {
    Outcome {
        successful: false,
        pares_status,
        eci,
    }
}

macro_rules! card {
    ($number:literal, $network:literal, $scenario:literal, $flow:expr) => {
        TestCard {
            number: $number,
            network: $network,
            scenario: $scenario,
            flow: $flow,
        }
    };
}

/// The Cardinal/Cybersource 3DS 2.2 sandbox cards (upstream-apis.md C.7). Any expiry in
/// the future works.
pub static TEST_CARDS: &[TestCard] = &[
    card!(
        "4000000000002701",
        "VISA",
        "frictionless success",
        Flow::Frictionless(ok("Y", "05"))
    ),
    card!(
        "4000000000002925",
        "VISA",
        "frictionless failed",
        Flow::Frictionless(no("N", "07"))
    ),
    card!(
        "4000000000002719",
        "VISA",
        "frictionless attempts",
        Flow::Frictionless(ok("A", "06"))
    ),
    card!(
        "4000000000002313",
        "VISA",
        "frictionless unavailable",
        Flow::Frictionless(no("U", "07"))
    ),
    card!(
        "4000000000002537",
        "VISA",
        "frictionless rejected",
        Flow::Frictionless(no("R", "07"))
    ),
    card!(
        "4000000000002503",
        "VISA",
        "step-up success",
        Flow::StepUp(ok("Y", "05"))
    ),
    card!(
        "4000000000002370",
        "VISA",
        "step-up failed",
        Flow::StepUp(no("N", "07"))
    ),
    card!(
        "4000000000002420",
        "VISA",
        "step-up unavailable",
        Flow::StepUp(ok("U", "07"))
    ),
    card!(
        "5200000000002235",
        "MASTERCARD",
        "frictionless success",
        Flow::Frictionless(ok("Y", "02"))
    ),
    card!(
        "5200000000002276",
        "MASTERCARD",
        "frictionless failed",
        Flow::Frictionless(no("N", "00"))
    ),
    card!(
        "5200000000002151",
        "MASTERCARD",
        "step-up success",
        Flow::StepUp(ok("Y", "02"))
    ),
    card!(
        "5200000000002490",
        "MASTERCARD",
        "step-up failed",
        Flow::StepUp(no("N", "00"))
    ),
    card!(
        "5200000000002664",
        "MASTERCARD",
        "step-up unavailable",
        Flow::StepUp(ok("U", "00"))
    ),
    card!(
        "340000000002534",
        "AMEX",
        "step-up success",
        Flow::StepUp(ok("Y", "05"))
    ),
    card!(
        "340000000002237",
        "AMEX",
        "frictionless failed",
        Flow::Frictionless(no("N", "07"))
    ),
];

static GENERIC: [TestCard; 3] = [
    card!(
        "",
        "VISA",
        "enrolled, frictionless success",
        Flow::Frictionless(ok("Y", "05"))
    ),
    card!(
        "",
        "MASTERCARD",
        "enrolled, frictionless success",
        Flow::Frictionless(ok("Y", "02"))
    ),
    card!(
        "",
        "AMEX",
        "enrolled, frictionless success",
        Flow::Frictionless(ok("Y", "05"))
    ),
];

/// The test card for a number; other numbers (and token expressions) authenticate
/// frictionlessly.
pub fn test_card(number: &str) -> &'static TestCard {
    if let Some(card) = TEST_CARDS.iter().find(|c| c.number == number) {
        return card;
    }
    match number.as_bytes().first() {
        Some(b'5' | b'2') => &GENERIC[1],
        Some(b'3') => &GENERIC[2],
        _ => &GENERIC[0],
    }
}

/// The commerce indicator an authorization carries for `outcome` on `network`
/// (Cybersource's: `vbv`, `spa`, `aesk`, their attempted forms, or `internet`).
pub fn commerce_indicator(network: &str, outcome: &Outcome) -> &'static str {
    match (network, outcome.successful, outcome.pares_status) {
        ("MASTERCARD", true, _) => "spa",
        ("AMEX", true, "A") => "aesk_attempted",
        ("AMEX", true, _) => "aesk",
        (_, true, "A") => "vbv_attempted",
        (_, true, _) => "vbv",
        _ => "internet",
    }
}
