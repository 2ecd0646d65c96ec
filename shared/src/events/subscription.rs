//! Dapr's pub/sub contract on the app side (HTTP app channel):
//! - `GET /dapr/subscribe` lists this function's subscriptions;
//! - daprd `POST`s each CloudEvent (`application/cloudevents+json`) to the route;
//! - the reply is 200 with `{"status":"SUCCESS"|"RETRY"|"DROP"}`. A DROP goes to the
//!   subscription's dead-letter topic.
//!
//! Parsing is strict: an envelope that is not a CloudEvent 1.0, or data that is not a known
//! event of the current schema, is DROPped (never a panic, never an endless retry).

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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
}

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
                serde_json::json!({
                    "pubsubname": s.pubsub,
                    "topic": s.topic,
                    "route": s.route,
                    "deadLetterTopic": s.dead_letter_topic(),
                })
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
             deadLetterTopic: {dlq}\n\
             scopes:\n  - {app}\n",
            topic = s.topic,
            pubsub = s.pubsub,
            route = s.route,
            dlq = s.dead_letter_topic(),
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
            StoreError::Invalid(_) => ConsumeError::Drop(e.to_string()),
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

#[derive(Deserialize)]
struct Envelope {
    specversion: String,
    id: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    data_base64: Option<String>,
}

/// The whole app-side contract for one delivery: parse the CloudEvent's data as `T`
/// (DROP when it is not one), apply it, and answer SUCCESS, RETRY or DROP.
pub async fn consume<T, F, Fut>(body: &Bytes, apply: F) -> Delivery
where
    T: DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), ConsumeError>>,
{
    let delivery = match parse_cloud_event::<T>(body) {
        Ok(event) => match apply(event).await {
            Ok(()) => Delivery::Success,
            Err(e) => e.into(),
        },
        Err(reason) => ConsumeError::Drop(reason).into(),
    };
    let outcome = match delivery {
        Delivery::Success => "success",
        Delivery::Retry => "retry",
        Delivery::Drop => "drop",
    };
    metrics::counter!("events_consumed_total", "outcome" => outcome).increment(1);
    delivery
}

/// Parses a CloudEvent 1.0 envelope and its `data` as `T` (whose `schema_version`, when it
/// has one, must be the current one).
pub fn parse_cloud_event<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| format!("not a CloudEvent envelope: {e}"))?;
    if envelope.specversion != "1.0" {
        return Err(format!(
            "unsupported CloudEvents specversion {:?}",
            envelope.specversion
        ));
    }
    if envelope.id.is_empty() {
        return Err("CloudEvent without id".into());
    }
    let data = match (envelope.data, envelope.data_base64) {
        (Some(serde_json::Value::String(s)), None) => {
            serde_json::from_str(&s).map_err(|e| format!("data is not JSON: {e}"))?
        }
        (Some(v), None) => v,
        (None, Some(b64)) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("data_base64 is not base64: {e}"))?;
            serde_json::from_slice(&raw).map_err(|e| format!("data_base64 is not JSON: {e}"))?
        }
        _ => return Err("CloudEvent without data".into()),
    };
    if let Some(v) = data.get("schema_version") {
        if v != SCHEMA_VERSION {
            return Err(format!("unsupported schema_version {v}"));
        }
    }
    serde_json::from_value(data).map_err(|e| format!("unknown or malformed event: {e}"))
}

/// Wraps a message in the CloudEvent envelope daprd would deliver (used by the in-process
/// bus and by the direct Kafka transport, so subscribers see one format).
pub fn cloud_event(message: &crate::store::OutboxMessage, source: &str) -> serde_json::Value {
    serde_json::json!({
        "specversion": "1.0",
        "id": message.event_id.to_string(),
        "source": source,
        "type": message.payload.get("event_type").and_then(|v| v.as_str()).unwrap_or("com.todo.event"),
        "datacontenttype": "application/json",
        "topic": message.topic,
        "partitionkey": message.partition_key,
        "data": message.payload,
    })
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
    fn statuses_serialise_as_dapr_expects() {
        assert_eq!(serde_json::to_value(Delivery::Success).unwrap(), "SUCCESS");
        assert_eq!(serde_json::to_value(Delivery::Retry).unwrap(), "RETRY");
        assert_eq!(serde_json::to_value(Delivery::Drop).unwrap(), "DROP");
    }
}
