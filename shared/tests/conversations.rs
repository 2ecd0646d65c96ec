//! The chat's conversations (`ConversationStore`) on the database under test: a save reads
//! back as it was written, another user's conversation is not there, a save from a stale
//! version is a conflict, and concurrent appends through get, modify, save (again on a
//! conflict) all survive; the listing is newest first, paged, with the total.
//!
//! With `CONVERSATIONS_DAPR_HTTP_PORT` set to the HTTP port of a running daprd that has the
//! `statestore` component (components/statestore.yaml), every scenario also runs on
//! `DaprConversations` through that sidecar.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{Db, TestApp};
use serde_json::json;
use shared::dapr::Sidecar;
use shared::domain::conversation::{Conversation, Message, Role, ToolCall};
use shared::domain::Timezone;
use shared::store::dapr_state::DaprConversations;
use shared::store::{ConversationStore, Etag, StoreError};
use uuid::Uuid;

/// `DaprConversations` on the daprd of `CONVERSATIONS_DAPR_HTTP_PORT`, if set.
fn dapr() -> Option<Arc<DaprConversations>> {
    let port = std::env::var("CONVERSATIONS_DAPR_HTTP_PORT").ok()?;
    let port = port
        .parse()
        .expect("CONVERSATIONS_DAPR_HTTP_PORT is a port");
    Some(Arc::new(DaprConversations::new(
        Arc::new(Sidecar::new(port)),
        "statestore",
    )))
}

/// Runs `scenario` on the database's store, then on the Dapr state store when there is one.
macro_rules! on_every_store {
    ($scenario:ident) => {{
        let db = Db::open(4).await;
        $scenario(db.store.clone()).await;
        if let Some(dapr) = dapr() {
            $scenario(dapr).await;
        }
    }};
}

fn now() -> DateTime<Utc> {
    shared::domain::now()
}

fn message(role: Role, content: &str, at: DateTime<Utc>) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: Vec::new(),
        at,
    }
}

/// A conversation of `user` with a first message.
fn conversation(user: &str, first: &str, at: DateTime<Utc>) -> Conversation {
    let mut c = Conversation::start(Uuid::new_v4(), user, Timezone::UTC, at);
    c.messages.push(message(Role::User, first, at));
    c
}

fn is_conflict(result: &Result<Etag, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

#[tokio::test]
async fn a_saved_conversation_reads_back_as_written() {
    on_every_store!(round_trip);
}

async fn round_trip<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let user = TestApp::user();
    let at = now();
    let mut c = Conversation::start(
        Uuid::new_v4(),
        &user,
        Timezone::parse("Europe/Berlin").unwrap(),
        at,
    );
    c.messages.push(message(
        Role::User,
        "add pay rent every month on the 1st #home",
        at,
    ));
    c.messages.push(Message {
        role: Role::Assistant,
        content: "Added \"pay rent\", every month on the 1st.".into(),
        tool_calls: vec![ToolCall {
            tool: "add_task".into(),
            arguments: json!({"title": "pay rent", "tags": ["home"], "recurrence": "monthly"}),
            result: Some(json!({"id": Uuid::new_v4(), "title": "pay rent"})),
            error: None,
        }],
        at: at + Duration::milliseconds(1),
    });
    c.last_list = vec![Uuid::new_v4(), Uuid::new_v4()];
    c.updated_at = at + Duration::milliseconds(1);

    let first = store.save_conversation(&c, None).await.unwrap();
    let (read, etag) = store.get_conversation(&user, c.id).await.unwrap().unwrap();
    assert_eq!(read, c);
    assert_eq!(etag, first);

    // A change saved from the version read is the new version.
    c.messages.push(message(
        Role::User,
        "thanks, with ünïcödé ✓",
        at + Duration::seconds(2),
    ));
    c.messages.push(Message {
        role: Role::Assistant,
        content: String::new(),
        tool_calls: vec![ToolCall {
            tool: "complete_task".into(),
            arguments: json!({"task_id": "nope"}),
            result: None,
            error: Some("task_id must be a UUID".into()),
        }],
        at: at + Duration::seconds(2),
    });
    c.timezone = Timezone::parse("America/New_York").unwrap();
    c.updated_at = at + Duration::seconds(2);
    let second = store.save_conversation(&c, Some(&etag)).await.unwrap();
    assert_ne!(second, first);
    let (read, etag) = store.get_conversation(&user, c.id).await.unwrap().unwrap();
    assert_eq!(read, c);
    assert_eq!(etag, second);

    assert_eq!(
        store.get_conversation(&user, Uuid::new_v4()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn another_users_conversation_is_not_there() {
    on_every_store!(scoped_by_user);
}

async fn scoped_by_user<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let (alice, bob) = (TestApp::user(), TestApp::user());
    let mut c = conversation(&alice, "my secret plans", now());
    let etag = store.save_conversation(&c, None).await.unwrap();

    assert_eq!(store.get_conversation(&bob, c.id).await.unwrap(), None);
    assert_eq!(
        store.list_conversations(&bob, 0, 20).await.unwrap(),
        (vec![], 0)
    );

    // Bob cannot write over it, even with its version.
    let mut theirs = c.clone();
    theirs.user_id = bob.clone();
    theirs.messages.push(message(Role::User, "mine now", now()));
    assert!(is_conflict(
        &store.save_conversation(&theirs, Some(&etag)).await
    ));
    assert_eq!(store.get_conversation(&bob, c.id).await.unwrap(), None);

    c.messages.push(message(Role::Assistant, "noted", now()));
    store.save_conversation(&c, Some(&etag)).await.unwrap();
    let (read, _) = store.get_conversation(&alice, c.id).await.unwrap().unwrap();
    assert_eq!(read.messages.len(), 2);
    assert_eq!(store.list_conversations(&alice, 0, 20).await.unwrap().1, 1);

    // User ids are any text: one that looks like a key or Dapr's separator is just a user.
    let odd = format!("{}||conversation:%7C|", TestApp::user());
    let c = conversation(&odd, "hello", now());
    store.save_conversation(&c, None).await.unwrap();
    assert_eq!(
        store.get_conversation(&odd, c.id).await.unwrap().unwrap().0,
        c
    );
    assert_eq!(store.list_conversations(&odd, 0, 20).await.unwrap().1, 1);
}

#[tokio::test]
async fn a_save_from_a_stale_version_is_a_conflict() {
    on_every_store!(stale_version);
}

async fn stale_version<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let user = TestApp::user();
    let mut c = conversation(&user, "first", now());
    let v1 = store.save_conversation(&c, None).await.unwrap();

    let mut a = c.clone();
    a.messages.push(message(Role::Assistant, "from a", now()));
    let v2 = store.save_conversation(&a, Some(&v1)).await.unwrap();

    // b started from v1 too: it lost.
    c.messages.push(message(Role::Assistant, "from b", now()));
    assert!(is_conflict(&store.save_conversation(&c, Some(&v1)).await));
    let (read, etag) = store.get_conversation(&user, c.id).await.unwrap().unwrap();
    assert_eq!((read, etag), (a, v2));

    // A version no save gave is stale too.
    let bogus = Etag("not-a-version".into());
    assert!(is_conflict(
        &store.save_conversation(&c, Some(&bogus)).await
    ));
    // As is any version of a conversation that does not exist.
    let new = conversation(&user, "never saved", now());
    assert!(is_conflict(&store.save_conversation(&new, Some(&v1)).await));
    assert_eq!(store.get_conversation(&user, new.id).await.unwrap(), None);
}

#[tokio::test]
async fn a_new_conversation_saved_twice_as_new_conflicts() {
    on_every_store!(new_twice);
}

async fn new_twice<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let user = TestApp::user();
    let c = conversation(&user, "hello", now());
    let etag = store.save_conversation(&c, None).await.unwrap();
    let mut again = c.clone();
    again.messages[0].content = "hello again".into();
    assert!(is_conflict(&store.save_conversation(&again, None).await));
    assert_eq!(
        store.get_conversation(&user, c.id).await.unwrap(),
        Some((c, etag))
    );
    assert_eq!(store.list_conversations(&user, 0, 20).await.unwrap().1, 1);

    // Two first saves at once: exactly one wins.
    let c = conversation(&user, "race", now());
    let (a, b) = tokio::join!(
        store.save_conversation(&c, None),
        store.save_conversation(&c, None)
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(is_conflict(&a) || is_conflict(&b));
    assert_eq!(store.list_conversations(&user, 0, 20).await.unwrap().1, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_to_one_conversation_all_survive() {
    on_every_store!(concurrent_appends);
}

/// Appends `text` as the chat function does: read, add, save; again from the start when
/// another save came first. The number of conflicts it met.
async fn append<S: ConversationStore + ?Sized>(
    store: &S,
    user: &str,
    id: Uuid,
    text: &str,
) -> usize {
    for conflicts in 0..100 {
        let (mut c, etag) = store.get_conversation(user, id).await.unwrap().unwrap();
        let at = now();
        c.messages.push(message(Role::User, text, at));
        c.messages
            .push(message(Role::Assistant, &format!("re: {text}"), at));
        c.updated_at = at;
        match store.save_conversation(&c, Some(&etag)).await {
            Ok(_) => return conflicts,
            Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
            Err(e) => panic!("{e:?}"),
        }
    }
    panic!("{text}: 100 conflicts in a row");
}

async fn concurrent_appends<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let user = TestApp::user();
    let c = conversation(&user, "start", now());
    store.save_conversation(&c, None).await.unwrap();
    let texts: Vec<String> = (0..8).map(|i| format!("message {i}")).collect();
    let handles: Vec<_> = texts
        .iter()
        .map(|text| {
            let (store, user, text) = (store.clone(), user.clone(), text.clone());
            tokio::spawn(async move { append(&*store, &user, c.id, &text).await })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let (read, _) = store.get_conversation(&user, c.id).await.unwrap().unwrap();
    assert_eq!(read.messages.len(), 1 + 2 * texts.len());
    let users: BTreeSet<&str> = read
        .messages
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.as_str())
        .collect();
    let mut want: BTreeSet<&str> = texts.iter().map(String::as_str).collect();
    want.insert("start");
    assert_eq!(users, want);
    // Each reply follows its own message: no save interleaved another's pair.
    for pair in read.messages[1..].chunks(2) {
        assert_eq!(pair[1].content, format!("re: {}", pair[0].content));
    }
    let (page, total) = store.list_conversations(&user, 0, 20).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(page[0].messages, read.messages.len());
}

#[tokio::test]
async fn the_listing_is_newest_first_paged_with_the_total() {
    on_every_store!(listing);
}

async fn listing<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let user = TestApp::user();
    assert_eq!(
        store.list_conversations(&user, 0, 20).await.unwrap(),
        (vec![], 0)
    );

    let base = now() - Duration::hours(1);
    let mut saved = Vec::new();
    for i in 0..5 {
        let mut c = conversation(&user, &format!("conversation {i}"), base);
        c.updated_at = base + Duration::minutes(i);
        let etag = store.save_conversation(&c, None).await.unwrap();
        saved.push((c, etag));
    }
    // Two changed at the same time: by id.
    let mut tied: Vec<Conversation> = (0..2)
        .map(|i| {
            let mut c = conversation(&user, &format!("tied {i}"), base);
            c.updated_at = base + Duration::seconds(150);
            c
        })
        .collect();
    for c in &tied {
        store.save_conversation(c, None).await.unwrap();
    }
    tied.sort_by_key(|c| c.id);
    let mut want: Vec<String> = vec![
        "conversation 4".into(),
        "conversation 3".into(),
        tied[0].messages[0].content.clone(),
        tied[1].messages[0].content.clone(),
        "conversation 2".into(),
        "conversation 1".into(),
        "conversation 0".into(),
    ];
    let titles = |page: &[shared::domain::conversation::ConversationSummary]| -> Vec<String> {
        page.iter().map(|s| s.title.clone()).collect()
    };

    let (all, total) = store.list_conversations(&user, 0, 100).await.unwrap();
    assert_eq!((titles(&all), total), (want.clone(), 7));
    assert_eq!(all[0], saved[4].0.summary());
    let (page, total) = store.list_conversations(&user, 0, 3).await.unwrap();
    assert_eq!((titles(&page), total), (want[..3].to_vec(), 7));
    let (page, total) = store.list_conversations(&user, 3, 3).await.unwrap();
    assert_eq!((titles(&page), total), (want[3..6].to_vec(), 7));
    let (page, total) = store.list_conversations(&user, 6, 3).await.unwrap();
    assert_eq!((titles(&page), total), (want[6..].to_vec(), 7));
    assert_eq!(
        store.list_conversations(&user, 7, 3).await.unwrap(),
        (vec![], 7)
    );
    assert_eq!(
        store.list_conversations(&user, u64::MAX, 3).await.unwrap(),
        (vec![], 7)
    );
    assert_eq!(
        store.list_conversations(&user, 0, 0).await.unwrap(),
        (vec![], 7)
    );

    // The oldest gets a message: it is the newest now, with its new summary.
    let (mut oldest, etag) = saved.swap_remove(0);
    oldest
        .messages
        .push(message(Role::Assistant, "hello again", now()));
    oldest.updated_at = now();
    store.save_conversation(&oldest, Some(&etag)).await.unwrap();
    want.rotate_right(1);
    let (page, total) = store.list_conversations(&user, 0, 2).await.unwrap();
    assert_eq!((titles(&page), total), (want[..2].to_vec(), 7));
    assert_eq!(page[0], oldest.summary());
    assert_eq!(page[0].messages, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conversations_of_one_user_saved_at_once_are_all_listed() {
    on_every_store!(many_at_once);
}

async fn many_at_once<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let user = TestApp::user();
    let at = now();
    let saves: Vec<_> = (0..6)
        .map(|i| {
            let (store, user) = (store.clone(), user.clone());
            tokio::spawn(async move {
                let mut c = conversation(&user, &format!("c{i}"), at);
                c.updated_at = at + Duration::seconds(i);
                store.save_conversation(&c, None).await.unwrap();
                // And a second message at once, from the version just saved.
                let (mut c, etag) = store.get_conversation(&user, c.id).await.unwrap().unwrap();
                c.messages.push(message(Role::Assistant, "ok", at));
                store.save_conversation(&c, Some(&etag)).await.unwrap();
            })
        })
        .collect();
    for save in saves {
        save.await.unwrap();
    }
    let (page, total) = store.list_conversations(&user, 0, 20).await.unwrap();
    let titles: Vec<&str> = page.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(total, 6);
    assert_eq!(titles, ["c5", "c4", "c3", "c2", "c1", "c0"]);
    assert!(page.iter().all(|s| s.messages == 2), "{page:?}");
}

#[tokio::test]
async fn a_deleted_conversation_is_gone_from_its_key_and_the_listing() {
    on_every_store!(deleted);
}

async fn deleted<S: ConversationStore + ?Sized>(store: Arc<S>) {
    let user = TestApp::user();
    let at = now();
    let kept = conversation(&user, "kept", at);
    let gone = conversation(&user, "gone", at + Duration::seconds(1));
    store.save_conversation(&kept, None).await.unwrap();
    let before = store.save_conversation(&gone, None).await.unwrap();
    // Another user's id deletes nothing, and says so.
    let other = TestApp::user();
    assert!(!store.delete_conversation(&other, gone.id).await.unwrap());
    assert!(store.delete_conversation(&user, gone.id).await.unwrap());
    assert!(store
        .get_conversation(&user, gone.id)
        .await
        .unwrap()
        .is_none());
    let (page, total) = store.list_conversations(&user, 0, 20).await.unwrap();
    assert_eq!((page, total), (vec![kept.summary()], 1));
    assert!(
        !store.delete_conversation(&user, gone.id).await.unwrap(),
        "once"
    );
    // A save from the version before the delete does not bring it back.
    let mut again = gone.clone();
    again.messages.push(message(Role::Assistant, "late", at));
    assert!(store
        .save_conversation(&again, Some(&before))
        .await
        .is_err());
    assert!(store
        .get_conversation(&user, gone.id)
        .await
        .unwrap()
        .is_none());
}
