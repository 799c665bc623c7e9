//! Which change of the table is an event, and what it says: each image of the change is
//! decoded into its record type (a session, a card's enrollment, a contact), never read
//! by attribute name here.

use serde_json::{Value, json};

use super::{Change, EventType, NewEvent, event_id};
use crate::clock::rfc3339;
use crate::enrollment::{CardEnrollment, CardholderRecord, EnrollmentStatus, PreviousLink};
use crate::jobs::{Job, JobState};
use crate::session::{AuthenticationSession, Outcome, SessionState};
use crate::store::{Item, Kind};

/// The event a change makes, if any. A record that cannot be decoded is logged and makes
/// none (it would fail every retry of the stream the same way).
pub fn event_of(change: &Change) -> Option<NewEvent> {
    let new = change.new.as_ref()?;
    let old = change.old.as_ref();
    let derived = match Kind::of_key(&change.key)? {
        Kind::AuthenticationSession => authentication_event(&change.key, old, new),
        Kind::CardEnrollment => card_event(&change.key, old, new),
        Kind::Cardholder => cardholder_event(&change.key, old, new),
        Kind::Job => job_event(&change.key, old, new),
        _ => return None,
    };
    derived.unwrap_or_else(|error| {
        tracing::error!(%error, "a changed record could not be decoded: no event");
        None
    })
}

type Derived = Result<Option<NewEvent>, crate::store::StoreError>;

/// A session that reached a terminal state with this write, or whose authenticated
/// result was used (consumed) by it.
fn authentication_event(key: &str, old: Option<&Item>, new: &Item) -> Derived {
    let session = AuthenticationSession::from_item(new.clone())?;
    let Some(version) = session.mutation_id.as_deref() else {
        return Ok(None);
    };
    let was_terminal = old
        .and_then(AuthenticationSession::state_of)
        .is_some_and(SessionState::is_terminal);
    let newly_consumed =
        session.consumption.is_some() && !old.is_some_and(AuthenticationSession::consumed_in);
    let kind = match session.state {
        // Only a consume writes a consumption, once.
        _ if newly_consumed => EventType::AuthenticationConsumed,
        _ if was_terminal => return Ok(None),
        SessionState::Authenticated => EventType::AuthenticationSucceeded,
        SessionState::Failed => EventType::AuthenticationFailed,
        SessionState::Expired => EventType::AuthenticationExpired,
        SessionState::Canceled => EventType::AuthenticationCanceled,
        _ => return Ok(None),
    };
    let created_at = match (&session.consumption, kind) {
        (Some(consumption), EventType::AuthenticationConsumed) => consumption.consumed_at,
        _ => session.updated_at,
    };
    Ok(Some(NewEvent {
        id: event_id(key, version),
        tenant: session.tenant_id.clone(),
        kind,
        created_at,
        data: authentication_data(&session),
    }))
}

/// The status route's outcome fields — no card number, expiry, CAVV or XID.
fn authentication_data(session: &AuthenticationSession) -> Value {
    let outcome = Outcome::at(session, session.updated_at);
    let card = session.card.clone().unwrap_or_default();
    let network = card.network.as_deref();
    let result = session.result.clone().unwrap_or_default();
    json!({
        "reference_code": session.reference_code,
        "state": outcome.state.as_str(),
        "flow": outcome.flow,
        "transaction_status": result.transaction_status,
        "authentication": session.result.as_ref().map(|r| json!({
            "eci": r.eci,
            "eci_raw": r.eci_raw,
            "pares_status": r.pares_status,
            "veres_enrolled": r.veres_enrolled,
            "signed_pares_status_reason": r.signed_pares_status_reason,
            "commerce_indicator": r.commerce_indicator,
            "specification_version": r.specification_version,
            "authentication_transaction_id": r.authentication_transaction_id,
            "tree_dss_server_transaction_id": r.tree_dss_server_transaction_id,
            "directory_server_transaction_id": r.directory_server_transaction_id,
            "acs_transaction_id": r.acs_transaction_id,
            "acs_reference_number": r.acs_reference_number,
            "liability_shift": r.liability_shift(network),
        })),
        "authenticated_amount": session.authenticated_amount(),
        "consumption": session.consumption.as_ref().map(|c| json!({
            "consumed_at": rfc3339(c.consumed_at),
            "order_id": c.order_id,
            "amount": c.amount,
        })),
        "card": {
            "network": card.network,
            "last4": card.last4,
        },
        "reason": outcome.reason,
        "liability_shift": outcome.liability_shift,
        "decided_at": outcome.decided_at.map(rfc3339),
    })
}

/// A job that finished (completed, failed or canceled) with this write, with its counts.
fn job_event(key: &str, old: Option<&Item>, new: &Item) -> Derived {
    let job = Job::from_item(new.clone())?;
    let was_terminal = old
        .and_then(|old| Job::from_item(old.clone()).ok())
        .is_some_and(|old| old.state.is_terminal());
    let kind = match job.state {
        _ if was_terminal => return Ok(None),
        JobState::Completed | JobState::CompletedWithErrors => EventType::JobCompleted,
        JobState::Failed => EventType::JobFailed,
        JobState::Canceled => EventType::JobCanceled,
        _ => return Ok(None),
    };
    let Some(version) = job.mutation_id.as_deref() else {
        return Ok(None);
    };
    Ok(Some(NewEvent {
        id: event_id(key, version),
        tenant: job.tenant_id.clone(),
        kind,
        created_at: job.updated_at,
        data: json!({
            "job_id": job.job_id,
            "state": job.state.as_str(),
            "total": job.total,
            "enrolled": job.enrolled,
            "reconciled": job.reconciled,
            "failed": job.failed,
            "not_run": (job.total - job.finished()).max(0),
            "failure": job.failure,
            "created_at": rfc3339(job.created_at),
            "finished_at": job.finished_at.map(rfc3339),
        }),
    }))
}

/// A card newly enrolled, re-pointed to another cardholder, or unenrolled.
fn card_event(key: &str, old: Option<&Item>, new: &Item) -> Derived {
    let card = CardEnrollment::from_item(new.clone())?;
    let before = old.map(PreviousLink::of).unwrap_or_default();
    let was_enrolled = before.was_enrolled();
    let previous = before.cardholder_id;
    let kind = match (card.status, was_enrolled) {
        (EnrollmentStatus::Enrolled, false) => EventType::CardEnrolled,
        (EnrollmentStatus::Enrolled, true) if previous != card.cardholder_id => {
            EventType::CardEnrollmentUpdated
        }
        (EnrollmentStatus::Unenrolled, true) => EventType::CardUnenrolled,
        _ => return Ok(None),
    };
    let mut data = json!({
        "card_id": card.card_id,
        "cardholder_id": card.cardholder_id,
        "status": card.status.as_str(),
        "updated_at": rfc3339(card.updated_at),
    });
    if kind != EventType::CardEnrolled {
        data["previous_cardholder_id"] = json!(previous);
    }
    Ok(Some(NewEvent {
        id: event_id(key, &card.updated_at.to_string()),
        tenant: card.tenant_id,
        kind,
        created_at: card.updated_at,
        data,
    }))
}

/// A contact updated through the gateway (its `updated_at` moved).
fn cardholder_event(key: &str, old: Option<&Item>, new: &Item) -> Derived {
    let contact = CardholderRecord::from_item(new.clone())?;
    let Some(updated_at) = contact.updated_at else {
        return Ok(None);
    };
    if old.and_then(CardholderRecord::updated_at_of) == Some(updated_at) {
        return Ok(None);
    }
    Ok(Some(NewEvent {
        id: event_id(key, &updated_at.to_string()),
        tenant: contact.tenant_id,
        kind: EventType::CardholderUpdated,
        created_at: updated_at,
        data: json!({
            "cardholder_id": contact.cardholder_id,
            "budget_id": contact.budget_id,
            "updated_at": rfc3339(updated_at),
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AttributeValue, Item};

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    fn n(value: i64) -> AttributeValue {
        AttributeValue::N(value.to_string())
    }

    #[test]
    fn a_decision_is_one_event_whatever_the_old_image_carries() {
        let new = item(&[
            ("reference_code", s("r1")),
            ("tenant_id", s("shop-a")),
            ("state", s("AUTHENTICATED")),
            ("created_at", n(1)),
            ("updated_at", n(5)),
            ("expires_at", n(9)),
            ("mutation_id", s("m-1")),
        ]);
        // A stream's old image may carry only what changed.
        for old in [item(&[("state", s("VALIDATING"))]), new.clone()] {
            let change = Change {
                key: "AUTH#shop-a#r1".into(),
                old: Some(old.clone()),
                new: Some(new.clone()),
            };
            let event = event_of(&change);
            if AuthenticationSession::state_of(&old) == Some(SessionState::Authenticated) {
                assert_eq!(event, None, "decided before: no second event");
            } else {
                let event = event.expect("the decision's event");
                assert_eq!(event.kind, EventType::AuthenticationSucceeded);
                assert_eq!(event.data["flow"], "frictionless");
            }
        }
    }

    #[test]
    fn a_record_that_does_not_decode_makes_no_event() {
        let change = Change {
            key: "CARD#card1".into(),
            old: None,
            new: Some(item(&[("status", s("SOMETHING"))])),
        };
        assert_eq!(event_of(&change), None);
    }
}
