//! Dapr's pub/sub contract on the app side (HTTP app channel):
//! - `GET /dapr/subscribe` lists this function's subscriptions;
//! - daprd `POST`s each CloudEvent (`application/cloudevents+json`) to the route, and the
//!   reply is 200 with `{"status":"SUCCESS"|"RETRY"|"DROP"}`;
//! - or, for a subscription with `bulk` on (Dapr's bulk subscribe), up to
//!   [`BULK_MAX_MESSAGES`] of them in one request, `{"entries":[{"entryId","event"},...]}`,
//!   and the reply is `{"statuses":[{"entryId","status"},...]}`, one status per entry, so
//!   one bad entry never fails its neighbours.
//!
//! A DROP goes to the subscription's dead-letter topic; a RETRY is delivered again
//! (resiliency.yaml). A route accepts both shapes, whichever daprd sends.
//!
//! Parsing is strict: an envelope that is not a CloudEvent 1.0, or data that is not a known
//! event of the current schema, is DROPped (never a panic, never an endless retry).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use futures::future::BoxFuture;
use futures::StreamExt;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::Instrument;

use super::SCHEMA_VERSION;
use crate::store::StoreError;

/// One subscription of a function, declared once (in its `FUNCTION`): `GET /dapr/subscribe`,
/// the in-process bus, `components/subscriptions.yaml` (`declarative_yaml`, checked by a
/// test) and the end-to-end run's expectations all come from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// The Dapr pub/sub component it reads through.
    pub pubsub: &'static str,
    pub topic: &'static str,
    pub route: &'static str,
    /// Delivered in batches (Dapr bulk subscribe) rather than one event per request.
    /// For consumers whose throughput matters and whose entries are idempotent by event
    /// id; each user's events still apply in order ([`in_order_per_user`]).
    pub bulk: bool,
}

/// Bulk subscribe: at most this many events in one delivery...
pub const BULK_MAX_MESSAGES: u32 = 100;
/// ...and a partly filled batch waits at most this long (milliseconds) in daprd.
pub const BULK_MAX_AWAIT_MS: u32 = 20;
/// A delivery's request body at most (daprd's own default request limit): the sidecar
/// routes take this much (`http::MAX_SIDECAR_BODY_BYTES`).
pub const MAX_DELIVERY_BYTES: usize = 4 * 1024 * 1024;
/// Users whose events of one batch are applied at the same time.
const BATCH_CONCURRENCY: usize = 16;

impl Subscription {
    /// Where a DROPped event goes: the topic's dead-letter topic.
    pub fn dead_letter_topic(&self) -> String {
        format!("{}-dlq", self.topic)
    }
}

/// What `GET /dapr/subscribe` answers for `subscriptions`.
pub fn subscribe_document(subscriptions: &[Subscription]) -> serde_json::Value {
    serde_json::Value::Array(
        subscriptions
            .iter()
            .map(|s| {
                let mut doc = serde_json::json!({
                    "pubsubname": s.pubsub,
                    "topic": s.topic,
                    "route": s.route,
                    "deadLetterTopic": s.dead_letter_topic(),
                });
                if s.bulk {
                    doc["bulkSubscribe"] = serde_json::json!({
                        "enabled": true,
                        "maxMessagesCount": BULK_MAX_MESSAGES,
                        "maxAwaitDurationMs": BULK_MAX_AWAIT_MS,
                    });
                }
                doc
            })
            .collect(),
    )
}

/// The declarative Dapr `Subscription` resources of each app's subscriptions (what
/// `components/subscriptions.yaml` holds), scoped to the app.
pub fn declarative_yaml<'a>(apps: impl IntoIterator<Item = (&'a str, &'a Subscription)>) -> String {
    let mut out = String::from(
        "# Generated from the functions' declarations (`todo-local subscriptions`); a test\n\
         # fails when this file and the code differ.\n\
         #\n\
         # Declarative subscriptions (the same ones the functions answer on GET /dapr/subscribe).\n\
         # A DROPped event goes to the dead-letter topic; a failed delivery is retried\n\
         # (resiliency.yaml) and never dead-lettered. Declaring a subscription here AND answering\n\
         # it on GET /dapr/subscribe is safe: daprd keeps one subscription per (pubsub, topic)\n\
         # for an app, the app's own replacing the declarative one (scripts/e2e-dapr.sh checks\n\
         # that each consumer's sidecar loaded exactly one). A Subscription applies only to the\n\
         # app ids in its scopes. realtime reads through its own component, pubsub-realtime\n\
         # (a consumer group per process: every replica sees every event).\n",
    );
    for (i, (app, s)) in apps.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&format!(
            "apiVersion: dapr.io/v2alpha1\n\
             kind: Subscription\n\
             metadata:\n  name: {app}-{topic}\n\
             spec:\n  pubsubname: {pubsub}\n  topic: {topic}\n  routes:\n    default: {route}\n  \
             deadLetterTopic: {dlq}\n{bulk}\
             scopes:\n  - {app}\n",
            topic = s.topic,
            pubsub = s.pubsub,
            route = s.route,
            dlq = s.dead_letter_topic(),
            bulk = if s.bulk {
                format!(
                    "  bulkSubscribe:\n    enabled: true\n    maxMessagesCount: {BULK_MAX_MESSAGES}\n    \
                     maxAwaitDurationMs: {BULK_MAX_AWAIT_MS}\n"
                )
            } else {
                String::new()
            },
        ));
    }
    out
}

/// The consumer's answer to daprd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Delivery {
    Success,
    Retry,
    Drop,
}

impl IntoResponse for Delivery {
    fn into_response(self) -> Response {
        Json(serde_json::json!({ "status": self })).into_response()
    }
}

/// Why a consumer could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// Transient (database down, deadlock): deliver again later.
    #[error("retry: {0:#}")]
    Retry(anyhow::Error),
    /// The event can never be applied: dead-letter it.
    #[error("drop: {0}")]
    Drop(String),
}

impl From<StoreError> for ConsumeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(_) | StoreError::Refused(_) => ConsumeError::Drop(e.to_string()),
            other => ConsumeError::Retry(other.into()),
        }
    }
}

impl From<ConsumeError> for Delivery {
    fn from(e: ConsumeError) -> Self {
        match e {
            ConsumeError::Retry(cause) => {
                tracing::warn!(error = %format!("{cause:#}"), "event not applied; asking for redelivery");
                Delivery::Retry
            }
            ConsumeError::Drop(reason) => {
                tracing::warn!(%reason, "event dropped to the dead-letter topic");
                Delivery::Drop
            }
        }
    }
}

/// What a consumer answers daprd: one status for a single delivery, or one per entry of
/// a bulk delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    One(Delivery),
    Bulk(Vec<(String, Delivery)>),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::One(delivery) => delivery.into_response(),
            Reply::Bulk(entries) => Json(serde_json::json!({
                "statuses": entries
                    .into_iter()
                    .map(|(id, status)| serde_json::json!({ "entryId": id, "status": status }))
                    .collect::<Vec<_>>(),
            }))
            .into_response(),
        }
    }
}

/// How daprd reads a consumer's answer, for what plays its part in-process (the bus of
/// `todo-local`, the direct Kafka subscriber): a status for each of the delivery's entries
/// (`entry_ids`; one for a single event). 404 (no such route) drops them; another failure
/// asks for redelivery; a 2xx with no body is a success; a single status applies to every
/// entry; a bulk answer names each entry, and an entry it leaves out, or an answer that is
/// none of these, is delivered again.
pub fn read_reply(
    status: axum::http::StatusCode,
    body: &[u8],
    entry_ids: &[String],
) -> Vec<Delivery> {
    let all = |delivery| vec![delivery; entry_ids.len()];
    if status == axum::http::StatusCode::NOT_FOUND {
        return all(Delivery::Drop);
    }
    if !status.is_success() {
        return all(Delivery::Retry);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return all(Delivery::Success);
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Answer {
        Bulk { statuses: Vec<EntryStatus> },
        One { status: Delivery },
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct EntryStatus {
        entry_id: String,
        status: Delivery,
    }
    match serde_json::from_slice::<Answer>(body) {
        Ok(Answer::One { status }) => all(status),
        Ok(Answer::Bulk { statuses }) => {
            let by_entry: HashMap<String, Delivery> = statuses
                .into_iter()
                .map(|s| (s.entry_id, s.status))
                .collect();
            entry_ids
                .iter()
                .map(|id| by_entry.get(id).copied().unwrap_or(Delivery::Retry))
                .collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "a consumer's answer is not a delivery status");
            all(Delivery::Retry)
        }
    }
}

/// The events a consumer can keep in order: those of one user apply one after the other.
pub trait Keyed {
    /// The partition key: the user the event belongs to.
    fn key(&self) -> &str;
}

/// A CloudEvent's fields that a consumer reads; its data is left as written, to be read
/// once, straight into the event's type.
#[derive(Deserialize)]
struct Envelope<'a> {
    specversion: String,
    id: String,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    data_base64: Option<String>,
    /// The trace the event belongs to (daprd and the direct Kafka transport set it).
    #[serde(default)]
    traceparent: Option<String>,
}

/// A delivered event and the span of its handling, which continues the event's trace.
pub struct Traced<T> {
    pub event: T,
    pub span: tracing::Span,
}

/// One entry of a bulk delivery (Dapr's `BulkSubscribeMessageItem`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkEntry<'a> {
    entry_id: String,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// What tells a bulk delivery from a single CloudEvent: `entries`, and no `specversion`.
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(default)]
    specversion: Option<IgnoredAny>,
    #[serde(default, borrow)]
    entries: Option<&'a RawValue>,
}

/// The `schema_version` of an event's data, if it has one (`null` too).
#[derive(Deserialize)]
struct Versioned {
    #[serde(default, deserialize_with = "present")]
    schema_version: Option<serde_json::Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// The whole app-side contract for one delivery, single or bulk: parse each CloudEvent's
/// data as `T` (an entry that is not one is DROPped), apply the events one at a time with
/// `apply` ([`in_order_per_user`]), and answer a status for each.
pub async fn consume<T, F, Fut>(body: &Bytes, apply: F) -> Reply
where
    T: DeserializeOwned + Keyed,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), ConsumeError>>,
{
    consume_batch(body, |events| in_order_per_user(events, apply)).await
}

/// As [`consume`], for a consumer that applies the events of a delivery together (e.g. one
/// database write for the batch): `apply` gets them in delivery order, each with its span
/// (kept open until the event is applied), and answers one result per event, in order.
pub async fn consume_batch<T, F, Fut>(body: &Bytes, apply: F) -> Reply
where
    T: DeserializeOwned,
    F: FnOnce(Vec<Traced<T>>) -> Fut,
    Fut: std::future::Future<Output = Vec<Result<(), ConsumeError>>>,
{
    let (bulk, parsed): (Option<Vec<String>>, Vec<Parsed<T>>) = match parse_delivery::<T>(body) {
        Ok(Delivered::One(event)) => (None, vec![event]),
        Ok(Delivered::Bulk(entries)) => {
            let (ids, events) = entries.into_iter().unzip();
            (Some(ids), events)
        }
        Err(reason) => (None, vec![Err(reason)]),
    };
    let mut statuses: Vec<Option<Delivery>> = Vec::with_capacity(parsed.len());
    let mut events = Vec::new();
    for entry in parsed {
        match entry {
            Ok(event) => {
                statuses.push(None);
                events.push(event);
            }
            Err(reason) => statuses.push(Some(ConsumeError::Drop(reason).into())),
        }
    }
    let expected = events.len();
    let mut results = apply(events).await.into_iter();
    let statuses: Vec<Delivery> = statuses
        .into_iter()
        .map(|status| {
            status.unwrap_or_else(|| match results.next() {
                Some(Ok(())) => Delivery::Success,
                Some(Err(e)) => e.into(),
                None => {
                    tracing::error!(expected, "a consumer answered fewer results than events");
                    Delivery::Retry
                }
            })
        })
        .collect();
    for status in &statuses {
        let outcome = match status {
            Delivery::Success => "success",
            Delivery::Retry => "retry",
            Delivery::Drop => "drop",
        };
        metrics::counter!("events_consumed_total", "outcome" => outcome).increment(1);
    }
    match bulk {
        Some(ids) => Reply::Bulk(ids.into_iter().zip(statuses).collect()),
        None => Reply::One(statuses[0]),
    }
}

/// As [`consume`], for a consumer that applies a delivery's events together (one write
/// for the batch): `apply` gets them all, each with its span, in delivery order. When that
/// fails because the database is down, every event asks for redelivery; when it fails for
/// another reason, each event is applied on its own ([`in_order_per_user`]), so one bad
/// event never fails its neighbours.
pub async fn consume_together<T, F>(body: &Bytes, apply: F) -> Reply
where
    T: DeserializeOwned + Keyed + Sync,
    F: for<'a> Fn(&'a [(&'a T, &'a tracing::Span)]) -> BoxFuture<'a, Result<(), StoreError>>,
{
    let apply = &apply;
    consume_batch(body, |events: Vec<Traced<T>>| async move {
        let together: Vec<_> = events.iter().map(|e| (&e.event, &e.span)).collect();
        match apply(&together).await {
            Ok(()) => events.iter().map(|_| Ok(())).collect(),
            Err(e) if events.len() == 1 => vec![Err(e.into())],
            Err(StoreError::Unavailable(e)) => {
                let reason = format!("database unavailable: {e:#}");
                events
                    .iter()
                    .map(|_| Err(ConsumeError::Retry(anyhow::anyhow!("{reason}"))))
                    .collect()
            }
            Err(e) => {
                tracing::debug!(error = %e, "a delivery's events failed together; applying one at a time");
                in_order_per_user(events, |event: T| async move {
                    let span = tracing::Span::current();
                    apply(&[(&event, &span)]).await.map_err(ConsumeError::from)
                })
                .await
            }
        }
    })
    .await
}

/// Applies `events` with `apply`, each in its span: different users' at the same time (up
/// to `BATCH_CONCURRENCY`), each user's one after the other in delivery order. Once one of
/// a user's events fails, that user's later events in the batch are not applied and ask
/// for redelivery too, so they never overtake it. One result per event, in order.
pub async fn in_order_per_user<T, F, Fut>(
    events: Vec<Traced<T>>,
    apply: F,
) -> Vec<Result<(), ConsumeError>>
where
    T: Keyed,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), ConsumeError>>,
{
    let apply = &apply;
    in_order_per_key(
        events,
        |event| event.event.key().to_owned(),
        BATCH_CONCURRENCY,
        |event| apply(event.event).instrument(event.span),
        |result| matches!(result, Err(ConsumeError::Retry(_))),
        || {
            Err(ConsumeError::Retry(anyhow::anyhow!(
                "an earlier event of the same user is not applied yet"
            )))
        },
    )
    .await
}

/// Runs `apply` on each of `items`: different keys' at the same time (up to `at_once`),
/// each key's one after the other in order. Once a key's result `holds` it, that key's
/// later items are not run and get `held()` instead, so none overtakes the one held. One
/// result per item, in order.
pub async fn in_order_per_key<I, K, R, Fut>(
    items: Vec<I>,
    key: impl Fn(&I) -> K,
    at_once: usize,
    apply: impl Fn(I) -> Fut,
    holds: impl Fn(&R) -> bool,
    held: impl Fn() -> R,
) -> Vec<R>
where
    K: std::hash::Hash + Eq,
    Fut: std::future::Future<Output = R>,
{
    let total = items.len();
    let mut keys: Vec<Vec<(usize, I)>> = Vec::new();
    let mut slot: HashMap<K, usize> = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        let n = *slot.entry(key(&item)).or_insert_with(|| {
            keys.push(Vec::new());
            keys.len() - 1
        });
        keys[n].push((i, item));
    }
    let (apply, holds, held) = (&apply, &holds, &held);
    let done: Vec<Vec<(usize, R)>> = futures::stream::iter(keys)
        .map(|items| async move {
            let mut out = Vec::with_capacity(items.len());
            let mut holding = false;
            for (i, item) in items {
                let result = if holding { held() } else { apply(item).await };
                holding |= holds(&result);
                out.push((i, result));
            }
            out
        })
        .buffer_unordered(at_once)
        .collect()
        .await;
    let mut results: Vec<Option<R>> = (0..total).map(|_| None).collect();
    for (i, result) in done.into_iter().flatten() {
        results[i] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.expect("every item has a result"))
        .collect()
}

/// One delivered event, or why it is not one.
type Parsed<T> = Result<Traced<T>, String>;

enum Delivered<T> {
    One(Parsed<T>),
    Bulk(Vec<(String, Parsed<T>)>),
}

/// A request body from daprd: a bulk delivery (`entries`) or a single CloudEvent. Read
/// without building a JSON tree: each event's data goes from the body's bytes straight
/// into `T`.
fn parse_delivery<T: DeserializeOwned>(body: &Bytes) -> Result<Delivered<T>, String> {
    if let Ok(Shape {
        specversion: None,
        entries: Some(entries),
    }) = serde_json::from_slice::<Shape>(body)
    {
        let entries: Vec<BulkEntry> =
            serde_json::from_str(entries.get()).map_err(|e| format!("not a bulk delivery: {e}"))?;
        return Ok(Delivered::Bulk(
            entries
                .into_iter()
                .map(|entry| {
                    (
                        entry.entry_id,
                        cloud_event_data(entry.event.get().as_bytes()),
                    )
                })
                .collect(),
        ));
    }
    Ok(Delivered::One(cloud_event_data(body)))
}

/// Parses a CloudEvent 1.0 envelope and its `data` as `T` (whose `schema_version`, when it
/// has one, must be the current one).
pub fn parse_cloud_event<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    cloud_event_data(body).map(|traced| traced.event)
}

/// The event of a CloudEvent, with a span of its own in the event's trace.
fn cloud_event_data<T: DeserializeOwned>(json: &[u8]) -> Result<Traced<T>, String> {
    let envelope: Envelope =
        serde_json::from_slice(json).map_err(|e| format!("not a CloudEvent envelope: {e}"))?;
    if envelope.specversion != "1.0" {
        return Err(format!(
            "unsupported CloudEvents specversion {:?}",
            envelope.specversion
        ));
    }
    if envelope.id.is_empty() {
        return Err("CloudEvent without id".into());
    }
    let decoded: Vec<u8>;
    let data: &[u8] = match (envelope.data, envelope.data_base64) {
        // Data sent as a JSON string holding the JSON (as some publishers do).
        (Some(raw), None) if raw.get().starts_with('"') => {
            decoded = serde_json::from_str::<String>(raw.get())
                .map_err(|e| format!("data is not JSON: {e}"))?
                .into_bytes();
            serde_json::from_slice::<IgnoredAny>(&decoded)
                .map_err(|e| format!("data is not JSON: {e}"))?;
            &decoded
        }
        (Some(raw), None) => raw.get().as_bytes(),
        (None, Some(b64)) => {
            decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("data_base64 is not base64: {e}"))?;
            serde_json::from_slice::<IgnoredAny>(&decoded)
                .map_err(|e| format!("data_base64 is not JSON: {e}"))?;
            &decoded
        }
        _ => return Err("CloudEvent without data".into()),
    };
    if let Ok(Versioned {
        schema_version: Some(v),
    }) = serde_json::from_slice(data)
    {
        if v != SCHEMA_VERSION {
            return Err(format!("unsupported schema_version {v}"));
        }
    }
    let event =
        serde_json::from_slice(data).map_err(|e| format!("unknown or malformed event: {e}"))?;
    let span = tracing::info_span!("event", event_id = %envelope.id);
    crate::telemetry::continue_trace(&span, envelope.traceparent.as_deref());
    Ok(Traced { event, span })
}

/// Wraps a message in the CloudEvent envelope daprd would deliver (used by the in-process
/// bus and by the direct Kafka transport, so subscribers see one format).
pub fn cloud_event(message: &crate::store::OutboxMessage, source: &str) -> serde_json::Value {
    let mut event = serde_json::json!({
        "specversion": "1.0",
        "id": message.event_id.to_string(),
        "source": source,
        "type": message.payload.get("event_type").and_then(|v| v.as_str()).unwrap_or("com.todo.event"),
        "datacontenttype": "application/json",
        "topic": message.topic,
        "partitionkey": message.partition_key,
        "data": message.payload,
    });
    if let Some(traceparent) = &message.traceparent {
        event["traceparent"] = traceparent.as_str().into();
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventType, TaskEvent};

    fn event() -> serde_json::Value {
        serde_json::json!({
            "event_id": "6f9c3c2e-8a63-4a55-9c7b-2f7f0f2b8a10",
            "event_type": "task.completed",
            "schema_version": "1.0",
            "user_id": "alice",
            "task_id": "0315ecb1-8a6c-4365-b037-51a6b5f93341",
            "occurred_at": "2026-11-22T10:00:00Z",
            "task": {
                "id": "0315ecb1-8a6c-4365-b037-51a6b5f93341", "user_id": "alice", "title": "t",
                "description": "", "completed": true, "completed_at": "2026-11-22T10:00:00Z",
                "priority": "P2", "tags": [], "due_at": null, "reminder_minutes": null,
                "remind_at": null, "reminder_sent_at": null, "recurrence": "weekly",
                "timezone": "UTC", "recurrence_parent_id": null, "recurrence_depth": 0,
                "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T10:00:00Z"
            }
        })
    }

    fn envelope(data: serde_json::Value) -> Bytes {
        Bytes::from(serde_json::to_vec(&serde_json::json!({
            "specversion": "1.0", "id": "x", "source": "s", "type": "com.dapr.event.sent", "data": data
        })).unwrap())
    }

    #[test]
    fn parses_a_dapr_cloud_event() {
        let e: TaskEvent = parse_cloud_event(&envelope(event())).unwrap();
        assert_eq!(e.event_type, EventType::Completed);
        assert_eq!(
            e.task.recurrence.map(|r| r.as_str().to_owned()).as_deref(),
            Some("weekly")
        );
    }

    #[test]
    fn refuses_what_is_not_a_current_task_event() {
        let mut unknown_type = event();
        unknown_type["event_type"] = "task.exploded".into();
        let mut old_schema = event();
        old_schema["schema_version"] = "0.9".into();
        let mut extra = event();
        extra["surprise"] = 1.into();
        for bad in [
            Bytes::from_static(b"not json"),
            Bytes::from_static(br#"{"specversion":"0.3","id":"x","data":{}}"#),
            Bytes::from_static(br#"{"specversion":"1.0","id":"x"}"#),
            envelope(unknown_type),
            envelope(old_schema),
            envelope(extra),
            envelope(serde_json::json!({"hello": "world"})),
        ] {
            assert!(parse_cloud_event::<TaskEvent>(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_the_data_however_it_was_written_single_or_in_bulk() {
        use base64::Engine;
        let text = event().to_string();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&text);
        let as_string = envelope(serde_json::Value::String(text));
        let as_base64 = Bytes::from(
            serde_json::json!({"specversion": "1.0", "id": "x", "data_base64": b64}).to_string(),
        );
        for body in [envelope(event()), as_string, as_base64] {
            let e: TaskEvent = parse_cloud_event(&body).unwrap();
            assert_eq!(e.task.title.as_str(), "t", "{body:?}");
        }

        let mut no_version = event();
        no_version["schema_version"] = serde_json::Value::Null;
        let entry = |id: &str, data: serde_json::Value| {
            serde_json::json!({"entryId": id, "contentType": "application/cloudevents+json",
                "event": {"specversion": "1.0", "id": id, "data": data}})
        };
        let bulk = Bytes::from(
            serde_json::json!({"id": "b", "topic": "task-events", "entries": [
                entry("0", event()), entry("1", no_version), entry("2", event())]})
            .to_string(),
        );
        let Ok(Delivered::Bulk(entries)) = parse_delivery::<TaskEvent>(&bulk) else {
            panic!("a bulk delivery");
        };
        let read: Vec<(&str, Result<(), &str>)> = entries
            .iter()
            .map(|(id, e)| (id.as_str(), e.as_ref().map(drop).map_err(String::as_str)))
            .collect();
        assert_eq!(
            read,
            [
                ("0", Ok(())),
                ("1", Err("unsupported schema_version null")),
                ("2", Ok(()))
            ]
        );
    }

    struct Of(&'static str, u32);

    impl Keyed for Of {
        fn key(&self) -> &str {
            self.0
        }
    }

    #[tokio::test]
    async fn a_users_events_apply_in_order_and_stop_at_its_first_retry() {
        let applied = std::sync::Mutex::new(Vec::new());
        let events = [
            Of("u1", 1),
            Of("u2", 1),
            Of("u1", 2),
            Of("u1", 3),
            Of("u2", 2),
        ]
        .into_iter()
        .map(|event| Traced {
            event,
            span: tracing::Span::none(),
        })
        .collect();
        let results = in_order_per_user(events, |e: Of| {
            let applied = &applied;
            async move {
                if e.0 == "u1" && e.1 == 2 {
                    return Err(ConsumeError::Retry(anyhow::anyhow!("down")));
                }
                applied.lock().unwrap().push((e.0, e.1));
                Ok(())
            }
        })
        .await;
        let outcome: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(outcome, [true, true, false, false, true]);
        let applied = applied.into_inner().unwrap();
        assert!(
            !applied.contains(&("u1", 3)),
            "u1's third never overtakes its second"
        );
        let u2: Vec<u32> = applied
            .iter()
            .filter(|e| e.0 == "u2")
            .map(|e| e.1)
            .collect();
        assert_eq!(u2, [1, 2]);
    }

    #[tokio::test]
    async fn a_bulk_reply_names_every_entry() {
        let body = Bytes::from(
            serde_json::to_vec(&serde_json::json!({"entries": [
                {"entryId": "a", "event": serde_json::from_slice::<serde_json::Value>(&envelope(event())).unwrap()},
                {"entryId": "b", "event": {"specversion": "1.0", "id": "y"}},
            ]}))
            .unwrap(),
        );
        let reply = consume(&body, |_: TaskEvent| async { Ok(()) }).await;
        assert_eq!(
            reply,
            Reply::Bulk(vec![
                ("a".into(), Delivery::Success),
                ("b".into(), Delivery::Drop)
            ])
        );
        let single = consume(&envelope(event()), |_: TaskEvent| async { Ok(()) }).await;
        assert_eq!(single, Reply::One(Delivery::Success));
    }

    #[test]
    fn an_answer_is_read_as_daprd_reads_it() {
        use axum::http::StatusCode;
        let ids: Vec<String> = ["0", "1", "2"].map(String::from).into();
        let bulk =
            br#"{"statuses":[{"entryId":"0","status":"SUCCESS"},{"entryId":"2","status":"DROP"}]}"#;
        assert_eq!(
            read_reply(StatusCode::OK, bulk, &ids),
            [Delivery::Success, Delivery::Retry, Delivery::Drop],
            "an entry left out is delivered again"
        );
        assert_eq!(
            read_reply(StatusCode::OK, br#"{"status":"DROP"}"#, &ids),
            [Delivery::Drop; 3]
        );
        assert_eq!(
            read_reply(StatusCode::OK, b"", &ids),
            [Delivery::Success; 3]
        );
        assert_eq!(
            read_reply(StatusCode::OK, b"<html>", &ids),
            [Delivery::Retry; 3]
        );
        assert_eq!(
            read_reply(StatusCode::NOT_FOUND, b"", &ids),
            [Delivery::Drop; 3]
        );
        assert_eq!(
            read_reply(
                StatusCode::SERVICE_UNAVAILABLE,
                br#"{"status":"SUCCESS"}"#,
                &ids
            ),
            [Delivery::Retry; 3]
        );
    }

    #[test]
    fn statuses_serialise_as_dapr_expects() {
        assert_eq!(serde_json::to_value(Delivery::Success).unwrap(), "SUCCESS");
        assert_eq!(serde_json::to_value(Delivery::Retry).unwrap(), "RETRY");
        assert_eq!(serde_json::to_value(Delivery::Drop).unwrap(), "DROP");
    }
}
