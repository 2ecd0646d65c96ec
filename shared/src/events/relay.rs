//! The outbox relay: publishes outbox rows right after the commit that wrote them, and
//! sweeps whatever is still pending (failed publishes, crashed processes) with backoff.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use super::publisher::Publisher;
use crate::store::OutboxMessage;
use crate::store::{OutboxStore, StoreError};

/// How long one publish (of a message or a batch) may take before the relay gives up on
/// it for now.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// A claimed row is not offered to another sweep for this long (crash safety).
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// Batches of committed changes being published at once, at most.
const BATCHES_AT_ONCE: usize = 4;
/// While a batch is in flight, the next one gathers changes until it finishes, or for
/// this long at most: so under load a batch carries many changes, and a slow one (a
/// reminder for a slow webhook, through the in-process bus) holds up no other for long.
const GATHER_AT_MOST: Duration = Duration::from_millis(20);
/// Events in one batch at most (a change's events are never split).
const BATCH_MAX: usize = 500;

pub struct Relay {
    parts: Arc<Parts>,
    /// Committed changes waiting for [`Relay::publish_now`]'s batching task.
    queue: OnceLock<mpsc::UnboundedSender<Waiting>>,
}

struct Parts {
    outbox: Arc<dyn OutboxStore>,
    publisher: Arc<dyn Publisher>,
}

/// A change's events, and who waits for them to be published.
type Waiting = (Vec<OutboxMessage>, oneshot::Sender<()>);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub published: usize,
    pub failed: usize,
}

impl Relay {
    pub fn new(outbox: Arc<dyn OutboxStore>, publisher: Arc<dyn Publisher>) -> Self {
        Relay {
            parts: Arc::new(Parts { outbox, publisher }),
            queue: OnceLock::new(),
        }
    }

    /// Publishes rows just committed, and returns once they are published (or left to the
    /// sweep). Never fails the caller: whatever is not published stays pending for the
    /// sweep (a user's later events with it, to keep their order).
    ///
    /// Concurrent callers' rows go together: one task publishes whatever is waiting as one
    /// batch, and marks it published with one statement, so under load the transport and
    /// the database see a request per batch rather than two per change. A publish made
    /// inside one of the transport's own deliveries goes at once instead, since the batch
    /// it would join is waiting on it.
    pub async fn publish_now(&self, messages: &[OutboxMessage]) {
        if messages.is_empty() {
            return;
        }
        if self.parts.publisher.in_delivery() {
            return self.parts.publish_and_mark(messages).await;
        }
        let (done, published) = oneshot::channel();
        if self.queue().send((messages.to_vec(), done)).is_ok() {
            // An error means the task has gone (the runtime is stopping): the sweep
            // publishes the rows later.
            let _ = published.await;
        }
    }

    /// The batching task's queue, started on first use (inside the runtime); the task
    /// ends when the relay is dropped.
    fn queue(&self) -> &mpsc::UnboundedSender<Waiting> {
        self.queue.get_or_init(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Waiting>();
            let parts = self.parts.clone();
            tokio::spawn(async move {
                let free = Arc::new(Semaphore::new(BATCHES_AT_ONCE));
                let finished = Arc::new(Notify::new());
                while let Some((mut messages, done)) = rx.recv().await {
                    let Ok(slot) = free.clone().acquire_owned().await else {
                        break;
                    };
                    let one_finished = finished.notified();
                    if free.available_permits() < BATCHES_AT_ONCE - 1 {
                        let _ = tokio::time::timeout(GATHER_AT_MOST, one_finished).await;
                    }
                    let mut waiting = vec![done];
                    while messages.len() < BATCH_MAX {
                        match rx.try_recv() {
                            Ok((more, done)) => {
                                messages.extend(more);
                                waiting.push(done);
                            }
                            Err(_) => break,
                        }
                    }
                    let (parts, finished) = (parts.clone(), finished.clone());
                    tokio::spawn(async move {
                        parts.publish_and_mark(&messages).await;
                        drop(slot);
                        finished.notify_waiters();
                        for done in waiting {
                            let _ = done.send(());
                        }
                    });
                }
            });
            tx
        })
    }

    /// Publishes up to `limit` pending rows whose time has come, oldest first, together.
    pub async fn sweep(&self, limit: usize) -> Result<SweepReport, StoreError> {
        let claimed = self.parts.outbox.claim_pending(limit, CLAIM_LEASE).await?;
        let mut report = SweepReport::default();
        let mut published = Vec::new();
        for (message, result) in claimed.iter().zip(self.parts.publish_all(&claimed).await) {
            match result {
                Ok(()) => {
                    published.push(message.id);
                    report.published += 1;
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(error = %format!("{e:#}"), topic = %message.topic, event_id = %message.event_id, "sweep publish failed");
                    self.parts
                        .outbox
                        .mark_failed(message.id, &format!("{e:#}"))
                        .await?;
                }
            }
        }
        self.parts.outbox.mark_published(&published).await?;
        Ok(report)
    }

    /// Sweeps batch after batch until nothing due is left, a publish fails (the rest waits
    /// for its backoff), or `budget` has passed (the next tick goes on). Batches run one
    /// after another, oldest rows first, so a user's events leave in their order.
    pub async fn sweep_for(
        &self,
        batch: usize,
        budget: Duration,
    ) -> Result<SweepReport, StoreError> {
        let started = Instant::now();
        let mut total = SweepReport::default();
        loop {
            let r = self.sweep(batch).await?;
            total.published += r.published;
            total.failed += r.failed;
            if r.published + r.failed < batch || r.failed > 0 || started.elapsed() >= budget {
                return Ok(total);
            }
        }
    }

    /// Deletes rows published longer than `retention` ago.
    pub async fn prune(&self, retention: Duration) -> Result<u64, StoreError> {
        self.parts.outbox.prune_published(retention).await
    }
}

impl Parts {
    /// Publishes `messages` and marks those published; what fails stays pending.
    async fn publish_and_mark(&self, messages: &[OutboxMessage]) {
        let mut published = Vec::with_capacity(messages.len());
        for (message, result) in messages.iter().zip(self.publish_all(messages).await) {
            match result {
                Ok(()) => published.push(message.id),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), topic = %message.topic,
                    event_id = %message.event_id, "publish failed; the outbox sweep will retry"),
            }
        }
        if !published.is_empty() {
            if let Err(e) = self.outbox.mark_published(&published).await {
                tracing::warn!(error = %e, "could not mark outbox rows published; they will be sent again");
            }
        }
    }

    /// Publishes `messages` through the transport, failing them all when it takes too long.
    async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<anyhow::Result<()>> {
        if messages.is_empty() {
            return Vec::new();
        }
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.publisher.publish_all(messages)).await {
            Ok(results) => results,
            Err(_) => messages
                .iter()
                .map(|_| {
                    Err(anyhow::anyhow!(
                        "publish timed out after {PUBLISH_TIMEOUT:?}"
                    ))
                })
                .collect(),
        }
    }
}
