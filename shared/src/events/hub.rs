//! The hub: this process's fan-out of user events to its open real-time streams
//! (`realtime`'s `GET /api/{user_id}/stream`).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::response::sse::Event;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use uuid::Uuid;

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
    users: Mutex<HashMap<String, Channel>>,
}

/// One user's channel, and the ids of the events it sent last: events arrive at least once
/// (a publish that timed out is published again by the sweep, Kafka redelivers after a
/// restart), and a stream shows each once.
struct Channel {
    sender: broadcast::Sender<Arc<UserEvent>>,
    recent: VecDeque<Uuid>,
}

impl Hub {
    /// Hands `event` to its user's open streams, if any, unless it already did.
    pub fn send(&self, event: UserEvent) {
        let mut users = self.users.lock().expect("hub lock");
        let Some(channel) = users.get_mut(event.user_id()) else {
            return;
        };
        if channel.sender.receiver_count() == 0 {
            // Every stream of this user has closed.
            users.remove(event.user_id());
            return;
        }
        let id = event.event_id();
        if channel.recent.contains(&id) {
            return;
        }
        if channel.recent.len() == USER_CAPACITY {
            channel.recent.pop_front();
        }
        channel.recent.push_back(id);
        let _ = channel.sender.send(Arc::new(event));
    }

    /// Ends every open stream (at shutdown): a stream would otherwise hold the server's
    /// drain open until its timeout, while its client can reconnect to another replica, or
    /// to this one restarted, at once.
    pub fn close(&self) {
        self.users.lock().expect("hub lock").clear();
    }

    /// The events `user_id` should see from now on, as SSE events; `None` when the user
    /// already has `MAX_STREAMS_PER_USER` open here.
    pub fn stream(
        &self,
        user_id: String,
    ) -> Option<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let receiver = {
            let mut users = self.users.lock().expect("hub lock");
            users.retain(|_, c| c.sender.receiver_count() > 0);
            let channel = users.entry(user_id).or_insert_with(|| Channel {
                sender: broadcast::channel(USER_CAPACITY).0,
                recent: VecDeque::with_capacity(USER_CAPACITY),
            });
            if channel.sender.receiver_count() >= MAX_STREAMS_PER_USER {
                return None;
            }
            channel.sender.subscribe()
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::events::{ReminderEvent, ReminderEventType};

    fn reminder(user_id: &str) -> UserEvent {
        UserEvent::Reminder(ReminderEvent {
            event_id: Uuid::new_v4(),
            event_type: ReminderEventType::Due,
            schema_version: "1".into(),
            user_id: user_id.into(),
            task_id: Uuid::new_v4(),
            title: "water plants".into(),
            due_at: Utc::now(),
            remind_at: Utc::now(),
            occurred_at: Utc::now(),
        })
    }

    #[tokio::test]
    async fn closing_ends_every_stream() {
        let hub = Hub::default();
        let stream = hub.stream("alice".into()).unwrap();
        hub.send(reminder("alice"));
        hub.close();
        let events: Vec<_> =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.collect())
                .await
                .expect("the stream ends");
        assert_eq!(events.len(), 1, "what was sent before still arrives");
        // The hub is still usable: a new stream after close gets its events.
        let again = hub.stream("alice".into()).unwrap();
        hub.send(reminder("alice"));
        drop(hub);
        assert_eq!(again.collect::<Vec<_>>().await.len(), 1);
    }

    /// An event delivered again (a publish retried by the sweep) reaches a stream once.
    #[tokio::test]
    async fn a_stream_shows_an_event_delivered_twice_once() {
        let hub = Hub::default();
        let stream = hub.stream("alice".into()).unwrap();
        let (first, second) = (reminder("alice"), reminder("alice"));
        for event in [&first, &first, &second, &first] {
            hub.send(event.clone());
        }
        drop(hub);
        let ids: Vec<String> = stream
            .map(|event| format!("{:?}", event.unwrap()))
            .collect()
            .await;
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert!(ids[0].contains(&first.event_id().to_string()));
        assert!(ids[1].contains(&second.event_id().to_string()));
    }
}
