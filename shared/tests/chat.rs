//! `chat`: the built-in assistant end to end (sentences become tool calls through MCP, as
//! the user), a scripted OpenAI-protocol model (tool calls, malformed arguments, an unknown
//! tool, a failing, a slow and an absent model), streaming, conversations and their
//! concurrency, and the limits.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::{assert_error, TestApp};
use serde_json::{json, Value};
use shared::handlers::chat::ModelSettings;

async fn say(app: &TestApp, user: &str, body: Value) -> (StatusCode, Value) {
    app.call(user, "POST", &format!("/api/{user}/chat"), Some(body))
        .await
}

/// Sends `message` in `conversation` (a new one with `None`); asserts 200.
async fn chat(app: &TestApp, user: &str, message: &str, conversation: Option<&str>) -> Value {
    let mut body = json!({"message": message, "timezone": "Europe/Berlin"});
    if let Some(id) = conversation {
        body["conversation_id"] = json!(id);
    }
    let (status, reply) = say(app, user, body).await;
    assert_eq!(status, StatusCode::OK, "{message}: {reply}");
    reply
}

#[tokio::test]
async fn add_buy_milk_creates_that_task_and_answers_in_words() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let reply = chat(&app, &user, "add buy milk tomorrow at 5pm #home p1", None).await;
    let calls = reply["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{reply}");
    assert_eq!(calls[0]["tool"], "add_task");
    let task = &calls[0]["result"];
    assert_eq!(
        (&task["title"], &task["priority"], &task["tags"]),
        (&json!("buy milk"), &json!("P1"), &json!(["home"]))
    );
    // Tomorrow 17:00 in Berlin.
    let due = common::time(&task["due_at"]).unwrap();
    let local = due.with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(local.format("%H:%M").to_string(), "17:00");
    let text = reply["response"].as_str().unwrap();
    assert!(text.starts_with("Added “buy milk”"), "{text}");
    // A rule and a reminder in words.
    let reply = chat(
        &app,
        &user,
        "add take pills every day at 8am for 10 days remind me 5 min before",
        None,
    )
    .await;
    let text = reply["response"].as_str().unwrap();
    assert!(
        text.contains("repeating every day, 10 times, reminder 5 minutes before)"),
        "{text}"
    );
    // The task is there for the REST API too.
    let page = app.list(&user, "search=milk").await;
    assert_eq!(page["total_count"], 1);
}

#[tokio::test]
async fn a_conversation_lists_completes_by_number_and_is_kept() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for title in ["water plants", "call mum", "pay rent"] {
        app.create(
            &user,
            json!({"title": title, "due_at": "2026-12-10T09:00:00Z"}),
        )
        .await;
    }
    let first = chat(&app, &user, "show all tasks", None).await;
    let id = first["conversation_id"].as_str().unwrap().to_owned();
    let text = first["response"].as_str().unwrap();
    assert!(
        text.starts_with("All tasks (3):\n1. ") && text.contains("\n3. "),
        "{text}"
    );
    let other = TestApp::user();
    for (ask, answer) in [("tasks", "No tasks."), ("overdue", "No overdue tasks.")] {
        assert_eq!(chat(&app, &other, ask, None).await["response"], answer);
    }
    let second = chat(&app, &user, "complete 2", Some(&id)).await;
    assert_eq!(second["conversation_id"], json!(id));
    let done = &second["tool_calls"][0];
    assert_eq!(done["tool"], "complete_task");
    assert_eq!(done["result"]["status"], "completed");
    let pending = app.list(&user, "status=pending").await;
    assert_eq!(pending["total_count"], 2);

    // Several matches: it asks which, and changes nothing.
    app.create(&user, json!({"title": "call the bank"})).await;
    let ask = chat(&app, &user, "delete call", Some(&id)).await;
    assert!(
        ask["response"].as_str().unwrap().contains("which one"),
        "{ask}"
    );
    assert!(ask["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["tool"] == "list_tasks"));
    assert_eq!(app.list(&user, "").await["total_count"], 4);

    // The conversation: its messages in order, and it leads the list.
    let (status, conversation) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/conversations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let messages = conversation["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant"
        ]
    );
    assert_eq!(messages[2]["content"], "complete 2");
    assert_eq!(conversation["timezone"], "Europe/Berlin");
    chat(&app, &user, "help", None).await;
    let (_, list) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/conversations?page_size=1"),
            None,
        )
        .await;
    assert_eq!(
        (&list["total_count"], &list["total_pages"]),
        (&json!(2), &json!(2))
    );
    assert_ne!(list["items"][0]["id"], json!(id), "newest first");
    let (_, list) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/conversations?page=2&page_size=1"),
            None,
        )
        .await;
    assert_eq!(list["items"][0]["id"], json!(id));
    assert_eq!(list["items"][0]["title"], "show all tasks");

    // Another user's conversation is 404, by id and by message.
    let other = TestApp::user();
    let (status, body) = app
        .call(
            &other,
            "GET",
            &format!("/api/{other}/conversations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
    let (status, _) = say(
        &app,
        &other,
        json!({"message": "help", "conversation_id": id}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleted: by its user only; then it is gone, and the tasks it made stay.
    let path = format!("/api/{user}/conversations/{id}");
    let (status, _) = app
        .call(
            &other,
            "DELETE",
            &format!("/api/{other}/conversations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(&user, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(&user, "GET", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(&user, "DELETE", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = say(
        &app,
        &user,
        json!({"message": "help", "conversation_id": id}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(app.list(&user, "").await["total_count"].as_u64().unwrap() > 0);
}

/// A task named by its words is acted on only when its title says them, read as words:
/// one that mentions them in its description or tags, or matches only through the
/// search's operators (`or`), is offered as a question and left as it is.
#[tokio::test]
async fn naming_a_task_by_words_never_acts_on_one_its_title_does_not_name() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let kids = app
        .create(
            &user,
            json!({"title": "pick up kids", "description": "they have the dentist at 3"}),
        )
        .await;
    let plants = app
        .create(&user, json!({"title": "water plants", "tags": ["garden"]}))
        .await;
    let dad = app
        .create(&user, json!({"title": "pick up dad from the airport"}))
        .await;
    let milk = app.create(&user, json!({"title": "buy milk"})).await;
    for message in [
        "delete dentist",
        "done with garden",
        "done with call mom or dad",
        "delete buy milk or eggs",
    ] {
        let reply = chat(&app, &user, message, None).await;
        let calls: Vec<&str> = reply["tool_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["tool"].as_str().unwrap())
            .collect();
        assert_eq!(calls, ["list_tasks"], "{message}: {reply}");
    }
    for task in [&kids, &plants, &dad, &milk] {
        let (status, now) = app.get(&user, task["id"].as_str().unwrap()).await;
        assert_eq!(
            (status, now["completed"].clone()),
            (StatusCode::OK, json!(false)),
            "{task}"
        );
    }
    // What was offered can be chosen by its number; a title that says the words is acted on.
    let reply = chat(&app, &user, "delete dentist", None).await;
    let text = reply["response"].as_str().unwrap();
    assert!(
        text.contains("1. “pick up kids”") && text.contains("delete 1"),
        "{text}"
    );
    let conversation = reply["conversation_id"].as_str().unwrap();
    let reply = chat(&app, &user, "delete 1", Some(conversation)).await;
    assert_eq!(reply["tool_calls"][0]["tool"], "delete_task", "{reply}");
    let reply = chat(&app, &user, "done with watering plants", None).await;
    assert_eq!(reply["tool_calls"][1]["tool"], "complete_task", "{reply}");
}

/// A rename with several "to"s splits where the words before are a task's whole title.
#[tokio::test]
async fn a_rename_splits_at_the_to_after_a_whole_title() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for (title, message, renamed) in [
        (
            "talk to anna",
            "rename talk to anna to talk to Anna and Ben",
            "talk to Anna and Ben",
        ),
        (
            "go to gym",
            "rename go to gym to go swimming",
            "go swimming",
        ),
        (
            "call mom",
            "rename call mom to call mom about the trip",
            "call mom about the trip",
        ),
    ] {
        let task = app.create(&user, json!({ "title": title })).await;
        chat(&app, &user, message, None).await;
        let now = app.get(&user, task["id"].as_str().unwrap()).await.1;
        assert_eq!(now["title"], renamed, "{message}");
    }
}

/// "move X to 6pm" keeps X's day; "move X to saturday" keeps its time (in the user's zone).
#[tokio::test]
async fn a_move_keeps_the_day_or_the_time_it_does_not_name() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let due = (chrono::Utc::now() + chrono::Duration::days(3))
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .unwrap()
        .and_local_timezone(chrono_tz::Europe::Berlin)
        .unwrap();
    let task = app
        .create(
            &user,
            json!({"title": "go to the gym", "due_at": due.to_rfc3339()}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let reply = chat(&app, &user, "move go to the gym to 6pm", None).await;
    assert_eq!(reply["tool_calls"].as_array().unwrap().len(), 3, "{reply}");
    let moved = common::time(&app.get(&user, id).await.1["due_at"]).unwrap();
    let local = moved.with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(
        (local.date_naive(), local.format("%H:%M").to_string()),
        (due.date_naive(), "18:00".into())
    );
    // Through the MCP tools it reads the task's due date first: list, get, update.
    let tools: Vec<&str> = reply["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["list_tasks", "get_task", "update_task"]);
}

/// "which one?" answered with a number alone does what was asked to that row of the list
/// shown with the question; a number alone at any other time changes nothing.
#[tokio::test]
async fn a_number_alone_answers_which_one() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for title in ["call mum", "call the bank"] {
        app.create(
            &user,
            json!({ "title": title, "due_at": "2027-03-01T09:00:00Z" }),
        )
        .await;
    }
    let ask = chat(&app, &user, "move call to friday 10am", None).await;
    let id = ask["conversation_id"].as_str().unwrap().to_owned();
    let text = ask["response"].as_str().unwrap();
    assert!(text.contains("which one"), "{ask}");
    // The second row of the list shown with the question.
    let second = text
        .lines()
        .find_map(|l| l.strip_prefix("2. "))
        .expect("a second row");
    let chosen = if second.contains("bank") {
        "call the bank"
    } else {
        "call mum"
    };

    // A number past the list is asked about again; the next answer still counts.
    let again = chat(&app, &user, "5", Some(&id)).await;
    assert_eq!(again["tool_calls"], json!([]), "{again}");
    assert_eq!(
        again["response"],
        "There is no number 5 in that list; which one? Answer with its number (1 to 2)."
    );
    let answer = chat(&app, &user, "the second one", Some(&id)).await;
    let calls = answer["tool_calls"].as_array().unwrap();
    assert_eq!(calls.last().unwrap()["tool"], "update_task", "{answer}");
    let moved = &calls.last().unwrap()["result"]["task"];
    assert_eq!(moved["title"], chosen, "{answer}");
    let local = common::time(&moved["due_at"])
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(local.format("%a %H:%M").to_string(), "Fri 10:00");
    let text = answer["response"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("Moved “{chosen}” (due Fri ")),
        "{text}"
    );

    // Nothing is asked now: a number alone does nothing.
    let again = chat(&app, &user, "1", Some(&id)).await;
    assert_eq!(again["tool_calls"], json!([]), "{again}");
    let fresh = chat(&app, &user, "2", None).await;
    assert_eq!(fresh["tool_calls"], json!([]), "{fresh}");

    // More matches than one look shows: it says so.
    for n in 0..11 {
        app.create(&user, json!({ "title": format!("call number {n}") }))
            .await;
    }
    let many = chat(&app, &user, "complete call", None).await;
    let text = many["response"].as_str().unwrap();
    assert!(
        text.starts_with("More than 10 tasks match “call”; which one?")
            && text
                .lines()
                .next()
                .unwrap()
                .ends_with("or say more of its title."),
        "{text}"
    );
}

#[tokio::test]
async fn what_it_cannot_parse_gets_a_short_reply_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let reply = chat(&app, &user, "the quick brown fox", None).await;
    assert!(
        reply["response"].as_str().unwrap().contains("Try:"),
        "{reply}"
    );
    assert_eq!(reply["tool_calls"], json!([]));
    assert_eq!(app.list(&user, "").await["total_count"], 0);
}

#[tokio::test]
async fn bad_input_and_the_rate_limit() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for (body, field) in [
        (json!({}), "message"),
        (json!({"message": "   "}), "message"),
        (json!({"message": "x".repeat(4001)}), "message"),
        (
            json!({"message": "help", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (json!({"message": "help", "colour": 1}), "colour"),
    ] {
        let (status, error) = say(&app, &user, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_error(&error, "validation_failed", Some(field));
    }
    let (status, _) = say(
        &app,
        &user,
        json!({"message": "help", "conversation_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A burst of ten, then 429 with Retry-After.
    let limited = TestApp::user();
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let request = Request::post(format!("/api/{limited}/chat"))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", app.token(&limited)),
            )
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"message":"help"}"#))
            .unwrap();
        let (status, headers, body) = app.send(request).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&body, "too_many_requests", None);
            assert!(
                headers[header::RETRY_AFTER]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
        }
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses[..10], [200; 10]);
    assert_eq!(statuses[10], 429);
}

/// Messages sent at once to one conversation are all kept, each followed by its reply;
/// none fails after its tools ran (a client told to retry would repeat them).
#[tokio::test]
async fn messages_at_once_to_one_conversation_all_survive() {
    const AT_ONCE: usize = 30;
    let limit = shared::handlers::chat::RateLimit::new(6000, 100);
    let app = Arc::new(TestApp::local_with_limit(limit, |_| {}).await);
    let user = TestApp::user();
    let first = chat(&app, &user, "help", None).await;
    let id = first["conversation_id"].as_str().unwrap().to_owned();
    let sends = (0..AT_ONCE).map(|i| {
        let (app, user, id) = (app.clone(), user.clone(), id.clone());
        tokio::spawn(async move {
            chat(&app, &user, &format!("add errand {i} tomorrow"), Some(&id)).await
        })
    });
    for reply in futures::future::join_all(sends).await {
        reply.unwrap();
    }
    let (_, conversation) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/conversations/{id}"),
            None,
        )
        .await;
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        2 + 2 * AT_ONCE,
        "every message and reply kept"
    );
    for i in 0..AT_ONCE {
        let said = format!("add errand {i} tomorrow");
        let at = messages
            .iter()
            .position(|m| m["content"] == said)
            .expect(&said);
        assert_eq!(
            messages[at + 1]["role"],
            "assistant",
            "each reply follows its message"
        );
    }
}

#[tokio::test]
async fn the_reply_streams_tool_calls_then_the_text() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let request = Request::post(format!("/api/{user}/chat"))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.token(&user)),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "text/event-stream")
        .body(Body::from(r#"{"message":"add call mom tomorrow at 6pm"}"#))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events, ["tool_call", "message", "done"], "{text}");
    let done = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let done: Value = serde_json::from_str(done).unwrap();
    assert_eq!(done["tool_calls"][0]["result"]["title"], "call mom");

    // A conversation that is not there is a 404 before any stream, as without one.
    let missing = uuid::Uuid::new_v4();
    let request = Request::post(format!("/api/{user}/chat"))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.token(&user)),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "text/event-stream")
        .body(Body::from(format!(
            r#"{{"message":"help","conversation_id":"{missing}"}}"#
        )))
        .unwrap();
    let (status, _, error) = app.send(request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&error, "not_found", None);
}

// --- a scripted OpenAI-protocol model ------------------------------------------------------

/// A chat-completions endpoint that answers its queue of scripted replies in order, and
/// records each request it got.
#[derive(Clone, Default)]
struct Scripted {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone)]
enum Reply {
    /// A 200 with this message.
    Message(Value),
    /// This status and body.
    Status(u16),
    /// No answer for this long.
    Slow(Duration),
}

impl Scripted {
    async fn start(&self, replies: Vec<Reply>) -> String {
        *self.replies.lock().unwrap() = replies.into();
        let me = self.clone();
        let router = Router::new().route(
            "/v1/chat/completions",
            post(move |Json(body): Json<Value>| {
                let me = me.clone();
                async move {
                    me.requests.lock().unwrap().push(body);
                    let next = me.replies.lock().unwrap().pop_front();
                    match next {
                        Some(Reply::Message(message)) => (
                            StatusCode::OK,
                            Json(json!({"choices": [{"message": message}]})),
                        ),
                        Some(Reply::Status(code)) => (
                            StatusCode::from_u16(code).unwrap(),
                            Json(json!({"error": "scripted"})),
                        ),
                        Some(Reply::Slow(wait)) => {
                            tokio::time::sleep(wait).await;
                            (StatusCode::OK, Json(json!({})))
                        }
                        None => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({}))),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://127.0.0.1:{port}/v1")
    }
}

fn tool_call(id: &str, name: &str, arguments: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

async fn with_model(base_url: String, timeout: Duration) -> TestApp {
    TestApp::with_model(
        common::Db::open(4).await,
        Arc::new(shared::events::publisher::NoPublisher),
        shared::handlers::ALL,
        Some(ModelSettings {
            base_url,
            api_key: Some(shared::config::Secret::new("test-key")),
            model: "scripted".into(),
            timeout,
        }),
        |_| {},
    )
}

#[tokio::test]
async fn a_model_calls_the_tools_and_recovers_from_bad_calls() {
    let model = Scripted::default();
    let url = model
        .start(vec![
            Reply::Message(json!({"role": "assistant", "content": null, "tool_calls": [
                tool_call("a", "add_task", r#"{"title": "Dentist", "due_at": "2026-12-05T09:00:00Z", "priority": "high"}"#),
                tool_call("b", "add_task", "{not json"),
                tool_call("c", "drop_tables", "{}"),
            ]})),
            Reply::Message(json!({"role": "assistant", "content": "Added the dentist for Friday."})),
        ])
        .await;
    let app = with_model(url, Duration::from_secs(10)).await;
    let user = TestApp::user();
    let reply = chat(&app, &user, "I need to see the dentist on Friday", None).await;
    assert_eq!(reply["response"], "Added the dentist for Friday.");
    let calls = reply["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3, "{reply}");
    assert_eq!(calls[0]["result"]["title"], "Dentist");
    assert!(calls[1]["error"]
        .as_str()
        .unwrap()
        .contains("not a JSON object"));
    assert!(
        calls[2]["error"].is_string(),
        "an unknown tool is that call's error"
    );
    assert_eq!(app.list(&user, "").await["total_count"], 1);

    let requests = model.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first["model"], "scripted");
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "add_task",
            "list_tasks",
            "update_task",
            "complete_task",
            "delete_task",
            "get_task"
        ]
    );
    let system = first["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Europe/Berlin"), "{system}");
    // The second round carries the three results back, by call id.
    let tool_messages: Vec<&Value> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    let ids: Vec<&str> = tool_messages
        .iter()
        .map(|m| m["tool_call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[tokio::test]
async fn a_failing_model_is_a_clear_error_and_saves_nothing() {
    for (replies, status, code) in [
        (
            vec![Reply::Status(500)],
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
        ),
        (
            vec![Reply::Message(json!({"role": "assistant", "content": ""}))],
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
        ),
        (
            vec![Reply::Slow(Duration::from_secs(5))],
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
        ),
    ] {
        let model = Scripted::default();
        let url = model.start(replies).await;
        let app = with_model(url, Duration::from_secs(1)).await;
        let user = TestApp::user();
        let (got, body) = say(&app, &user, json!({"message": "hello"})).await;
        assert_eq!(got, status, "{body}");
        assert_error(&body, code, None);
        let (_, list) = app
            .call(&user, "GET", &format!("/api/{user}/conversations"), None)
            .await;
        assert_eq!(list["total_count"], 0, "nothing half-saved");
    }
    // No model at that address at all.
    let app = with_model("http://127.0.0.1:1/v1".into(), Duration::from_secs(1)).await;
    let user = TestApp::user();
    let (status, body) = say(&app, &user, json!({"message": "hello"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "service_unavailable", None);
}

#[tokio::test]
async fn a_model_that_never_stops_calling_tools_is_cut_off() {
    let model = Scripted::default();
    let looping = Reply::Message(json!({"role": "assistant", "content": null, "tool_calls": [
        tool_call("x", "list_tasks", "{}")
    ]}));
    let url = model.start(vec![looping; 20]).await;
    let app = with_model(url, Duration::from_secs(10)).await;
    let user = TestApp::user();
    let reply = chat(&app, &user, "list forever", None).await;
    assert_eq!(reply["tool_calls"].as_array().unwrap().len(), 8);
    assert!(reply["response"]
        .as_str()
        .unwrap()
        .contains("stopped after 8"));
    assert_eq!(model.requests.lock().unwrap().len(), 8);
}

#[tokio::test]
async fn over_http_the_chat_reaches_the_tools_as_in_production() {
    use shared::handlers::chat;
    // The app on a port, its MCP endpoint the chat's (as the sidecar would forward it).
    let app = TestApp::spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(shared::harness::serve_on(
        listener,
        app.router.clone(),
        Default::default(),
        std::future::pending(),
    ));
    // The chat function as its binary sets it up (`harness::run`), told the endpoint.
    let env = |k: &str| match k {
        "MCP_URL" => Some(url.clone()),
        "DATABASE_URL" => Some("postgres://unused".into()),
        "JWT_SECRET" => Some("unused".into()),
        _ => None,
    };
    let config = shared::config::Config::from_lookup(env).unwrap();
    let state = app.state.clone().unwrap();
    let router = (chat::FUNCTION.setup)(
        &config,
        &env,
        &state,
        shared::http::app(&[&chat::FUNCTION], state.clone()),
    )
    .unwrap();
    let user = TestApp::user();
    let request = Request::post(format!("/api/{user}/chat"))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.token(&user)),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"message":"add call the plumber tomorrow at 8am"}"#,
        ))
        .unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        reply["tool_calls"][0]["result"]["title"], "call the plumber",
        "{reply}"
    );
    assert_eq!(app.list(&user, "").await["total_count"], 1);
}
