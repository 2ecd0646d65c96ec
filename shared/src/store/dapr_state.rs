//! The chat's conversations in a Dapr state store (`statestore`, `state.postgresql` in
//! production: `components/statestore.yaml`), through the sidecar's state API.
//!
//! Keys (daprd prefixes each with the app id: `chat||<key>` in the store's table):
//! - `conversation:<user>:<id>`: one conversation, as
//!   `{"version": "<uuid>", "conversation": {...}}`;
//! - `conversations:<user>`: the user's index, `{"conversations": [summary, ...]}`, most
//!   recently changed first (ties by id), for the listing.
//!
//! `<user>` is the user id with `%` and `|` percent-encoded (`%25`, `%7C`): daprd refuses a
//! key holding its separator `||`, and no two users share a key. The id is the key's last
//! part and a UUID, so a key names one user's one conversation: another user's id finds
//! nothing.
//!
//! Versions: the `Etag` a caller gets is the conversation's `version`, a UUID written with
//! every save (the state API does not answer the ETag a save gave, so a save knows its own
//! version only if it chooses it). A save reads the conversation and the index together
//! (bulk get), checks that the conversation is still at the caller's version, then writes
//! both in one state transaction, each with the ETag it was read at (none for a key that
//! did not exist) and `concurrency: first-write`: of two saves from one version, at most
//! one commits, and the index never disagrees with a conversation. A failed transaction is
//! told apart by reading both keys again: the conversation moved (`Conflict`), only the
//! index moved (another conversation of the user was saved: the save runs again, up to
//! `ATTEMPTS` times), or neither (an outage or a refusal, answered as such). A transaction
//! that committed although its answer was lost shows its own version: a success.
//!
//! A sidecar that is down, slow (the client's timeout) or answers 5xx is `Unavailable`.
//! The index grows with the user's conversations and is rewritten by every save.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ConversationStore, Etag, StoreError};
use crate::dapr::{Delete, Refused, Sidecar, State, Upsert};
use crate::domain::conversation::{Conversation, ConversationSummary};

/// How many times a save runs when only the user's index keeps changing under it.
const ATTEMPTS: u32 = 16;

/// `ConversationStore` over the state API of the sidecar.
pub struct DaprConversations {
    sidecar: Arc<Sidecar>,
    store: String,
}

impl DaprConversations {
    /// Conversations in state store `store` (the component's name, e.g. `statestore`).
    pub fn new(sidecar: Arc<Sidecar>, store: impl Into<String>) -> Self {
        DaprConversations {
            sidecar,
            store: store.into(),
        }
    }

    /// The conversation's and the index's state, as they are now.
    async fn read(&self, user_id: &str, id: Uuid) -> Result<Stored, StoreError> {
        let keys = [conversation_key(user_id, id), index_key(user_id)];
        let mut states = self
            .sidecar
            .get_bulk_state(&self.store, &keys)
            .await
            .map_err(sidecar_error)?
            .into_iter();
        Ok(Stored {
            conversation: states.next().flatten(),
            index: states.next().flatten(),
        })
    }
}

/// One attempt of `write_with_index`: its answer without writing, or what to write in one
/// transaction and the answer once that commits.
enum Attempt<T> {
    Answer(T),
    Write {
        upserts: Vec<Upsert>,
        deletes: Vec<Delete>,
        answer: T,
    },
}

impl DaprConversations {
    /// Writes a change of conversation `id` together with the user's index: `attempt`
    /// plans it from the two keys as read. When the transaction fails, both are read again:
    /// `landed` answers if what was asked holds now (the write committed although its answer
    /// was lost); if neither key moved, the failure was an outage or a refusal; if only
    /// others' writes moved them (the index: another conversation of the user), it runs
    /// again, up to `ATTEMPTS` times, apart from those writes.
    async fn write_with_index<T>(
        &self,
        user_id: &str,
        id: Uuid,
        attempt: impl Fn(&Stored) -> Result<Attempt<T>, StoreError>,
        landed: impl Fn(&Stored) -> Result<Option<T>, StoreError>,
    ) -> Result<T, StoreError> {
        let mut stored = self.read(user_id, id).await?;
        for n in 1..=ATTEMPTS {
            let (upserts, deletes, answer) = match attempt(&stored)? {
                Attempt::Answer(answer) => return Ok(answer),
                Attempt::Write {
                    upserts,
                    deletes,
                    answer,
                } => (upserts, deletes, answer),
            };
            let Err(failure) = self
                .sidecar
                .transact_state(&self.store, &upserts, &deletes)
                .await
            else {
                return Ok(answer);
            };
            let again = self.read(user_id, id).await?;
            if let Some(answer) = landed(&again)? {
                return Ok(answer);
            }
            if again.etags() == stored.etags() {
                // Nothing moved: not a lost race.
                return Err(sidecar_error(failure));
            }
            tracing::debug!(attempt = n, error = %failure, "conversation write raced; reading again");
            stored = again;
            if n < ATTEMPTS {
                // Apart from the other writes of this user's index.
                let jitter = u64::try_from(Uuid::new_v4().as_u128() % 20).unwrap_or_default();
                tokio::time::sleep(Duration::from_millis(5 * u64::from(n) + jitter)).await;
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!(
            "the index of the user's conversations kept changing ({ATTEMPTS} attempts)"
        )))
    }
}

/// A conversation as stored: the version it was saved at, and the conversation.
#[derive(Serialize, Deserialize)]
struct Versioned<C> {
    version: String,
    conversation: C,
}

/// A user's index: the summaries of the user's conversations, newest first.
#[derive(Serialize, Deserialize, Default)]
struct Index {
    conversations: Vec<ConversationSummary>,
}

/// The two keys a save reads and writes.
struct Stored {
    conversation: Option<State>,
    index: Option<State>,
}

impl Stored {
    /// The version of the stored conversation (`None`: there is none).
    fn version(&self) -> Result<Option<String>, StoreError> {
        self.conversation
            .as_ref()
            .map(|state| {
                Versioned::<serde::de::IgnoredAny>::deserialize(&state.value)
                    .map(|v| v.version)
                    .map_err(|e| corrupt("conversation", e))
            })
            .transpose()
    }

    /// The user's index as read.
    fn index(&self) -> Result<Index, StoreError> {
        Index::of(self.index.as_ref())
    }

    /// `index` written in place of the one read, at its ETag.
    fn index_upsert(&self, user_id: &str, index: &Index) -> Result<Upsert, StoreError> {
        Ok(Upsert {
            key: index_key(user_id),
            value: serde_json::to_value(index)
                .map_err(|e| StoreError::Other(anyhow::anyhow!("index as JSON: {e}")))?,
            etag: self.etags().1.map(str::to_owned),
        })
    }

    fn etags(&self) -> (Option<&str>, Option<&str>) {
        (
            self.conversation.as_ref().and_then(|s| s.etag.as_deref()),
            self.index.as_ref().and_then(|s| s.etag.as_deref()),
        )
    }
}

#[async_trait]
impl ConversationStore for DaprConversations {
    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn get_conversation(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<(Conversation, Etag)>, StoreError> {
        let state = self
            .sidecar
            .get_state(&self.store, &conversation_key(user_id, id))
            .await
            .map_err(sidecar_error)?;
        let Some(state) = state else {
            return Ok(None);
        };
        let stored = Versioned::<Conversation>::deserialize(&state.value)
            .map_err(|e| corrupt("conversation", e))?;
        if stored.conversation.user_id != user_id || stored.conversation.id != id {
            return Err(corrupt("conversation", "another conversation's document"));
        }
        Ok(Some((stored.conversation, Etag(stored.version))))
    }

    #[tracing::instrument(skip_all, fields(user_id = %conversation.user_id, id = %conversation.id))]
    async fn save_conversation(
        &self,
        conversation: &Conversation,
        expected: Option<&Etag>,
    ) -> Result<Etag, StoreError> {
        let (user_id, id) = (conversation.user_id.as_str(), conversation.id);
        let version = Uuid::new_v4().to_string();
        let document = serde_json::to_value(Versioned {
            version: version.clone(),
            conversation,
        })
        .map_err(|e| StoreError::Other(anyhow::anyhow!("conversation as JSON: {e}")))?;
        self.write_with_index(
            user_id,
            id,
            |stored| {
                if stored.version()?.as_deref() != expected.map(|e| e.0.as_str()) {
                    return Err(changed(id));
                }
                let mut index = stored.index()?;
                index.put(conversation.summary());
                Ok(Attempt::Write {
                    upserts: vec![
                        Upsert {
                            key: conversation_key(user_id, id),
                            value: document.clone(),
                            etag: stored.etags().0.map(str::to_owned),
                        },
                        stored.index_upsert(user_id, &index)?,
                    ],
                    deletes: Vec::new(),
                    answer: Etag(version.clone()),
                })
            },
            // It committed; its answer was lost.
            |again| {
                Ok((again.version()?.as_deref() == Some(version.as_str()))
                    .then(|| Etag(version.clone())))
            },
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn delete_conversation(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        self.write_with_index(
            user_id,
            id,
            |stored| {
                let Some(etag) = stored.conversation.as_ref().and_then(|s| s.etag.clone()) else {
                    return Ok(Attempt::Answer(false));
                };
                let mut index = stored.index()?;
                index.conversations.retain(|s| s.id != id);
                Ok(Attempt::Write {
                    upserts: vec![stored.index_upsert(user_id, &index)?],
                    deletes: vec![Delete {
                        key: conversation_key(user_id, id),
                        etag,
                    }],
                    answer: true,
                })
            },
            // Gone: this delete committed and its answer was lost, or another request
            // deleted it first. Either way, what was asked holds.
            |again| Ok(again.conversation.is_none().then_some(true)),
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn list_conversations(
        &self,
        user_id: &str,
        offset: u64,
        page_size: u32,
    ) -> Result<(Vec<ConversationSummary>, u64), StoreError> {
        let state = self
            .sidecar
            .get_state(&self.store, &index_key(user_id))
            .await
            .map_err(sidecar_error)?;
        let index = Index::of(state.as_ref())?;
        let total = u64::try_from(index.conversations.len()).unwrap_or(u64::MAX);
        let page = index
            .conversations
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page_size).unwrap_or(usize::MAX))
            .collect();
        Ok((page, total))
    }
}

impl Index {
    /// The index in `state` (empty when there is none).
    fn of(state: Option<&State>) -> Result<Index, StoreError> {
        match state {
            Some(state) => Index::deserialize(&state.value).map_err(|e| corrupt("index", e)),
            None => Ok(Index::default()),
        }
    }

    /// Puts `summary` in place of the conversation's old one, in order: most recently
    /// changed first, ties by id (as the database backends list them).
    fn put(&mut self, summary: ConversationSummary) {
        self.conversations.retain(|s| s.id != summary.id);
        let key = |s: &ConversationSummary| (Reverse(s.updated_at), s.id);
        let at = self
            .conversations
            .partition_point(|s| key(s) < key(&summary));
        self.conversations.insert(at, summary);
    }
}

/// The key of `user_id`'s conversation `id`.
fn conversation_key(user_id: &str, id: Uuid) -> String {
    format!("conversation:{}:{id}", key_part(user_id))
}

/// The key of `user_id`'s index.
fn index_key(user_id: &str) -> String {
    format!("conversations:{}", key_part(user_id))
}

/// `user_id` in a key: `%` and `|` percent-encoded, so that no key holds daprd's separator
/// `||` and two user ids never give the same key.
fn key_part(user_id: &str) -> String {
    let mut part = String::with_capacity(user_id.len());
    for c in user_id.chars() {
        match c {
            '%' => part.push_str("%25"),
            '|' => part.push_str("%7C"),
            c => part.push(c),
        }
    }
    part
}

/// The conversation is no longer at the version the save started from (another save came
/// first; for a new one: it exists already).
fn changed(id: Uuid) -> StoreError {
    StoreError::Conflict(format!(
        "conversation {id} was saved by another request first"
    ))
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!(
        "stored {what} in the Dapr state store: {error}"
    ))
}

/// A sidecar that cannot be reached, times out or fails (5xx) is an outage; a refusal
/// (4xx: no such store, a bad key) is a bug or a misconfiguration.
fn sidecar_error(error: anyhow::Error) -> StoreError {
    match error.downcast_ref::<Refused>() {
        Some(refused) if refused.is_permanent() => StoreError::Other(error),
        _ => StoreError::Unavailable(error),
    }
}

#[cfg(test)]
mod tests {
    //! Against a stand-in of the sidecar's state API that keeps state in memory and
    //! answers as daprd does with `state.postgresql` (v1): an ETag per write, a key holding
    //! `||` refused with 400, a transaction whose ETag no longer matches (or whose first
    //! write finds the key) failing with 500 and writing nothing. The real daprd runs in
    //! scripts/e2e-dapr.sh and, on demand, in shared/tests/conversations.rs.

    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::Mutex;

    use axum::extract::{Path, State as Shared};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use chrono::{DateTime, Utc};
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::conversation::{Message, Role};
    use crate::domain::Timezone;

    #[derive(Default)]
    struct StandIn {
        /// key -> (value, etag)
        state: Mutex<HashMap<String, (Value, u64)>>,
        etags: AtomicU64,
        /// Transactions asked for (committed or not).
        transactions: AtomicUsize,
        /// Answer every state call with this status (and do nothing).
        refuse: Mutex<Option<u16>>,
        /// Answer every transaction with this status (and do nothing).
        refuse_writes: Mutex<Option<u16>>,
        /// Commit the next transaction, then answer 500 as if the answer were lost.
        lose_next_answer: AtomicBool,
        /// Hold every state call for this many seconds first.
        stall_secs: AtomicU64,
    }

    impl StandIn {
        async fn hold(&self) -> Option<Response> {
            let stall = self.stall_secs.load(Ordering::SeqCst);
            if stall > 0 {
                tokio::time::sleep(Duration::from_secs(stall)).await;
            }
            let refuse = *self.refuse.lock().unwrap();
            refuse.map(|status| {
                let status = StatusCode::from_u16(status).unwrap();
                (
                    status,
                    Json(json!({"errorCode": "ERR_TEST", "message": "refused"})),
                )
                    .into_response()
            })
        }

        fn value(&self, key: &str) -> Option<Value> {
            self.state.lock().unwrap().get(key).map(|(v, _)| v.clone())
        }

        fn keys(&self) -> Vec<String> {
            let mut keys: Vec<String> = self.state.lock().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        }
    }

    fn illegal(key: &str) -> Option<Response> {
        key.contains("||").then(|| {
            let body = json!({"errorCode": "ERR_MALFORMED_REQUEST", "message": key});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        })
    }

    async fn bulk(
        Path(store): Path<String>,
        Shared(standin): Shared<Arc<StandIn>>,
        Json(body): Json<Value>,
    ) -> Response {
        assert_eq!(store, "statestore");
        if let Some(refused) = standin.hold().await {
            return refused;
        }
        let keys: Vec<String> = serde_json::from_value(body["keys"].clone()).unwrap();
        if let Some(refused) = keys.iter().find_map(|k| illegal(k)) {
            return refused;
        }
        let state = standin.state.lock().unwrap();
        // Found keys first, then the missing ones, as state.postgresql answers.
        let (found, missing): (Vec<&String>, Vec<&String>) =
            keys.iter().partition(|k| state.contains_key(*k));
        let mut items: Vec<Value> = found
            .into_iter()
            .map(|k| {
                let (value, etag) = &state[k];
                json!({"key": k, "data": value, "etag": etag.to_string()})
            })
            .collect();
        items.extend(missing.into_iter().map(|k| json!({"key": k})));
        Json(items).into_response()
    }

    async fn transaction(
        Path(store): Path<String>,
        Shared(standin): Shared<Arc<StandIn>>,
        Json(body): Json<Value>,
    ) -> Response {
        assert_eq!(store, "statestore");
        if let Some(refused) = standin.hold().await {
            return refused;
        }
        standin.transactions.fetch_add(1, Ordering::SeqCst);
        if let Some(status) = *standin.refuse_writes.lock().unwrap() {
            return StatusCode::from_u16(status).unwrap().into_response();
        }
        let operations = body["operations"].as_array().unwrap().clone();
        let mut state = standin.state.lock().unwrap();
        for op in &operations {
            assert!(op["operation"] == "upsert" || op["operation"] == "delete");
            let request = &op["request"];
            assert_eq!(request["options"]["concurrency"], "first-write");
            let key = request["key"].as_str().unwrap();
            if let Some(refused) = illegal(key) {
                return refused;
            }
            let current = state.get(key).map(|(_, etag)| etag.to_string());
            if request["etag"].as_str().map(str::to_owned) != current {
                let body = json!({
                    "errorCode": "ERR_STATE_TRANSACTION",
                    "message": "error while executing state transaction: possible etag mismatch",
                });
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
            }
        }
        for op in operations {
            let etag = standin.etags.fetch_add(1, Ordering::SeqCst) + 1;
            let key = op["request"]["key"].as_str().unwrap().to_owned();
            if op["operation"] == "delete" {
                state.remove(&key);
            } else {
                state.insert(key, (op["request"]["value"].clone(), etag));
            }
        }
        if standin.lose_next_answer.swap(false, Ordering::SeqCst) {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        StatusCode::NO_CONTENT.into_response()
    }

    /// The stand-in on a free port, and a store on it.
    async fn sidecar() -> (
        Arc<StandIn>,
        Arc<DaprConversations>,
        tokio::task::JoinHandle<()>,
    ) {
        let standin = Arc::new(StandIn::default());
        let router = Router::new()
            .route(
                "/v1.0/healthz/outbound",
                get(|| async { StatusCode::NO_CONTENT }),
            )
            .route("/v1.0/state/{store}/bulk", post(bulk))
            .route("/v1.0/state/{store}/transaction", post(transaction))
            .with_state(standin.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let store = DaprConversations::new(Arc::new(Sidecar::new(port)), "statestore");
        (standin, Arc::new(store), server)
    }

    fn conversation(user: &str, text: &str, at: DateTime<Utc>) -> Conversation {
        let mut c = Conversation::start(Uuid::new_v4(), user, Timezone::UTC, at);
        c.messages.push(Message {
            role: Role::User,
            content: text.into(),
            tool_calls: vec![],
            at,
        });
        c
    }

    #[test]
    fn keys_name_one_users_one_conversation_without_daprs_separator() {
        let id = Uuid::nil();
        assert_eq!(
            conversation_key("alice", id),
            "conversation:alice:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(index_key("alice"), "conversations:alice");
        assert_eq!(key_part("a||b%7C:c"), "a%7C%7Cb%257C:c");
        // Escaping is one to one: "|" and its escape "%7C" stay apart.
        assert_ne!(key_part("a|"), key_part("a%7C"));
        for user in ["||", "a|", "|b|", "%|%", "x||conversation:y"] {
            assert!(!conversation_key(user, id).contains("||"), "{user}");
            assert!(!index_key(user).contains("||"), "{user}");
        }
    }

    #[test]
    fn the_index_keeps_the_newest_first_and_one_entry_per_conversation() {
        let at = crate::domain::now();
        let mut index = Index::default();
        let a = conversation("u", "a", at);
        let mut b = conversation("u", "b", at + chrono::Duration::seconds(1));
        b.updated_at = at + chrono::Duration::seconds(1);
        let mut c = conversation("u", "c", at);
        c.id = Uuid::from_u128(a.id.as_u128().wrapping_add(1));
        for x in [&a, &b, &c] {
            index.put(x.summary());
        }
        let titles = |index: &Index| -> Vec<String> {
            index
                .conversations
                .iter()
                .map(|s| s.title.clone())
                .collect()
        };
        let (first, second) = if a.id < c.id { ("a", "c") } else { ("c", "a") };
        assert_eq!(titles(&index), ["b", first, second]);
        let mut a2 = a.clone();
        a2.updated_at = at + chrono::Duration::seconds(2);
        index.put(a2.summary());
        assert_eq!(index.conversations.len(), 3);
        assert_eq!(titles(&index)[0], "a");
    }

    #[tokio::test]
    async fn a_conversation_and_the_users_index_are_written_together() {
        let (standin, store, _server) = sidecar().await;
        let at = crate::domain::now();
        let mut c = conversation("al|ce", "hello", at);
        let v1 = store.save_conversation(&c, None).await.unwrap();
        let key = format!("conversation:al%7Cce:{}", c.id);
        assert_eq!(
            standin.keys(),
            [key.clone(), "conversations:al%7Cce".into()]
        );
        assert_eq!(
            standin.value(&key).unwrap(),
            json!({"version": v1.0, "conversation": c})
        );
        assert_eq!(
            standin.value("conversations:al%7Cce").unwrap(),
            json!({"conversations": [c.summary()]})
        );
        assert_eq!(
            store.get_conversation("al|ce", c.id).await.unwrap(),
            Some((c.clone(), v1.clone()))
        );
        assert_eq!(store.get_conversation("al", c.id).await.unwrap(), None);

        c.messages[0].content = "hello there".into();
        let v2 = store.save_conversation(&c, Some(&v1)).await.unwrap();
        assert!(matches!(
            store.save_conversation(&c, Some(&v1)).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.save_conversation(&c, None).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store
                .get_conversation("al|ce", c.id)
                .await
                .unwrap()
                .unwrap()
                .1,
            v2
        );
        let (page, total) = store.list_conversations("al|ce", 0, 10).await.unwrap();
        assert_eq!((page, total), (vec![c.summary()], 1));
        // Conflicts are found before writing: three saves, two transactions.
        assert_eq!(standin.transactions.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn saves_of_one_users_conversations_at_once_all_reach_the_index() {
        let (standin, store, _server) = sidecar().await;
        let at = crate::domain::now();
        let saves: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                let mut c = conversation("bob", &format!("c{i}"), at);
                c.updated_at = at + chrono::Duration::seconds(i);
                tokio::spawn(async move { store.save_conversation(&c, None).await.map(|_| c) })
            })
            .collect();
        for save in saves {
            save.await.unwrap().unwrap();
        }
        let (page, total) = store.list_conversations("bob", 0, 100).await.unwrap();
        let titles: Vec<&str> = page.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(total, 8);
        assert_eq!(titles, ["c7", "c6", "c5", "c4", "c3", "c2", "c1", "c0"]);
        assert!(standin.transactions.load(Ordering::SeqCst) >= 8);
    }

    #[tokio::test]
    async fn a_transaction_that_committed_without_an_answer_is_a_success() {
        let (standin, store, _server) = sidecar().await;
        let c = conversation("carol", "hi", crate::domain::now());
        standin.lose_next_answer.store(true, Ordering::SeqCst);
        let etag = store.save_conversation(&c, None).await.unwrap();
        assert_eq!(
            store.get_conversation("carol", c.id).await.unwrap(),
            Some((c, etag))
        );
        assert_eq!(standin.transactions.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_delete_takes_the_key_and_the_index_entry_together() {
        let (standin, store, _server) = sidecar().await;
        let at = crate::domain::now();
        let kept = conversation("fay", "kept", at);
        let gone = conversation("fay", "gone", at);
        store.save_conversation(&kept, None).await.unwrap();
        store.save_conversation(&gone, None).await.unwrap();
        assert!(store.delete_conversation("fay", gone.id).await.unwrap());
        assert_eq!(
            standin.keys(),
            [
                format!("conversation:fay:{}", kept.id),
                "conversations:fay".into()
            ]
        );
        assert_eq!(
            standin.value("conversations:fay").unwrap(),
            json!({"conversations": [kept.summary()]})
        );
        // A delete that committed although its answer was lost is a success too.
        standin.lose_next_answer.store(true, Ordering::SeqCst);
        assert!(store.delete_conversation("fay", kept.id).await.unwrap());
        assert_eq!(standin.keys(), ["conversations:fay"]);
        assert!(!store.delete_conversation("fay", kept.id).await.unwrap());
    }

    #[tokio::test]
    async fn a_failing_sidecar_is_unavailable_and_a_refusal_is_not() {
        let (standin, store, server) = sidecar().await;
        let c = conversation("dave", "hi", crate::domain::now());
        let etag = store.save_conversation(&c, None).await.unwrap();

        *standin.refuse.lock().unwrap() = Some(500);
        let err = store.get_conversation("dave", c.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store.save_conversation(&c, Some(&etag)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store.list_conversations("dave", 0, 10).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

        *standin.refuse.lock().unwrap() = Some(400);
        let err = store.get_conversation("dave", c.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Other(_)), "{err:?}");

        // A transaction that fails while nothing moved: no conflict, not run again.
        *standin.refuse.lock().unwrap() = None;
        let mut next = c.clone();
        next.messages[0].content = "changed".into();
        for (status, unavailable) in [(500, true), (400, false)] {
            *standin.refuse_writes.lock().unwrap() = Some(status);
            let err = store
                .save_conversation(&next, Some(&etag))
                .await
                .unwrap_err();
            let want = matches!(err, StoreError::Unavailable(_)) == unavailable
                && !matches!(err, StoreError::Conflict(_));
            assert!(want, "{status}: {err:?}");
        }
        // One transaction each: the first save's, then one per refusal (none run again).
        assert_eq!(standin.transactions.load(Ordering::SeqCst), 3);
        *standin.refuse_writes.lock().unwrap() = None;
        store.save_conversation(&next, Some(&etag)).await.unwrap();

        // Gone: the sidecar's port is closed.
        server.abort();
        let _ = server.await;
        let err = store.get_conversation("dave", c.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store.save_conversation(&c, Some(&etag)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_slow_sidecar_is_unavailable() {
        let (standin, store, _server) = sidecar().await;
        store.list_conversations("erin", 0, 10).await.unwrap(); // ready
        standin.stall_secs.store(30, Ordering::SeqCst);
        let err = store.list_conversations("erin", 0, 10).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}
