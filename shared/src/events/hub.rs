//! The hub: this process's fan-out of user events to its open real-time streams
//! (`realtime`'s `GET /api/{user_id}/stream`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::response::sse::Event;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::UserEvent;

/// Events buffered per user for slow streams before they lag.
const USER_CAPACITY: usize = 256;

/// Open streams one user may hold in this process (tabs, devices): each holds a connection,
/// and the process has a fixed number (`APP_MAX_CONNECTIONS`), so one user must not be able
/// to take them all.
pub const MAX_STREAMS_PER_USER: usize = 16;

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

    /// The events `user_id` should see from now on, as SSE events; `None` when the user
    /// already has `MAX_STREAMS_PER_USER` open here.
    pub fn stream(
        &self,
        user_id: String,
    ) -> Option<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let receiver = {
            let mut users = self.users.lock().expect("hub lock");
            users.retain(|_, s| s.receiver_count() > 0);
            let sender = users
                .entry(user_id)
                .or_insert_with(|| broadcast::channel(USER_CAPACITY).0);
            if sender.receiver_count() >= MAX_STREAMS_PER_USER {
                return None;
            }
            sender.subscribe()
        };
        Some(BroadcastStream::new(receiver).filter_map(|item| {
            let event = match item {
                Ok(event) => sse_event(&event),
                Err(BroadcastStreamRecvError::Lagged(missed)) => Some(
                    Event::default()
                        .event("lagged")
                        .data(serde_json::json!({ "missed": missed }).to_string()),
                ),
            };
            std::future::ready(event.map(Ok))
        }))
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
