//! The job worker's event sources in process, as Lambda's would drive it: the job
//! queue's chunks received one per poller (the template's `MaximumConcurrency` pollers),
//! each handed to the worker's own record handler as an SQS record, deleted unless it
//! asked for the chunk again; and the dead-letter queue's chunks to its consumer.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use gateway::jobs::ChunkMessage;
use jobs::JobWorker;

use crate::queue::MemoryQueue;

/// The job queue's names as its records carry them.
pub const JOB_QUEUE_ARN: &str = "arn:aws:sqs:local:000000000000:jobs";
pub const JOB_DEAD_LETTER_ARN: &str = "arn:aws:sqs:local:000000000000:jobs-dead";

/// A job queue in process, with the template's redrive policy.
pub fn job_queue(clock: gateway::clock::SharedClock) -> Arc<MemoryQueue<ChunkMessage>> {
    Arc::new(MemoryQueue::new(
        clock,
        gateway::jobs::repo::CHUNK_MAX_RECEIVES,
    ))
}

fn record(id: &str, body: &str, receive_count: u32, source_arn: &str) -> SqsMessage {
    let record = crate::queue::sqs_record(id, id, body, receive_count, source_arn);
    serde_json::from_value(record).expect("an SQS record as the event source makes it")
}

/// One poller's turn: a chunk received and handled. `false` when none was visible.
pub async fn poll_once(worker: &JobWorker, queue: &MemoryQueue<ChunkMessage>) -> bool {
    let Some(received) = queue.receive(1).into_iter().next() else {
        return false;
    };
    let message = record(
        &received.id,
        &received.body,
        received.receive_count,
        JOB_QUEUE_ARN,
    );
    if jobs::lambda::handle_record(worker, message).await.is_none() {
        queue.delete(&received.id);
    }
    true
}

/// The dead letters' consumer: each dead-lettered chunk handed over once (back on the
/// dead-letter queue if it failed).
pub async fn consume_dead_letters(worker: &JobWorker, queue: &MemoryQueue<ChunkMessage>) -> usize {
    let letters = queue.receive_dead_letters(10);
    let count = letters.len();
    for letter in letters {
        let body = serde_json::to_string(&letter).expect("a chunk serializes");
        let message = record(
            &uuid::Uuid::new_v4().to_string(),
            &body,
            1,
            JOB_DEAD_LETTER_ARN,
        );
        if jobs::lambda::handle_record(worker, message).await.is_some() {
            queue.return_dead_letter(letter);
        }
    }
    count
}

/// Runs a poller per worker (each worker an instance of the function, with its own
/// share of the upstream's limit, as Lambda runs `MaximumConcurrency` of them) until no
/// chunk is visible and none is in flight, and the dead letters are consumed. Returns
/// how many deliveries were handled.
pub async fn run_until_idle(workers: &[JobWorker], queue: &MemoryQueue<ChunkMessage>) -> usize {
    let mut handled = 0;
    loop {
        let rounds = workers.iter().map(|worker| async move {
            let mut mine = 0;
            while poll_once(worker, queue).await {
                mine += 1;
            }
            mine
        });
        let round: usize = futures_util::future::join_all(rounds)
            .await
            .into_iter()
            .sum();
        let letters = consume_dead_letters(&workers[0], queue).await;
        handled += round + letters;
        if round == 0 && letters == 0 {
            return handled;
        }
    }
}

/// Runs for ever (the local stack): a poller per worker, and the dead letters' consumer.
pub async fn run(workers: Vec<Arc<JobWorker>>, queue: Arc<MemoryQueue<ChunkMessage>>) {
    for worker in &workers {
        let (worker, queue) = (worker.clone(), queue.clone());
        tokio::spawn(async move {
            loop {
                if !poll_once(&worker, &queue).await {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        });
    }
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        consume_dead_letters(&workers[0], &queue).await;
    }
}
