//! The notify function's work, in process: the change feed (the memory store's log, or
//! moto's DynamoDB Streams with `--dynamodb-endpoint`) made into events, their webhook
//! deliveries on an in-process queue with the same retry schedule, and the sweeper.

use std::sync::Arc;
use std::time::Duration;

use gateway::events::queue::MemoryQueue;
use gateway::store::ChangeFeed;

/// How often the feed and the queue are read.
const POLL: Duration = Duration::from_millis(250);

/// Runs for ever: call in a spawned task.
pub async fn run(
    app: notify::NotifyApp,
    feed: Arc<dyn ChangeFeed>,
    queue: Arc<MemoryQueue>,
    clock: gateway::clock::SharedClock,
    sweep_every: Duration,
) {
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        match feed.poll().await {
            Ok(changes) => {
                for change in changes {
                    if let Err(error) = app.on_change(&change).await {
                        tracing::error!(%error, "a change could not be made an event");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "the change feed could not be read"),
        }
        let now = clock.now_ms();
        for queued in queue.receive(now) {
            match app.on_delivery(&queued.message, queued.receive_count).await {
                Ok(None) => {}
                Ok(Some(delay)) => queue.failed(queued, Some(delay), now),
                Err(notify::Exhausted) => queue.failed(queued, None, now),
            }
        }
        if last_sweep.elapsed() >= sweep_every {
            last_sweep = tokio::time::Instant::now();
            if let Err(error) = app.sweep().await {
                tracing::warn!(%error, "the sweep stopped");
            }
        }
    }
}
