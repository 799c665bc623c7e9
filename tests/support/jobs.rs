//! Bulk enrollment jobs as a card program drives them: the job API and the worker built
//! by their own composition roots, on the harness's store, with the jobs' files in memory
//! (an upload endpoint on loopback) or on moto's S3, and the job queue in process.

use std::sync::Arc;

use axum::Router;
use gateway::jobs::ChunkMessage;
use gateway::objects::SharedObjects;
use gateway_loopback::queue::MemoryQueue;
use http::StatusCode;
use serde_json::{Value, json};

use crate::{Answer, Backend, Harness, dynamodb_endpoint, get, post_json, send};

/// The worker instances a stack has (the template's `MaximumConcurrency`).
pub const WORKER_INSTANCES: usize = 5;

/// The jobs routes' prefix.
pub const JOBS: &str = "/card/issuance/api/issuing/3ds/v2/enroll/jobs";

/// The job API, the worker's instances and what they share.
pub struct JobsStack {
    pub api: Router,
    /// Instances of the worker, each with its own share of the upstream's limit (the
    /// template's `MaximumConcurrency` of them).
    pub workers: Vec<jobs::JobWorker>,
    pub queue: Arc<MemoryQueue<ChunkMessage>>,
    pub objects: SharedObjects,
}

impl Harness {
    /// The jobs functions, each built by its own `build`.
    pub async fn jobs(&self) -> JobsStack {
        let objects: SharedObjects = match self.backend {
            Backend::DynamoDb => {
                let endpoint = dynamodb_endpoint().expect("moto's endpoint");
                let bucket = format!("jobs-{}", uuid::Uuid::new_v4().simple());
                Arc::new(
                    gateway_loopback::objects::s3_objects(&endpoint, &bucket)
                        .await
                        .expect("create the jobs bucket"),
                )
            }
            Backend::Memory => gateway_loopback::objects::MemoryObjects::serve()
                .await
                .expect("serve the upload endpoint"),
        };
        let queue = gateway_loopback::jobs::job_queue(self.clock());
        let env = self.config_env();
        let api_config = jobs::JobsConfig::from_env(&env).unwrap();
        let worker_config = jobs::WorkerConfig::from_env(&env).unwrap();
        let api = jobs::build_api(
            &api_config,
            &self.platform(),
            objects.clone(),
            queue.clone(),
        )
        .await
        .unwrap();
        let platform = self.platform();
        let mut workers = Vec::new();
        for _ in 0..WORKER_INSTANCES {
            let worker =
                jobs::build_worker(&worker_config, &platform, objects.clone(), queue.clone());
            workers.push(worker.await.unwrap());
        }
        JobsStack {
            api,
            workers,
            queue,
            objects,
        }
    }
}

/// Items linking `cards` to `cardholder`, as JSON.
pub fn items(cards: &[String], cardholder: &str) -> Vec<Value> {
    cards
        .iter()
        .map(|card| json!({"card_id": card, "cardholder_id": cardholder}))
        .collect()
}

impl JobsStack {
    pub async fn create(&self, key: &str, body: &Value, idempotency_key: Option<&str>) -> Answer {
        let mut request = post_json(JOBS, Some(key), body);
        if let Some(idempotency_key) = idempotency_key {
            request
                .headers_mut()
                .insert("idempotency-key", idempotency_key.parse().unwrap());
        }
        send(&self.api, request).await
    }

    /// A job of `items` created inline; its id.
    pub async fn create_inline(&self, key: &str, items: Vec<Value>) -> String {
        let answer = self.create(key, &json!({"items": items}), None).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
        answer.json()["data"]["job_id"].as_str().unwrap().to_owned()
    }

    pub async fn job(&self, key: &str, job_id: &str) -> Answer {
        send(&self.api, get(&format!("{JOBS}/{job_id}"), Some(key))).await
    }

    /// The job's view (`data`), as its program reads it.
    pub async fn view(&self, key: &str, job_id: &str) -> Value {
        let answer = self.job(key, job_id).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer.json()["data"].clone()
    }

    pub async fn items(&self, key: &str, job_id: &str, query: &str) -> Answer {
        send(
            &self.api,
            get(&format!("{JOBS}/{job_id}/items?{query}"), Some(key)),
        )
        .await
    }

    pub async fn start(&self, key: &str, job_id: &str) -> Answer {
        send(
            &self.api,
            post_json(&format!("{JOBS}/{job_id}/start"), Some(key), &json!({})),
        )
        .await
    }

    pub async fn cancel(&self, key: &str, job_id: &str) -> Answer {
        send(
            &self.api,
            post_json(&format!("{JOBS}/{job_id}/cancel"), Some(key), &json!({})),
        )
        .await
    }

    /// Runs the worker until the job has finished: each round until the queue is idle,
    /// then the clock past the backoff of chunks that hit faults (at most `rounds`).
    pub async fn run_to_end(
        &self,
        clock: &gateway::clock::OffsetClock,
        key: &str,
        job_id: &str,
        concurrency: usize,
        rounds: usize,
    ) -> Value {
        for _ in 0..rounds {
            self.run(concurrency).await;
            let view = self.view(key, job_id).await;
            let state = view["state"].as_str().unwrap_or_default().to_owned();
            if !matches!(state.as_str(), "queued" | "running") {
                return view;
            }
            clock.advance(std::time::Duration::from_secs(20 * 60));
        }
        self.view(key, job_id).await
    }

    /// `instances` of the worker, polling until the queue is idle.
    pub async fn run(&self, instances: usize) -> usize {
        gateway_loopback::jobs::run_until_idle(&self.workers[..instances], &self.queue).await
    }

    /// One instance's one turn: a chunk received and handled.
    pub async fn poll_once(&self) -> bool {
        gateway_loopback::jobs::poll_once(&self.workers[0], &self.queue).await
    }
}
