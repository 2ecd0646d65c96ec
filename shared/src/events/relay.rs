//! The outbox relay: publishes outbox rows right after the commit that wrote them, and
//! sweeps whatever is still pending (failed publishes, crashed processes) with backoff.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::publisher::Publisher;
use crate::store::OutboxMessage;
use crate::store::{OutboxStore, StoreError};

/// How long one publish may take before the relay gives up on it for now.
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
    /// stays pending for the sweep. Stops at the first failure so a user's events keep
    /// their order.
    pub async fn publish_now(&self, messages: &[OutboxMessage]) {
        let mut published = Vec::with_capacity(messages.len());
        for message in messages {
            match self.publish_one(message).await {
                Ok(()) => published.push(message.id),
                Err(e) => {
                    tracing::warn!(error = %e, topic = %message.topic, event_id = %message.event_id,
                        "publish failed; the outbox sweep will retry");
                    break;
                }
            }
        }
        if !published.is_empty() {
            if let Err(e) = self.outbox.mark_published(&published).await {
                tracing::warn!(error = %e, "could not mark outbox rows published; they will be sent again");
            }
        }
    }

    /// Publishes up to `limit` pending rows whose time has come, oldest first.
    pub async fn sweep(&self, limit: usize) -> Result<SweepReport, StoreError> {
        let claimed = self.outbox.claim_pending(limit, CLAIM_LEASE).await?;
        let mut report = SweepReport::default();
        let mut published = Vec::new();
        for message in &claimed {
            match self.publish_one(message).await {
                Ok(()) => {
                    published.push(message.id);
                    report.published += 1;
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(error = %e, topic = %message.topic, event_id = %message.event_id, "sweep publish failed");
                    self.outbox
                        .mark_failed(message.id, &format!("{e:#}"))
                        .await?;
                }
            }
        }
        self.outbox.mark_published(&published).await?;
        Ok(report)
    }

    /// Sweeps until nothing due is left (bounded by `max_batches`).
    pub async fn sweep_all(
        &self,
        batch: usize,
        max_batches: usize,
    ) -> Result<SweepReport, StoreError> {
        let mut total = SweepReport::default();
        for _ in 0..max_batches {
            let r = self.sweep(batch).await?;
            total.published += r.published;
            total.failed += r.failed;
            if r.published + r.failed < batch || r.failed > 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Deletes rows published longer than `retention` ago.
    pub async fn prune(&self, retention: Duration) -> Result<u64, StoreError> {
        self.outbox.prune_published(retention).await
    }

    async fn publish_one(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        tokio::time::timeout(PUBLISH_TIMEOUT, self.publisher.publish(message))
            .await
            .map_err(|_| anyhow::anyhow!("publish timed out after {PUBLISH_TIMEOUT:?}"))?
    }
}
