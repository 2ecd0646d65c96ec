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

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::events::subscription::{self, Delivery, Subscription};
use crate::events::{UserEvent, REMINDERS, TASK_UPDATES};
use crate::functions::Function;
use crate::http::{AppState, StreamUser};

const ROUTE: &str = "/events/realtime";
/// Events buffered per user for slow streams before they lag.
const USER_CAPACITY: usize = 256;
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub const FUNCTION: Function = Function {
    name: "realtime",
    api,
    sidecar,
    subscriptions: &[
        Subscription {
            topic: TASK_UPDATES,
            route: ROUTE,
            dead_letter_topic: "task-updates-dlq",
        },
        Subscription {
            topic: REMINDERS,
            route: ROUTE,
            dead_letter_topic: "reminders-dlq",
        },
    ],
};

fn api() -> Router<AppState> {
    Router::new().route("/api/{user_id}/stream", get(stream))
}

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(consume))
}

/// This process's fan-out of user events to its open streams: one channel per user with an
/// open stream, so one user's burst never makes another's stream lag, and events for users
/// without a stream here cost nothing.
#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<String, broadcast::Sender<Arc<UserEvent>>>>,
}

impl Hub {
    /// Hands `event` to its user's open streams, if any.
    pub fn send(&self, event: UserEvent) {
        let mut users = self.users.lock().expect("hub lock");
        let Some(sender) = users.get(event.user_id()) else {
            return;
        };
        if sender.receiver_count() == 0 {
            // Every stream of this user has closed.
            users.remove(event.user_id());
            return;
        }
        let _ = sender.send(Arc::new(event));
    }

    /// The events `user_id` should see from now on, as SSE events.
    pub fn stream(&self, user_id: String) -> impl Stream<Item = Result<Event, Infallible>> {
        let receiver = {
            let mut users = self.users.lock().expect("hub lock");
            users.retain(|_, s| s.receiver_count() > 0);
            users
                .entry(user_id)
                .or_insert_with(|| broadcast::channel(USER_CAPACITY).0)
                .subscribe()
        };
        BroadcastStream::new(receiver).filter_map(|item| {
            let event = match item {
                Ok(event) => sse_event(&event),
                Err(BroadcastStreamRecvError::Lagged(missed)) => Some(
                    Event::default()
                        .event("lagged")
                        .data(serde_json::json!({ "missed": missed }).to_string()),
                ),
            };
            std::future::ready(event.map(Ok))
        })
    }
}

fn sse_event(event: &UserEvent) -> Option<Event> {
    let data = serde_json::to_string(event).ok()?;
    Some(
        Event::default()
            .event(event.event_type())
            .id(event.event_id().to_string())
            .data(data),
    )
}

#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Delivery {
    subscription::consume(&body, |event: UserEvent| async move {
        state.hub.send(event);
        Ok(())
    })
    .await
}

#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn stream(
    State(state): State<AppState>,
    user: StreamUser,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    tracing::info!("stream opened");
    let events = state.hub.stream(user.user_id);
    Sse::new(until_expiry(events, user.expires_at))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// `events` until `expires_at` (the token's expiry), then a last `event: expired` and the
/// end of the stream: the client signs in again and reconnects with a fresh token.
fn until_expiry(
    events: impl Stream<Item = Result<Event, Infallible>>,
    expires_at: DateTime<Utc>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let left = (expires_at - Utc::now()).to_std().unwrap_or_default();
    let expired = Event::default()
        .event("expired")
        .data(serde_json::json!({ "expired_at": expires_at }).to_string());
    events
        .take_until(tokio::time::sleep(left))
        .chain(futures::stream::once(std::future::ready(Ok(expired))))
}
