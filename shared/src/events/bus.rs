//! The in-process bus of `todo-local`: it plays the Dapr sidecar's part for pub/sub. A
//! publish is delivered, as the CloudEvent daprd would send, to every subscribed route of
//! the app through the same HTTP contract (`SUCCESS` / `RETRY` / `DROP`).
//!
//! A publish succeeds once every subscriber has taken the event (or dropped it); a
//! subscriber that keeps asking for RETRY fails the publish, so the outbox row stays
//! pending and the sweep delivers it again later.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::publisher::Publisher;
use super::subscription::{cloud_event, read_reply, Delivery, Subscription};
use crate::store::OutboxMessage;

const ATTEMPTS: u32 = 3;

pub struct InProcessBus {
    subscriptions: Vec<Subscription>,
    app: OnceLock<Router>,
}

impl InProcessBus {
    pub fn new(subscriptions: Vec<Subscription>) -> Self {
        InProcessBus {
            subscriptions,
            app: OnceLock::new(),
        }
    }

    /// Connects the bus to the app that serves the subscribed routes (built after the bus,
    /// since the app's state holds the bus).
    pub fn attach(&self, app: Router) {
        let _ = self.app.set(app);
    }

    async fn deliver(
        &self,
        app: &Router,
        route: &str,
        event: &serde_json::Value,
    ) -> anyhow::Result<Delivery> {
        let request = Request::post(route)
            .header("content-type", "application/cloudevents+json")
            .body(Body::from(serde_json::to_vec(event)?))?;
        let response = app.clone().oneshot(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        Ok(read_reply(status, &body, &[id])[0])
    }
}

#[async_trait]
impl Publisher for InProcessBus {
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let app = self
            .app
            .get()
            .ok_or_else(|| anyhow!("the in-process bus is not attached yet"))?;
        let event = cloud_event(message, "todo-local");
        for sub in self
            .subscriptions
            .iter()
            .filter(|s| s.topic == message.topic)
        {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.deliver(app, sub.route, &event).await? {
                    Delivery::Success => break,
                    Delivery::Drop => {
                        tracing::warn!(route = sub.route, dead_letter = %sub.dead_letter_topic(),
                            event_id = %message.event_id, "event dropped by its subscriber");
                        break;
                    }
                    Delivery::Retry if attempt < ATTEMPTS => {
                        tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                    }
                    Delivery::Retry => bail!("{} asked for redelivery {ATTEMPTS} times", sub.route),
                }
            }
        }
        Ok(())
    }
}
