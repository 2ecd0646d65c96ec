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
//!   number of events it missed, and should refetch its tasks.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::Router;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::events::subscription::{self, Delivery, Subscription};
use crate::events::{UserEvent, REMINDERS, TASK_UPDATES};
use crate::functions::Function;
use crate::http::{AppState, StreamUser};

const ROUTE: &str = "/events/realtime";
/// Events buffered per process for slow streams before they lag.
const HUB_CAPACITY: usize = 1024;
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub const FUNCTION: Function = Function {
    name: "realtime",
    routes,
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

fn routes() -> Router<AppState> {
    Router::new()
        .route(ROUTE, post(consume))
        .route("/api/{user_id}/stream", get(stream))
}

/// This process's fan-out of user events to its open streams.
pub struct Hub {
    sender: broadcast::Sender<Arc<UserEvent>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            sender: broadcast::channel(HUB_CAPACITY).0,
        }
    }
}

impl Hub {
    /// Hands `event` to every open stream (none may be open).
    pub fn send(&self, event: UserEvent) {
        let _ = self.sender.send(Arc::new(event));
    }

    /// The events `user_id` should see from now on, as SSE events.
    pub fn stream(&self, user_id: String) -> impl Stream<Item = Result<Event, Infallible>> {
        BroadcastStream::new(self.sender.subscribe()).filter_map(move |item| {
            let event = match item {
                Ok(event) if event.user_id() == user_id => sse_event(&event),
                Ok(_) => None,
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

#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn stream(
    State(state): State<AppState>,
    user: StreamUser,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    tracing::info!("stream opened");
    Sse::new(state.hub.stream(user.0)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
