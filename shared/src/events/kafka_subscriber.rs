//! The direct Kafka subscriber (`SUBSCRIBE_TRANSPORT=kafka`): a function reads its
//! subscriptions' topics itself, with no sidecar between Kafka and it, and plays daprd's
//! part of the subscription contract ([`super::subscription`]) in-process:
//!
//! - the records fetched together (up to [`DELIVERY_MAX_RECORDS`], waiting at most
//!   [`BULK_MAX_AWAIT_MS`] for a batch to fill) go to the subscription's route as one bulk
//!   delivery, the request daprd's bulk subscribe sends;
//! - each entry's status is acted on as daprd does with `components/resiliency.yaml`:
//!   SUCCESS is done; DROP (or a 404 from the route) writes the record to the dead-letter
//!   topic; RETRY is delivered again every [`REDELIVERY_INTERVAL`] until it is one of the
//!   others, and later records wait for it;
//! - a record's offset is stored only once its entry is done, and committed from there
//!   (periodically, and on stop), so what a stop or a crash interrupts is delivered again:
//!   at least once, which the consumers make exactly once by event id.
//!
//! The consumer groups are daprd's: the function's name for a `pubsub` subscription,
//! starting from the oldest record (`components/pubsub.yaml`); a group of the process's
//! own, from the newest record, for a `pubsub-realtime` one (`pubsub-realtime.yaml`).

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use http_body_util::BodyExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::ClientConfig;
use tower::ServiceExt;

use super::publisher::KafkaPublisher;
use super::subscription::{
    read_reply, Delivery, Subscription, BULK_MAX_AWAIT_MS, BULK_MAX_MESSAGES, MAX_DELIVERY_BYTES,
};
use super::PUBSUB_REALTIME;

/// How long an entry answered RETRY waits before it is delivered again (the constant
/// policy of `components/resiliency.yaml`, for the same reason: never give up, since the
/// dead-letter topic is only for events that can never apply).
pub const REDELIVERY_INTERVAL: Duration = Duration::from_secs(2);

/// Records in one delivery at most: more than daprd's [`BULK_MAX_MESSAGES`], since here no
/// HTTP request carries them, and the consumers write a delivery's events together (one
/// transaction for many events is most of their throughput; docs/BENCHMARKS.md).
pub const DELIVERY_MAX_RECORDS: usize = 5 * BULK_MAX_MESSAGES as usize;

/// One bulk delivery's records at most this many bytes in all (a delivery's limit, less
/// room for the entries' wrapping); a batch over it goes in several deliveries.
const DELIVERY_BYTES: usize = MAX_DELIVERY_BYTES - 64 * 1024;

/// Where one subscription's records come from and go.
#[derive(Debug, Clone)]
pub struct Target {
    pub topic: String,
    /// The sidecar route that takes the deliveries.
    pub route: String,
    pub dead_letter_topic: String,
    /// The consumer group.
    pub group: String,
    /// Where a group with no committed offset starts: the newest record (a live view)
    /// rather than the oldest.
    pub from_newest: bool,
}

impl Target {
    /// `subscription` of the function `app`, read as daprd reads it for that app.
    pub fn of(app: &str, subscription: &Subscription) -> Self {
        let live = subscription.pubsub == PUBSUB_REALTIME;
        Target {
            topic: subscription.topic.into(),
            route: subscription.route.into(),
            dead_letter_topic: subscription.dead_letter_topic(),
            group: if live {
                format!("{app}-{}", uuid::Uuid::new_v4().simple())
            } else {
                app.into()
            },
            from_newest: live,
        }
    }
}

type Stop = Shared<BoxFuture<'static, ()>>;

/// A function's subscriptions read straight from Kafka and delivered to its sidecar routes.
pub struct Subscriber {
    consumers: Vec<(Target, StreamConsumer)>,
    /// The function's sidecar routes (`http::sidecar_app`), called in-process.
    app: Router,
    dead_letters: KafkaPublisher,
}

impl Subscriber {
    /// A consumer per target on `brokers` (`host:port[,host:port...]`), subscribed at
    /// once; the records flow once [`Subscriber::run`] runs. Connects lazily: a broker
    /// that is down delays the records, it does not fail this call.
    pub fn new(brokers: &str, targets: Vec<Target>, app: Router) -> anyhow::Result<Self> {
        let dead_letters = KafkaPublisher::new(brokers)?;
        let consumers = targets
            .into_iter()
            .map(|target| {
                let consumer: StreamConsumer = ClientConfig::new()
                    .set("bootstrap.servers", brokers)
                    .set("group.id", &target.group)
                    .set("client.id", format!("{}-{}", target.group, target.topic))
                    // Offsets are stored by hand once a record is done, and the stored ones
                    // are committed in the background and on close.
                    .set("enable.auto.commit", "true")
                    .set("enable.auto.offset.store", "false")
                    .set(
                        "auto.offset.reset",
                        if target.from_newest {
                            "latest"
                        } else {
                            "earliest"
                        },
                    )
                    .create()
                    .with_context(|| {
                        format!(
                            "create the Kafka consumer of {} for {brokers}",
                            target.topic
                        )
                    })?;
                consumer
                    .subscribe(&[&target.topic])
                    .with_context(|| format!("subscribe to {}", target.topic))?;
                Ok((target, consumer))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Subscriber {
            consumers,
            app,
            dead_letters,
        })
    }

    /// Consumes until `shutdown` resolves: the batch in hand is finished (or, while it
    /// waits to be delivered again, left for the next consumer), then the done records'
    /// offsets are committed.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let stop: Stop = shutdown.boxed().shared();
        let consuming = self.consumers.iter().map(|(target, consumer)| {
            consume(
                target,
                consumer,
                &self.app,
                &self.dead_letters,
                stop.clone(),
            )
        });
        futures::future::join_all(consuming).await;
    }
}

async fn consume(
    target: &Target,
    consumer: &StreamConsumer,
    app: &Router,
    dead_letters: &KafkaPublisher,
    mut stop: Stop,
) {
    tracing::info!(topic = %target.topic, group = %target.group, route = %target.route,
        "consuming straight from Kafka");
    loop {
        let first = tokio::select! {
            biased;
            () = &mut stop => break,
            received = consumer.recv() => received,
        };
        let first = match first {
            Ok(message) => message,
            Err(e) => {
                // librdkafka reconnects by itself; this only reports (e.g. a broker down).
                tracing::warn!(topic = %target.topic, error = %e, "Kafka consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut batch = vec![first];
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(BULK_MAX_AWAIT_MS.into());
        while batch.len() < DELIVERY_MAX_RECORDS {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(Ok(message)) => batch.push(message),
                Ok(Err(e)) => {
                    tracing::warn!(topic = %target.topic, error = %e, "Kafka consumer error");
                    break;
                }
                Err(_) => break,
            }
        }
        if !deliver_until_done(target, app, dead_letters, &batch, &mut stop).await {
            break;
        }
        for message in &batch {
            // Fails only when the partition was taken away meanwhile: its new owner
            // delivers the record again, which is harmless.
            if let Err(e) = consumer.store_offset_from_message(message) {
                tracing::debug!(topic = %target.topic, error = %e, "offset not stored");
            }
        }
    }
    drop(stop);
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(topic = %target.topic, error = %e, "no offsets committed on stop");
    }
    tracing::info!(topic = %target.topic, "stopped consuming");
}

/// Delivers `batch` until every record is done (applied or dead-lettered); false when
/// `stop` came while some still waited to be delivered again.
async fn deliver_until_done(
    target: &Target,
    app: &Router,
    dead_letters: &KafkaPublisher,
    batch: &[BorrowedMessage<'_>],
    stop: &mut Stop,
) -> bool {
    let mut pending: Vec<usize> = (0..batch.len()).collect();
    loop {
        let statuses = deliver(app, &target.route, batch, &pending).await;
        let mut again = Vec::new();
        for (&i, status) in pending.iter().zip(statuses) {
            let done = match status {
                Delivery::Success => true,
                Delivery::Drop => {
                    let record = &batch[i];
                    let sent = dead_letters
                        .send(
                            &target.dead_letter_topic,
                            record.key().unwrap_or_default(),
                            record.payload().unwrap_or_default(),
                        )
                        .await;
                    if let Err(e) = &sent {
                        tracing::warn!(topic = %target.dead_letter_topic, error = %format!("{e:#}"),
                            "dead-lettering failed; the record is delivered again");
                    }
                    sent.is_ok()
                }
                Delivery::Retry => false,
            };
            if !done {
                again.push(i);
            }
        }
        if again.is_empty() {
            return true;
        }
        pending = again;
        tokio::select! {
            biased;
            () = &mut *stop => return false,
            () = tokio::time::sleep(REDELIVERY_INTERVAL) => {}
        }
    }
}

/// Delivers `batch[i]` for each of `indices`, in order, as bulk deliveries of at most
/// [`DELIVERY_BYTES`]; a status for each. A record no delivery can carry (not JSON, or
/// too large) is dropped without one (the route would refuse it too). Once a key's record asks for
/// redelivery, that key's later records are not delivered and ask for it too, so none
/// overtakes it.
async fn deliver(
    app: &Router,
    route: &str,
    batch: &[BorrowedMessage<'_>],
    indices: &[usize],
) -> Vec<Delivery> {
    let mut statuses = vec![Delivery::Retry; indices.len()];
    let mut held: HashSet<&[u8]> = HashSet::new();
    let mut entries: Vec<(usize, &[u8])> = Vec::new();
    let mut bytes = 0;
    for n in 0..=indices.len() {
        let next = indices.get(n).map(|&i| &batch[i]);
        let full =
            next.is_some_and(|m| !entries.is_empty() && bytes + m.payload_len() > DELIVERY_BYTES);
        if next.is_none() || full {
            let answers = post(app, route, &entries).await;
            for ((position, _), status) in entries.drain(..).zip(answers) {
                statuses[position] = status;
                if status == Delivery::Retry {
                    held.insert(batch[indices[position]].key().unwrap_or_default());
                }
            }
            bytes = 0;
        }
        let Some(message) = next else { break };
        let payload = message.payload().unwrap_or_default();
        if held.contains(message.key().unwrap_or_default()) {
            // stays Retry
        } else if let Some(reason) = undeliverable(payload) {
            tracing::warn!(
                topic = message.topic(),
                partition = message.partition(),
                offset = message.offset(),
                reason,
                "a record no route can take; dropped"
            );
            metrics::counter!("events_consumed_total", "outcome" => "drop").increment(1);
            statuses[n] = Delivery::Drop;
        } else {
            entries.push((n, payload));
            bytes += payload.len();
        }
    }
    statuses
}

/// Why no delivery could carry `payload`, if so: the route would refuse it whatever it held.
fn undeliverable(payload: &[u8]) -> Option<&'static str> {
    if payload.len() > DELIVERY_BYTES {
        Some("larger than a delivery may be")
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_err() {
        Some("not JSON")
    } else {
        None
    }
}

/// One bulk delivery of `entries` (their position, their record) to `route`, as daprd
/// sends it; a status for each, in order.
async fn post(app: &Router, route: &str, entries: &[(usize, &[u8])]) -> Vec<Delivery> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut body =
        Vec::with_capacity(entries.iter().map(|(_, p)| p.len() + 32).sum::<usize>() + 16);
    body.extend_from_slice(br#"{"entries":["#);
    for (n, (position, payload)) in entries.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(format!(r#"{{"entryId":"{position}","event":"#).as_bytes());
        body.extend_from_slice(payload);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    let request = Request::post(route)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a valid request");
    let response = match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let ids: Vec<String> = entries
        .iter()
        .map(|(position, _)| position.to_string())
        .collect();
    match response.into_body().collect().await {
        Ok(body) => {
            let statuses = read_reply(status, &body.to_bytes(), &ids);
            if !status.is_success() {
                tracing::warn!(route, %status, "the route failed a delivery");
            }
            statuses
        }
        Err(e) => {
            tracing::warn!(route, error = %e, "reading the route's answer failed");
            vec![Delivery::Retry; entries.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_no_delivery_can_carry_is_named() {
        assert_eq!(undeliverable(br#"{"specversion":"1.0"}"#), None);
        assert_eq!(undeliverable(b"not json"), Some("not JSON"));
        assert_eq!(undeliverable(b""), Some("not JSON"));
        let mut huge = vec![b'"'];
        huge.resize(DELIVERY_BYTES + 1, b'a');
        huge.push(b'"');
        assert_eq!(undeliverable(&huge), Some("larger than a delivery may be"));
    }
}
