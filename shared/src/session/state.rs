//! The authentication session's states and every transition between them.
//!
//! ```text
//! (none) ──RecordSetup──▶ SETUP_COMPLETED
//! (none) | SETUP_COMPLETED | ENROLLING(lease over, same request) ──ClaimEnrollment──▶ ENROLLING
//! ENROLLING(our claim) ──CompleteEnrollment──▶ AUTHENTICATED | FAILED | CHALLENGE_PENDING
//! ENROLLING(our claim) ──ReleaseEnrollment──▶ SETUP_COMPLETED        (upstream fault: retryable)
//! CHALLENGE_PENDING | VALIDATING(lease over), before deadline ──ClaimValidation──▶ VALIDATING
//! VALIDATING(our claim) ──CompleteValidation──▶ AUTHENTICATED | FAILED
//! VALIDATING(our claim) ──ReleaseValidation──▶ CHALLENGE_PENDING      (upstream fault: retryable)
//! CHALLENGE_PENDING | VALIDATING(lease over), past deadline ──Expire──▶ EXPIRED
//! CHALLENGE_PENDING | VALIDATING(lease over), before deadline ──Cancel──▶ CANCELED
//! AUTHENTICATED, never consumed, amount within ──Consume──▶ AUTHENTICATED (consumed)
//! ```
//!
//! Each transition is exactly one conditional write: its guard names the states it may
//! leave (and the claim it must hold), so two racing writers cannot both win, and no
//! transition reads first. A claim is a lease no longer than the function timeout, so a
//! claim left by an invocation that died can be taken over.

use serde::{Deserialize, Serialize};

use super::sealing::RecordedResult;
use super::{Consumption, SessionRef, attr};
use crate::crypto::SealedData;
use crate::domain::{Amount, AuthenticationResult, CardSummary};
use crate::lease;
use crate::store::index::{self, DeadlinePartition};
use crate::store::listing::{ListingKey, ListingPartition};
use crate::store::{AttributeValue, Guard, Kind, Mutation, Patch, number_value, string_value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionState {
    SetupCompleted,
    Enrolling,
    ChallengePending,
    Validating,
    Authenticated,
    Failed,
    Expired,
    /// The merchant canceled the pending challenge.
    Canceled,
}

impl SessionState {
    pub const ALL: [SessionState; 8] = [
        SessionState::SetupCompleted,
        SessionState::Enrolling,
        SessionState::ChallengePending,
        SessionState::Validating,
        SessionState::Authenticated,
        SessionState::Failed,
        SessionState::Expired,
        SessionState::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::SetupCompleted => "SETUP_COMPLETED",
            SessionState::Enrolling => "ENROLLING",
            SessionState::ChallengePending => "CHALLENGE_PENDING",
            SessionState::Validating => "VALIDATING",
            SessionState::Authenticated => "AUTHENTICATED",
            SessionState::Failed => "FAILED",
            SessionState::Expired => "EXPIRED",
            SessionState::Canceled => "CANCELED",
        }
    }

    /// The state named as `as_str` names it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Authenticated
                | SessionState::Failed
                | SessionState::Expired
                | SessionState::Canceled
        )
    }

    /// A state held under a claim (lease) by one invocation.
    pub fn is_claimed(self) -> bool {
        matches!(self, SessionState::Enrolling | SessionState::Validating)
    }

    fn guard(self) -> Guard {
        Guard::equals(attr::STATE, self.as_str())
    }
}

/// What check-enroll learned from the upstream, as it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum EnrollmentOutcome {
    /// Frictionless: the result is final.
    Final {
        state: SessionState,
        result: Box<RecordedResult>,
    },
    /// The cardholder must complete a challenge; what validate needs later is sealed.
    Challenge {
        authentication_transaction_id: String,
        transaction_mac: String,
        challenge_deadline_ms: i64,
        /// How the browser's return will end.
        completion: crate::domain::CompletionMode,
        merchant_return_url: String,
        sealed_payment_data: SealedData,
        /// Check enroll's result (the ARes status and the ids), which completes
        /// validate's.
        enrollment_result: Box<AuthenticationResult>,
    },
}

/// Every change of state a session can make, each turned into one guarded write of the
/// session it names by [`Transition::mutation`].
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    RecordSetup {
        fingerprint: String,
        response: SealedData,
        now_ms: i64,
        expires_at: i64,
    },
    ClaimEnrollment {
        fingerprint: String,
        claim_id: String,
        now_ms: i64,
        lease_until_ms: i64,
        expires_at: i64,
    },
    CompleteEnrollment {
        claim_id: String,
        outcome: EnrollmentOutcome,
        card: CardSummary,
        /// The amount and currency the check enroll authenticates.
        amount: Amount,
        response: SealedData,
        now_ms: i64,
        expires_at: i64,
    },
    ReleaseEnrollment {
        claim_id: String,
        now_ms: i64,
    },
    ClaimValidation {
        transaction_mac: String,
        claim_id: String,
        now_ms: i64,
        lease_until_ms: i64,
    },
    CompleteValidation {
        claim_id: String,
        state: SessionState,
        result: RecordedResult,
        response: SealedData,
        now_ms: i64,
        expires_at: i64,
    },
    ReleaseValidation {
        claim_id: String,
        now_ms: i64,
    },
    Expire {
        now_ms: i64,
        expires_at: i64,
    },
    /// The merchant gives up on a pending challenge.
    Cancel {
        now_ms: i64,
        expires_at: i64,
    },
    /// The merchant takes the authenticated result to an authorization: once, and for
    /// no more than the authenticated amount, in its currency.
    Consume {
        consumption: Consumption,
    },
}

/// A claim held by someone else whose lease has run out.
fn lapsed_claim(state: SessionState, now_ms: i64) -> Guard {
    Guard::And(vec![state.guard(), lease::claimable(now_ms)])
}

fn held_claim(state: SessionState, claim_id: &str) -> Guard {
    Guard::And(vec![state.guard(), lease::held_by(claim_id)])
}

/// Every write stamps when it happened and when TTL may delete the record.
fn stamped(patch: Patch, now_ms: i64, expires_at: i64) -> Patch {
    patch
        .set_n(attr::UPDATED_AT, now_ms)
        .set_n(attr::EXPIRES_AT, expires_at)
}

/// A terminal state: the claim is over, the card data has served its purpose, and the
/// sweeper has nothing left to expire.
fn terminal(patch: Patch, now_ms: i64, expires_at: i64) -> Patch {
    lease::ended(stamped(patch, now_ms, expires_at))
        .remove(attr::SEALED_PAYMENT_DATA)
        .remove(index::attr::SWEEP_PK)
        .remove(index::attr::SWEEP_SK)
}

/// What a session's first write (setup's, or a check enroll's that came without one)
/// creates besides its state: its kind, names, creation time and listing entry — only
/// where absent when `if_absent`.
fn created(patch: Patch, session: &SessionRef, now_ms: i64, if_absent: bool) -> Patch {
    first_attributes(session, now_ms)
        .into_iter()
        .fold(patch, |patch, (name, value)| {
            if if_absent {
                patch.set_if_absent(name, value)
            } else {
                patch.set(name, value)
            }
        })
}

fn first_attributes(session: &SessionRef, now_ms: i64) -> [(&'static str, AttributeValue); 6] {
    let listing = ListingPartition::of(
        &session.tenant,
        Kind::AuthenticationSession,
        session.reference.as_str(),
    );
    [
        (
            crate::store::attr::KIND,
            string_value(Kind::AuthenticationSession.as_str()),
        ),
        (
            attr::REFERENCE_CODE,
            string_value(session.reference.as_str()),
        ),
        (attr::TENANT_ID, string_value(session.tenant.as_str())),
        (index::attr::LIST_PK, string_value(listing.to_string())),
        (
            index::attr::LIST_SK,
            string_value(ListingKey::new(now_ms, session.reference.as_str()).encode()),
        ),
        (attr::CREATED_AT, number_value(now_ms)),
    ]
}

/// The authenticated amount covers `asked`: the same currency, and no less in
/// thousandths. A session recorded before amounts were kept has none to compare.
fn within(asked: &Amount) -> Guard {
    let thousandths = asked
        .thousandths()
        .expect("a consume's amount was checked to be in range");
    Guard::Or(vec![
        Guard::Missing(attr::AUTHENTICATED_THOUSANDTHS),
        Guard::And(vec![
            Guard::equals(attr::AUTHENTICATED_CURRENCY, asked.currency.as_str()),
            Guard::Gt(attr::AUTHENTICATED_THOUSANDTHS, thousandths - 1),
        ]),
    ])
}

/// A challenge nobody is working on: pending, or claimed by someone whose lease ran out.
fn open_challenge(now_ms: i64) -> Guard {
    Guard::Or(vec![
        SessionState::ChallengePending.guard(),
        lapsed_claim(SessionState::Validating, now_ms),
    ])
}

fn map<T: Serialize>(value: &T) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("session values serialize to DynamoDB")
}

impl Transition {
    /// The state the session is in after this transition.
    pub fn target(&self) -> SessionState {
        match self {
            Transition::RecordSetup { .. } | Transition::ReleaseEnrollment { .. } => {
                SessionState::SetupCompleted
            }
            Transition::ClaimEnrollment { .. } => SessionState::Enrolling,
            Transition::CompleteEnrollment { outcome, .. } => match outcome {
                EnrollmentOutcome::Final { state, .. } => *state,
                EnrollmentOutcome::Challenge { .. } => SessionState::ChallengePending,
            },
            Transition::ClaimValidation { .. } => SessionState::Validating,
            Transition::CompleteValidation { state, .. } => *state,
            Transition::ReleaseValidation { .. } => SessionState::ChallengePending,
            Transition::Expire { .. } => SessionState::Expired,
            Transition::Cancel { .. } => SessionState::Canceled,
            Transition::Consume { .. } => SessionState::Authenticated,
        }
    }

    /// The one conditional write that performs this transition on `session`.
    /// `mutation_id` is stamped on the item so a write that landed but whose answer was
    /// lost (and was retried by the SDK) can be recognised as our own.
    pub fn mutation(&self, session: &SessionRef, mutation_id: &str) -> Mutation {
        let base = Patch::default()
            .set_s(attr::STATE, self.target().as_str())
            .set_s(attr::MUTATION_ID, mutation_id);
        Mutation {
            guard: self.guard(),
            patch: self.patch(session, base),
        }
    }

    /// The condition: which states (and whose claim) the transition may leave.
    fn guard(&self) -> Guard {
        match self {
            Transition::RecordSetup { .. } => Guard::Absent,
            // Setup may have gone through us or straight to the upstream: a session that
            // does not exist yet is created by its first claim. A claim left by an
            // invocation that died (its lease lapsed) is taken over by the merchant's next
            // request, whatever its body: the dead attempt's outcome is unknown either way,
            // as after an upstream fault (which releases the claim).
            Transition::ClaimEnrollment { now_ms, .. } => Guard::Or(vec![
                Guard::Absent,
                SessionState::SetupCompleted.guard(),
                lapsed_claim(SessionState::Enrolling, *now_ms),
            ]),
            Transition::CompleteEnrollment { claim_id, .. }
            | Transition::ReleaseEnrollment { claim_id, .. } => {
                held_claim(SessionState::Enrolling, claim_id)
            }
            Transition::ClaimValidation {
                transaction_mac,
                now_ms,
                ..
            } => Guard::And(vec![
                Guard::equals(attr::TRANSACTION_MAC, transaction_mac),
                Guard::Gt(attr::CHALLENGE_DEADLINE, *now_ms),
                open_challenge(*now_ms),
            ]),
            Transition::CompleteValidation { claim_id, .. }
            | Transition::ReleaseValidation { claim_id, .. } => {
                held_claim(SessionState::Validating, claim_id)
            }
            Transition::Expire { now_ms, .. } => Guard::And(vec![
                Guard::Le(attr::CHALLENGE_DEADLINE, *now_ms),
                open_challenge(*now_ms),
            ]),
            // Not while a validation holds a live claim: the cardholder got there first.
            Transition::Cancel { now_ms, .. } => open_challenge(*now_ms),
            Transition::Consume { consumption } => {
                let mut guard = vec![
                    SessionState::Authenticated.guard(),
                    Guard::Missing(attr::CONSUMPTION),
                ];
                if let Some(asked) = &consumption.amount {
                    guard.push(within(asked));
                }
                Guard::And(guard)
            }
        }
    }

    /// What the transition writes, on top of the new state and the mutation id.
    fn patch(&self, session: &SessionRef, base: Patch) -> Patch {
        match self {
            Transition::RecordSetup {
                fingerprint,
                response,
                now_ms,
                expires_at,
            } => stamped(created(base, session, *now_ms, false), *now_ms, *expires_at)
                .set_s(attr::SETUP_FINGERPRINT, fingerprint)
                .set(attr::SETUP_RESPONSE, map(response)),
            Transition::ClaimEnrollment {
                fingerprint,
                claim_id,
                now_ms,
                lease_until_ms,
                expires_at,
            } => {
                // Setup may have created the session already: kept as it made it.
                let patch = created(base, session, *now_ms, true);
                lease::taken(
                    stamped(patch, *now_ms, *expires_at),
                    claim_id,
                    *lease_until_ms,
                )
                .set_s(attr::ENROLL_FINGERPRINT, fingerprint)
            }
            Transition::CompleteEnrollment {
                outcome,
                card,
                amount,
                response,
                now_ms,
                expires_at,
                ..
            } => {
                let recorded = stamped(base, *now_ms, *expires_at)
                    .set(attr::ENROLL_RESPONSE, map(response))
                    .set(attr::CARD, map(card));
                outcome.patch(
                    session,
                    authenticated_amount(lease::ended(recorded), amount),
                )
            }
            // The request never completed: forget it, so the same reference_code can be
            // retried (with the same or a corrected body).
            Transition::ReleaseEnrollment { now_ms, .. } => {
                lease::ended(base.set_n(attr::UPDATED_AT, *now_ms)).remove(attr::ENROLL_FINGERPRINT)
            }
            Transition::ClaimValidation {
                claim_id,
                now_ms,
                lease_until_ms,
                ..
            } => lease::taken(base, claim_id, *lease_until_ms).set_n(attr::UPDATED_AT, *now_ms),
            Transition::CompleteValidation {
                result,
                response,
                now_ms,
                expires_at,
                ..
            } => result
                .patch(terminal(base, *now_ms, *expires_at))
                .set(attr::VALIDATE_RESPONSE, map(response)),
            Transition::ReleaseValidation { now_ms, .. } => {
                lease::ended(base.set_n(attr::UPDATED_AT, *now_ms))
            }
            Transition::Expire { now_ms, expires_at }
            | Transition::Cancel { now_ms, expires_at } => terminal(base, *now_ms, *expires_at),
            // The decision's time (`updated_at`) stays the decision's: the consumption
            // carries its own.
            Transition::Consume { consumption } => base.set(attr::CONSUMPTION, map(consumption)),
        }
    }
}

/// What check enroll authenticated: the amount as sent, and in thousandths for a
/// consume's guard (an amount beyond `i64` thousandths, checked but absurd, is above
/// any a consume may name).
fn authenticated_amount(patch: Patch, amount: &Amount) -> Patch {
    patch
        .set_s(attr::AUTHENTICATED_TOTAL_AMOUNT, &amount.total_amount)
        .set_s(attr::AUTHENTICATED_CURRENCY, &amount.currency)
        .set_n(
            attr::AUTHENTICATED_THOUSANDTHS,
            amount.thousandths().unwrap_or(i64::MAX),
        )
}

impl RecordedResult {
    fn patch(&self, patch: Patch) -> Patch {
        let patch = patch.set(attr::RESULT, map(&self.result));
        match &self.sealed_values {
            Some(sealed) => patch.set(attr::SEALED_AUTHENTICATION_VALUES, map(sealed)),
            None => patch,
        }
    }
}

impl EnrollmentOutcome {
    /// What check enroll's outcome adds to the session.
    fn patch(&self, session: &SessionRef, patch: Patch) -> Patch {
        match self {
            EnrollmentOutcome::Final { result, .. } => result.patch(patch),
            EnrollmentOutcome::Challenge {
                authentication_transaction_id,
                transaction_mac,
                challenge_deadline_ms,
                completion,
                merchant_return_url,
                sealed_payment_data,
                enrollment_result,
            } => patch
                .set(attr::ENROLLMENT_RESULT, map(enrollment_result))
                .set_s(attr::COMPLETION, completion.as_str())
                .set_s(
                    index::attr::SWEEP_PK,
                    DeadlinePartition::of(&session.key(), *challenge_deadline_ms).to_string(),
                )
                .set_n(index::attr::SWEEP_SK, *challenge_deadline_ms)
                .set_s(
                    attr::AUTHENTICATION_TRANSACTION_ID,
                    authentication_transaction_id,
                )
                .set_s(attr::TRANSACTION_MAC, transaction_mac)
                .set_n(attr::CHALLENGE_DEADLINE, *challenge_deadline_ms)
                .set_s(attr::MERCHANT_RETURN_URL, merchant_return_url)
                .set(attr::SEALED_PAYMENT_DATA, map(sealed_payment_data)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuthenticationResult;
    use crate::store::memory::holds;
    use crate::store::{Item, KEY};

    fn session() -> SessionRef {
        SessionRef::new(
            crate::domain::TenantId::parse("tenant", "m1").unwrap(),
            crate::domain::ReferenceCode::parse("reference", "r").unwrap(),
        )
    }

    fn item(state: SessionState, extra: &[(&str, AttributeValue)]) -> Item {
        let mut item = Item::from([
            (KEY.to_owned(), string_value("AUTH#r")),
            (attr::STATE.to_owned(), string_value(state.as_str())),
            (attr::TENANT_ID.to_owned(), string_value("m1")),
            (attr::CLAIM_ID.to_owned(), string_value("c1")),
            (attr::LEASE_UNTIL.to_owned(), number_value(100)),
            (attr::ENROLL_FINGERPRINT.to_owned(), string_value("fp")),
            (attr::TRANSACTION_MAC.to_owned(), string_value("mac")),
            (attr::CHALLENGE_DEADLINE.to_owned(), number_value(1_000)),
        ]);
        for (k, v) in extra {
            item.insert((*k).to_owned(), v.clone());
        }
        item
    }

    /// Which states each transition may leave, at a time when claims have lapsed
    /// (`now` = 500 > lease 100) and the deadline (1000) is ahead or behind.
    fn admitted(transition: &Transition) -> Vec<SessionState> {
        let guard = transition.mutation(&session(), "m").guard;
        SessionState::ALL
            .into_iter()
            .filter(|state| holds(&guard, Some(&item(*state, &[]))))
            .collect()
    }

    #[test]
    fn each_transition_leaves_only_the_states_the_diagram_shows() {
        use SessionState::*;
        let claim_enrollment = Transition::ClaimEnrollment {
            fingerprint: "fp".into(),
            claim_id: "c2".into(),
            now_ms: 500,
            lease_until_ms: 900,
            expires_at: 9,
        };
        assert_eq!(admitted(&claim_enrollment), vec![SetupCompleted, Enrolling]);
        assert!(holds(
            &claim_enrollment.mutation(&session(), "m").guard,
            None
        ));

        let claim_validation = Transition::ClaimValidation {
            transaction_mac: "mac".into(),
            claim_id: "c2".into(),
            now_ms: 500,
            lease_until_ms: 900,
        };
        assert_eq!(
            admitted(&claim_validation),
            vec![ChallengePending, Validating]
        );
        assert!(!holds(
            &claim_validation.mutation(&session(), "m").guard,
            None
        ));

        let complete = Transition::ReleaseValidation {
            claim_id: "c1".into(),
            now_ms: 500,
        };
        assert_eq!(admitted(&complete), vec![Validating]);

        let expire_early = Transition::Expire {
            now_ms: 500,
            expires_at: 9,
        };
        assert_eq!(admitted(&expire_early), Vec::<SessionState>::new());
        let expire_late = Transition::Expire {
            now_ms: 1_000,
            expires_at: 9,
        };
        assert_eq!(admitted(&expire_late), vec![ChallengePending, Validating]);
    }

    #[test]
    fn a_live_claim_blocks_a_claim_and_a_lapsed_one_is_taken_over_by_any_request() {
        let live = item(
            SessionState::Enrolling,
            &[(attr::LEASE_UNTIL, number_value(10_000))],
        );
        let claim = |fingerprint: &str| Transition::ClaimEnrollment {
            fingerprint: fingerprint.into(),
            claim_id: "c2".into(),
            now_ms: 500,
            lease_until_ms: 900,
            expires_at: 9,
        };
        assert!(!holds(
            &claim("fp").mutation(&session(), "m").guard,
            Some(&live)
        ));
        let lapsed = item(SessionState::Enrolling, &[]);
        assert!(holds(
            &claim("fp").mutation(&session(), "m").guard,
            Some(&lapsed)
        ));
        assert!(
            holds(
                &claim("other").mutation(&session(), "m").guard,
                Some(&lapsed)
            ),
            "a corrected body after a crash"
        );
        assert!(!holds(
            &claim("other").mutation(&session(), "m").guard,
            Some(&live)
        ));
        let setup = item(SessionState::SetupCompleted, &[]);
        assert!(holds(
            &claim("other").mutation(&session(), "m").guard,
            Some(&setup)
        ));
    }

    #[test]
    fn a_wrong_transaction_id_or_a_passed_deadline_blocks_validation() {
        let pending = item(SessionState::ChallengePending, &[]);
        let claim = |mac: &str, now_ms: i64| Transition::ClaimValidation {
            transaction_mac: mac.into(),
            claim_id: "c2".into(),
            now_ms,
            lease_until_ms: now_ms + 10,
        };
        assert!(holds(
            &claim("mac", 999).mutation(&session(), "m").guard,
            Some(&pending)
        ));
        assert!(!holds(
            &claim("forged", 999).mutation(&session(), "m").guard,
            Some(&pending)
        ));
        assert!(!holds(
            &claim("mac", 1_000).mutation(&session(), "m").guard,
            Some(&pending)
        ));
    }

    #[test]
    fn a_consume_leaves_only_an_authenticated_unused_result_within_its_amount() {
        let consume = |amount: Option<(&str, &str)>| Transition::Consume {
            consumption: Consumption {
                consumed_at: 500,
                order_id: None,
                amount: amount.map(|(total_amount, currency)| Amount {
                    total_amount: total_amount.into(),
                    currency: currency.into(),
                }),
                idempotency_key: None,
                request: "r".into(),
            },
        };
        assert_eq!(admitted(&consume(None)), vec![SessionState::Authenticated]);
        let authenticated = |extra: &[(&str, AttributeValue)]| {
            let mut pairs = vec![
                (attr::AUTHENTICATED_CURRENCY, string_value("USD")),
                (attr::AUTHENTICATED_THOUSANDTHS, number_value(10_500)),
            ];
            pairs.extend_from_slice(extra);
            item(SessionState::Authenticated, &pairs)
        };
        let guard = |t: &Transition| t.mutation(&session(), "m").guard;
        assert!(holds(
            &guard(&consume(Some(("10.5", "USD")))),
            Some(&authenticated(&[]))
        ));
        assert!(!holds(
            &guard(&consume(Some(("10.501", "USD")))),
            Some(&authenticated(&[]))
        ));
        assert!(!holds(
            &guard(&consume(Some(("1", "EUR")))),
            Some(&authenticated(&[]))
        ));
        let used = authenticated(&[(attr::CONSUMPTION, AttributeValue::M(Default::default()))]);
        assert!(
            !holds(&guard(&consume(None)), Some(&used)),
            "used once only"
        );
        assert!(!holds(&guard(&consume(None)), None));
    }

    fn sealed() -> SealedData {
        SealedData {
            key_id: "k".into(),
            nonce: vec![0; 12],
            ciphertext: vec![1],
        }
    }

    #[test]
    fn terminal_transitions_remove_the_sealed_card_data() {
        let complete = Transition::CompleteValidation {
            claim_id: "c".into(),
            state: SessionState::Authenticated,
            result: RecordedResult {
                result: AuthenticationResult::default(),
                sealed_values: None,
            },
            response: sealed(),
            now_ms: 1,
            expires_at: 2,
        };
        for transition in [
            complete,
            Transition::Expire {
                now_ms: 1,
                expires_at: 2,
            },
        ] {
            assert!(transition.target().is_terminal());
            assert!(
                transition
                    .mutation(&session(), "m")
                    .patch
                    .remove
                    .contains(&attr::SEALED_PAYMENT_DATA)
            );
        }
    }
}
