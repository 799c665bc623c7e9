//! Sessions as the unit tests of this module need them (tests only).

use crate::crypto::SealedData;
use crate::domain::CardSummary;
use crate::session::{EnrollmentOutcome, SessionRef, Sessions, Transition};

/// Sealed bytes standing in for any sealed value.
pub(crate) fn sealed() -> SealedData {
    SealedData {
        key_id: "k".into(),
        nonce: vec![0; 12],
        ciphertext: vec![1],
    }
}

/// Leaves `session` with its challenge pending, due at `deadline_ms`, as check enroll
/// leaves it (claimed at `now_ms`, then completed with a challenge).
pub(crate) async fn leave_pending(
    sessions: &Sessions,
    session: &SessionRef,
    now_ms: i64,
    deadline_ms: i64,
) {
    let claim = Transition::ClaimEnrollment {
        fingerprint: "fp".into(),
        claim_id: "e".into(),
        now_ms,
        lease_until_ms: now_ms + 1_000,
        expires_at: 0,
    };
    sessions.apply(session, &claim).await.unwrap();
    let complete = Transition::CompleteEnrollment {
        claim_id: "e".into(),
        outcome: EnrollmentOutcome::Challenge {
            authentication_transaction_id: "T".into(),
            transaction_mac: "mac".into(),
            challenge_deadline_ms: deadline_ms,
            completion: Default::default(),
            merchant_return_url: "https://shop.example/r".into(),
            sealed_payment_data: sealed(),
            enrollment_result: Default::default(),
        },
        card: CardSummary::default(),
        amount: crate::domain::Amount {
            total_amount: "10.50".into(),
            currency: "USD".into(),
        },
        response: sealed(),
        now_ms,
        expires_at: 0,
    };
    sessions.apply(session, &complete).await.unwrap();
}
