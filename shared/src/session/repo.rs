//! Reading and writing sessions: every write is one [`Transition`], applied as one
//! conditional write.

use std::time::{Duration, Instant};

use super::{AuthenticationSession, SessionRef, Transition, attr};
use crate::clock::SharedClock;
use crate::store::{Item, SharedStore, StoreError, Written, string};
use crate::telemetry::metrics::{self, Flow};

/// What became of a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Written; the session as it is now.
    Done(Box<AuthenticationSession>),
    /// The guard did not hold; the session as it was, if it exists.
    Refused(Option<Box<AuthenticationSession>>),
}

/// An authentication's final state, counted once: by the one writer whose conditional
/// write made it.
fn count_outcome(transition: &Transition) {
    let flow = match transition {
        Transition::CompleteEnrollment { .. } => Flow::Frictionless,
        Transition::CompleteValidation { .. }
        | Transition::Expire { .. }
        | Transition::Cancel { .. } => Flow::Challenge,
        _ => return,
    };
    let state = transition.target();
    if state.is_terminal() {
        metrics::authentication(flow, &state.as_str().to_ascii_lowercase());
    }
}

/// Sessions over the storage port.
#[derive(Clone)]
pub struct Sessions {
    store: SharedStore,
    clock: SharedClock,
}

fn decode(item: Item) -> Result<AuthenticationSession, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Sessions {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn store(&self) -> &dyn crate::store::ItemStore {
        &*self.store
    }

    pub async fn apply(
        &self,
        session: &SessionRef,
        transition: &Transition,
    ) -> Result<Recorded, StoreError> {
        self.apply_as(session, transition, &uuid::Uuid::new_v4().to_string())
            .await
    }

    /// [`Sessions::apply`] with a given mutation id: sending the same id twice is how a
    /// retried write looks to the store.
    pub async fn apply_as(
        &self,
        session: &SessionRef,
        transition: &Transition,
        mutation_id: &str,
    ) -> Result<Recorded, StoreError> {
        let mutation = transition.mutation(mutation_id);
        match self.store.write(&session.key(), &mutation).await? {
            Written::Applied(item) => {
                count_outcome(transition);
                Ok(Recorded::Done(Box::new(decode(item)?)))
            }
            // Our own write landed but its answer was lost and the SDK retried it: the
            // retry is refused by the state we wrote. It is still ours.
            Written::Refused(Some(item))
                if string(&item, attr::MUTATION_ID) == Some(mutation_id) =>
            {
                count_outcome(transition);
                Ok(Recorded::Done(Box::new(decode(item)?)))
            }
            Written::Refused(item) => Ok(Recorded::Refused(
                item.map(decode).transpose()?.map(Box::new),
            )),
        }
    }

    pub async fn get(
        &self,
        session: &SessionRef,
    ) -> Result<Option<AuthenticationSession>, StoreError> {
        self.store
            .read(&session.key())
            .await?
            .map(decode)
            .transpose()
    }

    /// Waits while another invocation holds a live claim on the session (a concurrent
    /// duplicate), polling with strongly consistent reads, up to `max_wait`. Returns the
    /// session as last read.
    pub(crate) async fn wait_while_claimed(
        &self,
        session_ref: &SessionRef,
        max_wait: Duration,
    ) -> Result<Option<AuthenticationSession>, StoreError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            let session = self.get(session_ref).await?;
            let claimed = session
                .as_ref()
                .is_some_and(|s| s.is_claimed_at(self.now_ms()));
            if !claimed || started.elapsed() + delay > max_wait {
                return Ok(session);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(400));
        }
    }
}
