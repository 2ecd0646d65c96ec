//! `realtime` — live task updates and reminders for browsers and chat clients.
//!
//! - Subscribed to `task-updates` and `reminders`: every event goes to this process's hub.
//!   Each replica needs every event (any replica may hold any user's stream), so its
//!   pub/sub component gives each pod its own consumer group (components/
//!   pubsub-realtime.yaml).
//! - `GET /api/{user_id}/stream` is a Server-Sent Events stream of that user's events, in
//!   the order they arrive: `event: <type>`, `id: <event_id>`, `data: <event JSON>`, with a
//!   keep-alive comment every 15 s. Auth as elsewhere; browsers' `EventSource` may send the
//!   token as `?access_token=`. A client too slow to keep up gets `event: lagged` with the
//!   number of events it missed, and should refetch its tasks. A stream ends when its token
//!   expires, with a last `event: expired`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::hub::MAX_STREAMS_PER_USER;
use crate::events::subscription::{self, Reply, Subscription};
use crate::events::{self, UserEvent, REMINDERS, TASK_UPDATES};
use crate::http::{ApiError, AppState, Function, StreamUser};

const ROUTE: &str = "/events/realtime";
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub const FUNCTION: Function = Function {
    name: "realtime",
    api,
    pages: crate::http::no_routes,
    sidecar,
    setup: crate::http::no_setup,
    subscriptions: &[
        Subscription {
            pubsub: events::PUBSUB_REALTIME,
            topic: TASK_UPDATES,
            route: ROUTE,
            bulk: false,
        },
        Subscription {
            pubsub: events::PUBSUB_REALTIME,
            topic: REMINDERS,
            route: ROUTE,
            bulk: false,
        },
    ],
};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(consume))
}

#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Reply {
    let state = &state;
    subscription::consume(&body, |event: UserEvent| async move {
        state.hub.send(event);
        Ok(())
    })
    .await
}

/// The live event stream
///
/// Server-Sent Events of the user's task changes and reminders, in order: `event:
/// task.created|task.updated|task.completed|task.deleted|reminder.due`, `id: <event_id>`,
/// `data: <the event JSON>`, with a keep-alive comment every 15 s. A client that falls
/// behind gets `event: lagged` and should refetch its tasks. At the token's expiry the
/// stream sends `event: expired` and ends; reconnect with a fresh token. A user may hold
/// only so many streams open at once on one server; one more answers 429.
#[utoipa::path(
    get,
    path = "/api/{user_id}/stream",
    operation_id = "stream",
    params(
        ("access_token" = Option<String>, Query, description = "The token, for clients that cannot send headers (a browser's `EventSource`); the header wins when both are sent"),
    ),
    responses(
        (status = 200, description = "The stream (it stays open); each event as `StreamEvent` describes", content_type = "text/event-stream", body = StreamEvent, example = json!("event: task.created\nid: 7d1e5c3a-…\ndata: {\"event_type\":\"task.created\",…}\n\n")),
        (status = 429, description = "The user already holds as many open streams as one may"),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn stream(
    State(state): State<AppState>,
    user: StreamUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let events = state.hub.stream(user.user_id).ok_or_else(|| {
        ApiError::TooMany(format!(
            "this user already has {MAX_STREAMS_PER_USER} event streams open; close one first"
        ))
    })?;
    tracing::info!("stream opened");
    // A first comment, so that the response's head goes out now, not with the first event
    // or keep-alive: the client knows at once that the stream is open.
    let open = futures::stream::once(std::future::ready(Ok(Event::default().comment("open"))));
    Ok(Sse::new(open.chain(until_expiry(events, user.expires_at)))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One event of the stream: what its `event:`, `id:` and `data:` lines carry.
// Written by `events::hub` and `until_expiry`.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // describes the wire format
struct StreamEvent {
    event: StreamEventName,
    /// The event's id (`Last-Event-ID`), on task and reminder events.
    #[schema(nullable = false)]
    id: Option<uuid::Uuid>,
    /// JSON: the task event (`event_id`, `event_type`, `occurred_at`, `task`) or the reminder
    /// (`event_id`, `task_id`, `title`, `due_at`, `remind_at`); for `lagged` `{"missed": n}`,
    /// for `expired` `{"expired_at": "<time>"}`.
    data: String,
}

/// What happened: a task change, a reminder, events missed by a slow client (`lagged`:
/// refetch the tasks), or the token's expiry (`expired`: the stream ends; reconnect).
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // describes the wire format
enum StreamEventName {
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.updated")]
    TaskUpdated,
    #[serde(rename = "task.completed")]
    TaskCompleted,
    #[serde(rename = "task.deleted")]
    TaskDeleted,
    #[serde(rename = "reminder.due")]
    ReminderDue,
    #[serde(rename = "lagged")]
    Lagged,
    #[serde(rename = "expired")]
    Expired,
}

/// `events` until `expires_at` (the token's expiry), then a last `event: expired` and the
/// end of the stream: the client signs in again and reconnects with a fresh token. When
/// `events` end first (the server is shutting down, `Hub::close`), the stream just ends,
/// and the client reconnects with the token it has.
fn until_expiry(
    events: impl Stream<Item = Result<Event, Infallible>>,
    expires_at: DateTime<Utc>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let left = (expires_at - Utc::now()).to_std().unwrap_or_default();
    let expired = Arc::new(AtomicBool::new(false));
    let deadline = {
        let expired = expired.clone();
        async move {
            tokio::time::sleep(left).await;
            expired.store(true, Ordering::Relaxed);
        }
    };
    // Read once `events` has ended: by the deadline, or by the hub.
    let last = futures::stream::once(async move { expired.load(Ordering::Relaxed) }).filter_map(
        move |expired| {
            std::future::ready(expired.then(|| {
                Ok(Event::default()
                    .event("expired")
                    .data(serde_json::json!({ "expired_at": expires_at }).to_string()))
            }))
        },
    );
    events.take_until(deadline).chain(last)
}
