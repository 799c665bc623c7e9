//! The kinds of record the one table holds: the `kind` attribute each item carries and
//! the prefix of its key. Every key is written and told apart here, and the template's
//! per-function table permissions (`dynamodb:LeadingKeys`) are checked against these
//! prefixes.

/// A kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A merchant's authentication session: `AUTH#<tenant>#<reference_code>`.
    AuthenticationSession,
    /// A card's 3DS enrollment record: `CARD#<card_id>`.
    CardEnrollment,
    /// A cardholder contact's ownership record: `CARDHOLDER#<cardholder_id>`.
    Cardholder,
    /// A recorded event: `EVENT#<tenant>#<event_id>`.
    Event,
    /// An issuer write's `Idempotency-Key`: `IDEM#<tenant>#<sha256 of the key>`.
    Idempotency,
    /// The sweeper's cursor: `SWEEPER#cursor`.
    SweeperCursor,
    /// A tenant's redeliveries asked for in one hour: `REDELIVERIES#<tenant>#<hour>`.
    RedeliveryQuota,
    /// A bulk enrollment job: `JOB#<tenant>#<job_id>`.
    Job,
    /// One item of a job: `JOBITEM#<tenant>#<job_id>#<line>`.
    JobItem,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::AuthenticationSession,
        Kind::CardEnrollment,
        Kind::Cardholder,
        Kind::Event,
        Kind::Idempotency,
        Kind::SweeperCursor,
        Kind::RedeliveryQuota,
        Kind::Job,
        Kind::JobItem,
    ];

    /// The `kind` attribute of its items.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AuthenticationSession => "authentication_session",
            Kind::CardEnrollment => "card_enrollment",
            Kind::Cardholder => "cardholder",
            Kind::Event => "event",
            Kind::Idempotency => "idempotency",
            Kind::SweeperCursor => "sweeper_cursor",
            Kind::RedeliveryQuota => "redelivery_quota",
            Kind::Job => "job",
            Kind::JobItem => "job_item",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// How its keys begin (the prefix ends with `#`).
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::AuthenticationSession => "AUTH#",
            Kind::CardEnrollment => "CARD#",
            Kind::Cardholder => "CARDHOLDER#",
            Kind::Event => "EVENT#",
            Kind::Idempotency => "IDEM#",
            Kind::SweeperCursor => "SWEEPER#",
            Kind::RedeliveryQuota => "REDELIVERIES#",
            Kind::Job => "JOB#",
            Kind::JobItem => "JOBITEM#",
        }
    }

    /// The key of one of its records: the prefix, then the parts joined by `#`. A part
    /// is an identifier that holds no `#` (each is validated where it enters).
    pub fn key(self, parts: &[&str]) -> String {
        debug_assert!(parts.iter().all(|part| !part.contains('#')));
        format!("{}{}", self.prefix(), parts.join("#"))
    }

    /// The kind a key names.
    pub fn of_key(key: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| key.starts_with(kind.prefix()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_name_and_a_prefix_no_other_begins_with() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(Kind::of_key(&kind.key(&["x"])), Some(kind));
            for other in Kind::ALL.into_iter().filter(|o| *o != kind) {
                assert!(
                    !kind.prefix().starts_with(other.prefix()),
                    "{kind:?} {other:?}"
                );
            }
        }
        assert_eq!(
            Kind::AuthenticationSession.key(&["shop-a", "r1"]),
            "AUTH#shop-a#r1"
        );
    }
}
