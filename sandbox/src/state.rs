//! The sandbox's configuration and mutable world.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::cards::TestCard;
use crate::faults::{Fault, FaultRule, RecordedCall};

/// Credentials and knobs. The defaults are the documented sandbox credentials.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub issuance_api_key: String,
    pub issuance_access_token: String,
    /// A second key whose account has 3DS switched off (every 3DS call gets 403).
    pub issuance_api_key_without_3ds: String,
    pub payer_auth_api_key: String,
    /// The card-issuance API's documented limit is 1000 requests per 10 s.
    pub issuance_requests_per_10s: usize,
    /// The one-time code the step-up page accepts.
    pub otp_code: String,
    /// Base URL the sandbox advertises in step-up and device-data URLs; defaults to
    /// `http://{bound address}`.
    pub public_base_url: Option<String>,
    /// Derive setup's `reference_id` and check enroll's `authentication_transaction_id`
    /// from the reference code instead of drawing them at random, so that recorded
    /// payloads (the `events/` files) stay valid against a fresh sandbox.
    pub deterministic_ids: bool,
    /// Serve `POST 3ds/v2/unenroll` (inferred: not in the upstream's documentation).
    /// Off, the sandbox answers it like a route that does not exist, as the real API may.
    pub unenroll_route: bool,
    /// How many further active cards each of the second and third budgets has, for bulk
    /// runs ([`seeded_card_id`], [`seeded_third_card_id`]).
    pub bulk_cards: usize,
}

pub const ISSUANCE_API_KEY: &str = "sandbox-ahrvo-api-key";
pub const ISSUANCE_ACCESS_TOKEN: &str = "sandbox-ahrvo-access-token";
pub const ISSUANCE_API_KEY_WITHOUT_3DS: &str = "sandbox-ahrvo-api-key-no-3ds";
pub const PAYER_AUTH_API_KEY: &str = "sandbox-firstoken-api-key";
pub const OTP_CODE: &str = "1234";

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            issuance_api_key: ISSUANCE_API_KEY.into(),
            issuance_access_token: ISSUANCE_ACCESS_TOKEN.into(),
            issuance_api_key_without_3ds: ISSUANCE_API_KEY_WITHOUT_3DS.into(),
            payer_auth_api_key: PAYER_AUTH_API_KEY.into(),
            issuance_requests_per_10s: 1000,
            otp_code: OTP_CODE.into(),
            public_base_url: None,
            deterministic_ids: false,
            unenroll_route: true,
            bulk_cards: 200,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardStatus {
    Active,
    Inactive,
}

/// A card: its status and the budget it was issued from.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub card_status: CardStatus,
    pub budget_id: String,
}

impl Card {
    pub fn active(budget_id: &str) -> Self {
        Self {
            card_status: CardStatus::Active,
            budget_id: budget_id.into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Cardholder {
    pub cardholder_id: String,
    pub budget_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub call_prefix: String,
    pub mobile: String,
    pub date_of_birth: String,
    pub country_code: String,
    pub state: String,
    pub city: String,
    pub address_line: String,
    pub post_code: String,
    pub security_index: String,
    pub security_answer: String,
}

/// The card-issuance side: budgets, cards, cardholders, enrollments.
#[derive(Debug, Default)]
pub struct IssuanceWorld {
    pub budgets: Vec<String>,
    pub cards: BTreeMap<String, Card>,
    pub cardholders: BTreeMap<String, Cardholder>,
    /// card id → cardholder id.
    pub enrollments: HashMap<String, String>,
    pub next_cardholder_id: u64,
    pub recent_requests: VecDeque<Instant>,
}

pub const BUDGET_ID: &str = "ci202008281528472924";
pub const SECOND_BUDGET_ID: &str = "ci202210231533401801";
/// A third budget, for a second card program: its cardholder is Olivia Brown.
pub const THIRD_BUDGET_ID: &str = "ci202301011200000001";
/// The card of the seed's example, active (second budget, like its cardholder).
pub const ACTIVE_CARD_ID: &str = "card59202507231957437131";
/// An active card of the third budget (the second card program's).
pub const THIRD_BUDGET_CARD_ID: &str = "card20230101120000000001";
pub const INACTIVE_CARD_ID: &str = "card29990101000000000001";
/// The cardholder of the seed's example (Emma Johnson).
pub const CARDHOLDER_ID: &str = "471041678120300545";
pub const SECOND_CARDHOLDER_ID: &str = "471041678120300546";
pub const THIRD_BUDGET_CARDHOLDER_ID: &str = "471041678120300547";

/// The ids of the further seeded active cards of the second budget (for bulk
/// enrollment; 200 by default, `--bulk-cards`).
pub fn seeded_card_id(i: usize) -> String {
    format!("card2025010100000000{i:04}")
}

/// The ids of the third budget's (the second card program's) further active cards.
pub fn seeded_third_card_id(i: usize) -> String {
    format!("card2023010112000100{i:04}")
}

impl IssuanceWorld {
    pub fn seeded(bulk_cards: usize) -> Self {
        let mut world = Self {
            budgets: vec![
                BUDGET_ID.into(),
                SECOND_BUDGET_ID.into(),
                THIRD_BUDGET_ID.into(),
            ],
            next_cardholder_id: 471_041_678_120_400_000,
            ..Default::default()
        };
        let cards = [
            (ACTIVE_CARD_ID.to_owned(), Card::active(SECOND_BUDGET_ID)),
            (
                "card20820230817163921206780".to_owned(),
                Card::active(BUDGET_ID),
            ),
            (
                INACTIVE_CARD_ID.to_owned(),
                Card {
                    card_status: CardStatus::Inactive,
                    budget_id: SECOND_BUDGET_ID.into(),
                },
            ),
            (
                THIRD_BUDGET_CARD_ID.to_owned(),
                Card::active(THIRD_BUDGET_ID),
            ),
        ];
        world.cards.extend(cards);
        for i in 0..bulk_cards {
            world
                .cards
                .insert(seeded_card_id(i), Card::active(SECOND_BUDGET_ID));
            world
                .cards
                .insert(seeded_third_card_id(i), Card::active(THIRD_BUDGET_ID));
        }
        let emma = Cardholder {
            cardholder_id: CARDHOLDER_ID.into(),
            budget_id: SECOND_BUDGET_ID.into(),
            first_name: "Emma".into(),
            last_name: "Johnson".into(),
            email: "emma.johnson@example.com".into(),
            call_prefix: "+1".into(),
            mobile: "2125551234".into(),
            date_of_birth: "1996-10-31".into(),
            country_code: "US".into(),
            state: "Illinois".into(),
            city: "Chicago".into(),
            address_line: "456 Maple Avenue".into(),
            post_code: "60601".into(),
            security_index: "2".into(),
            security_answer: "Han".into(),
        };
        let liam = Cardholder {
            cardholder_id: SECOND_CARDHOLDER_ID.into(),
            first_name: "Liam".into(),
            last_name: "Smith".into(),
            email: "liam.smith@example.com".into(),
            mobile: "3125550000".into(),
            security_answer: "Oak".into(),
            ..emma.clone()
        };
        let olivia = Cardholder {
            cardholder_id: THIRD_BUDGET_CARDHOLDER_ID.into(),
            budget_id: THIRD_BUDGET_ID.into(),
            first_name: "Olivia".into(),
            last_name: "Brown".into(),
            email: "olivia.brown@example.com".into(),
            mobile: "4155550100".into(),
            security_answer: "Elm".into(),
            ..emma.clone()
        };
        world.cardholders.insert(emma.cardholder_id.clone(), emma);
        world.cardholders.insert(liam.cardholder_id.clone(), liam);
        world
            .cardholders
            .insert(olivia.cardholder_id.clone(), olivia);
        world
    }
}

/// Where a step-up challenge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeStatus {
    /// Waiting for the cardholder.
    Pending,
    /// The cardholder typed the right code.
    Passed,
    /// The cardholder typed a wrong code.
    Failed,
    /// The cardholder pressed cancel.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub reference_code: String,
    pub card: &'static TestCard,
    pub bin: String,
    pub return_url: String,
    pub status: ChallengeStatus,
    /// The authentication's identifiers, the same in validate's answer.
    pub ids: crate::ids::Ids,
}

/// The payer-authentication side: setups and challenges.
#[derive(Debug, Default)]
pub struct PayerWorld {
    /// reference_id (device data collection) → reference_code.
    pub setups: HashMap<String, String>,
    /// authentication_transaction_id → challenge.
    pub challenges: HashMap<String, Challenge>,
}

pub struct SandboxState {
    pub config: SandboxConfig,
    pub base_url: String,
    pub jwt_secret: Vec<u8>,
    pub calls: Mutex<Vec<RecordedCall>>,
    pub faults: Mutex<Vec<FaultRule>>,
    pub issuance: Mutex<IssuanceWorld>,
    pub payer: Mutex<PayerWorld>,
    /// Upstream requests being handled right now, and the most seen at once.
    pub in_flight: std::sync::atomic::AtomicUsize,
    pub max_in_flight: std::sync::atomic::AtomicUsize,
    /// The card-issuance API's limit per 10 s (the configured one, until a test moves it).
    pub issuance_limit: std::sync::atomic::AtomicUsize,
}

impl SandboxState {
    pub fn new(config: SandboxConfig, base_url: String) -> Self {
        Self {
            base_url,
            jwt_secret: (0..32).map(|_| fastrand::u8(..)).collect(),
            calls: Mutex::default(),
            faults: Mutex::default(),
            issuance: Mutex::new(IssuanceWorld::seeded(config.bulk_cards)),
            payer: Mutex::default(),
            in_flight: Default::default(),
            max_in_flight: Default::default(),
            issuance_limit: config.issuance_requests_per_10s.into(),
            config,
        }
    }

    pub fn record(&self, call: RecordedCall) {
        self.calls.lock().unwrap().push(call);
    }

    /// Takes the first matching fault, counting down its remaining uses.
    pub fn take_fault(&self, matches: impl Fn(&FaultRule) -> bool) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        let index = faults.iter().position(matches)?;
        let fault = faults[index].fault.clone();
        if let Some(times) = faults[index].times.as_mut() {
            *times -= 1;
            if *times == 0 {
                faults.remove(index);
            }
        }
        Some(fault)
    }
}
