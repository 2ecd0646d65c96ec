//! The outbox relay: publishes outbox rows right after the commit that wrote them, and
//! sweeps whatever is still pending (failed publishes, crashed processes) with backoff.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::publisher::Publisher;
use crate::store::OutboxMessage;
use crate::store::{OutboxStore, StoreError};

/// How long one publish (of a message or a batch) may take before the relay gives up on
/// it for now.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// A claimed row is not offered to another sweep for this long (crash safety).
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

pub struct Relay {
    outbox: Arc<dyn OutboxStore>,
    publisher: Arc<dyn Publisher>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub published: usize,
    pub failed: usize,
}

impl Relay {
    pub fn new(outbox: Arc<dyn OutboxStore>, publisher: Arc<dyn Publisher>) -> Self {
        Relay { outbox, publisher }
    }

    /// Publishes rows just committed. Never fails the caller: whatever is not published
    /// stays pending for the sweep (a user's later events with it, to keep their order).
    pub async fn publish_now(&self, messages: &[OutboxMessage]) {
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

    /// Publishes up to `limit` pending rows whose time has come, oldest first, together.
    pub async fn sweep(&self, limit: usize) -> Result<SweepReport, StoreError> {
        let claimed = self.outbox.claim_pending(limit, CLAIM_LEASE).await?;
        let mut report = SweepReport::default();
        let mut published = Vec::new();
        for (message, result) in claimed.iter().zip(self.publish_all(&claimed).await) {
            match result {
                Ok(()) => {
                    published.push(message.id);
                    report.published += 1;
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(error = %format!("{e:#}"), topic = %message.topic, event_id = %message.event_id, "sweep publish failed");
                    self.outbox
                        .mark_failed(message.id, &format!("{e:#}"))
                        .await?;
                }
            }
        }
        self.outbox.mark_published(&published).await?;
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
        self.outbox.prune_published(retention).await
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
