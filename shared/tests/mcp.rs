//! `mcp` through a real MCP client (the `rmcp` SDK's Streamable HTTP client) against the
//! app served on a loopback port: every tool as the token's user, another user's task and
//! token, a `user_id` that is not the token's, bad arguments as tool errors; and the same
//! tools over the in-process transport `todo-local`'s chat uses.

mod common;

use common::TestApp;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

/// The app on a loopback port; answers the MCP endpoint's URL.
async fn serve(app: &TestApp) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(shared::harness::serve_on(
        listener,
        app.router.clone(),
        Default::default(),
        std::future::pending(),
    ));
    format!("http://{addr}/mcp")
}

async fn client(url: &str, token: &str) -> RunningService<RoleClient, ()> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token),
    );
    ().serve(transport).await.expect("an MCP session")
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &str,
    arguments: Value,
) -> CallToolResult {
    let arguments: Map<String, Value> = serde_json::from_value(arguments).unwrap();
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result
        .structured_content
        .clone()
        .expect("structured content")
}

/// A tool error carrying the API's error JSON: its code and field.
fn error(result: &CallToolResult) -> (String, Option<String>) {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let body = result.structured_content.clone().expect("the error JSON");
    common::assert_error(
        &body,
        body["error"]["code"].as_str().unwrap(),
        body["error"]["field"].as_str(),
    );
    (
        body["error"]["code"].as_str().unwrap().to_owned(),
        body["error"]["field"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn every_tool_works_for_the_tokens_user() {
    let app = TestApp::spawn().await;
    let url = serve(&app).await;
    let user = TestApp::user();
    let mcp = client(&url, &app.token(&user)).await;

    let tools = mcp.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
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
    assert!(tools.iter().all(|t| t.output_schema.is_some()));
    let add = tools.iter().find(|t| t.name == "add_task").unwrap();
    assert_eq!(add.input_schema["required"], json!(["title"]));

    let task = ok(&call(
        &mcp,
        "add_task",
        json!({"title": "Pay rent", "priority": "high", "tags": ["Home"],
               "due_at": "2026-12-01T09:00:00Z", "reminder_minutes": 60,
               "recurrence": "monthly", "timezone": "Europe/Berlin", "user_id": user}),
    )
    .await);
    assert_eq!(
        (
            &task["title"],
            &task["priority"],
            &task["tags"],
            &task["remind_at"]
        ),
        (
            &json!("Pay rent"),
            &json!("P2"),
            &json!(["home"]),
            &json!("2026-12-01T08:00:00Z")
        )
    );
    let id = task["id"].as_str().unwrap().to_owned();
    // The same task through REST.
    let (status, rest) = app.get(&user, &id).await;
    assert_eq!((status.as_u16(), &rest), (200, &task));

    let page = ok(&call(
        &mcp,
        "list_tasks",
        json!({"search": "rent", "status": "pending", "page_size": 5}),
    )
    .await);
    assert_eq!(
        (&page["total_count"], &page["items"][0]["id"]),
        (&json!(1), &json!(id))
    );

    let updated = ok(&call(
        &mcp,
        "update_task",
        json!({"task_id": id, "title": "Pay the rent"}),
    )
    .await);
    assert_eq!(
        (
            &updated["status"],
            &updated["title"],
            &updated["task"]["title"]
        ),
        (
            &json!("updated"),
            &json!("Pay the rent"),
            &json!("Pay the rent")
        )
    );

    let got = ok(&call(&mcp, "get_task", json!({"task_id": id})).await);
    assert_eq!(got["title"], "Pay the rent");
    let done = ok(&call(&mcp, "complete_task", json!({"task_id": id})).await);
    assert_eq!(
        (&done["status"], &done["task"]["completed"]),
        (&json!("completed"), &json!(true))
    );
    // Completing it again changes nothing, and says so.
    let again = ok(&call(
        &mcp,
        "complete_task",
        json!({"task_id": id, "completed": true}),
    )
    .await);
    assert_eq!(again["status"], "already completed");
    // The completion went through the outbox like a REST one.
    let events: Vec<String> = app
        .db
        .outbox(&id)
        .await
        .into_iter()
        .filter(|row| row.topic == "task-events")
        .map(|row| row.event_type)
        .collect();
    assert_eq!(events, ["task.created", "task.updated", "task.completed"]);

    let deleted = ok(&call(&mcp, "delete_task", json!({"task_id": id})).await);
    assert_eq!(
        (&deleted["status"], deleted.get("task")),
        (&json!("deleted"), None)
    );
    let (status, _) = app.get(&user, &id).await;
    assert_eq!(status.as_u16(), 404);
}

#[tokio::test]
async fn tools_never_act_for_anyone_but_the_tokens_user() {
    let app = TestApp::spawn().await;
    let url = serve(&app).await;
    let (alice, bob) = (TestApp::user(), TestApp::user());
    let alices = app.create(&alice, json!({"title": "alice's"})).await;
    let id = alices["id"].as_str().unwrap();
    let mcp = client(&url, &app.token(&bob)).await;

    for (tool, arguments) in [
        ("update_task", json!({"task_id": id, "title": "mine now"})),
        ("complete_task", json!({"task_id": id})),
        ("delete_task", json!({"task_id": id})),
        ("get_task", json!({"task_id": id})),
    ] {
        assert_eq!(
            error(&call(&mcp, tool, arguments).await),
            ("not_found".into(), None),
            "{tool}"
        );
    }
    let page = ok(&call(&mcp, "list_tasks", json!({})).await);
    assert_eq!(page["total_count"], 0, "bob sees none of alice's");
    // Naming another user is refused, whatever the tool.
    for (tool, arguments) in [
        ("add_task", json!({"title": "x", "user_id": alice})),
        ("list_tasks", json!({"user_id": alice})),
        ("delete_task", json!({"task_id": id, "user_id": alice})),
    ] {
        assert_eq!(
            error(&call(&mcp, tool, arguments).await),
            ("validation_failed".into(), Some("user_id".into())),
            "{tool}"
        );
    }
    let (status, task) = app.get(&alice, id).await;
    assert_eq!((status.as_u16(), &task["title"]), (200, &json!("alice's")));
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_with_the_rest_apis_messages() {
    let app = TestApp::spawn().await;
    let url = serve(&app).await;
    let user = TestApp::user();
    let mcp = client(&url, &app.token(&user)).await;
    for (tool, arguments, code, field) in [
        ("add_task", json!({}), "validation_failed", Some("title")),
        (
            "add_task",
            json!({"title": "x", "colour": "red"}),
            "validation_failed",
            Some("colour"),
        ),
        (
            "add_task",
            json!({"title": "x", "priority": "P9"}),
            "validation_failed",
            Some("priority"),
        ),
        (
            "add_task",
            json!({"title": "a\u{0}b"}),
            "validation_failed",
            Some("title"),
        ),
        (
            "add_task",
            json!({"title": "x", "recurrence": "FREQ=DAILY;INTERVAL=0"}),
            "validation_failed",
            Some("recurrence"),
        ),
        (
            "list_tasks",
            json!({"sort_by": "colour"}),
            "bad_request",
            Some("sort_by"),
        ),
        (
            "list_tasks",
            json!({"nonsense": 1}),
            "bad_request",
            Some("nonsense"),
        ),
        (
            "list_tasks",
            json!({"tag": ["a"]}),
            "bad_request",
            Some("tag"),
        ),
        // The REST API's aliases are not in the tool's schema.
        ("list_tasks", json!({"q": "x"}), "bad_request", Some("q")),
        (
            "list_tasks",
            json!({"limit": 5}),
            "bad_request",
            Some("limit"),
        ),
        (
            "list_tasks",
            json!({"count": "exact"}),
            "bad_request",
            Some("count"),
        ),
        (
            "update_task",
            json!({"title": "x"}),
            "validation_failed",
            Some("task_id"),
        ),
        (
            "update_task",
            json!({"task_id": "not-a-uuid", "title": "x"}),
            "not_found",
            None,
        ),
        (
            "complete_task",
            json!({"task_id": uuid::Uuid::new_v4(), "completed": "yes"}),
            "validation_failed",
            Some("completed"),
        ),
        (
            "delete_task",
            json!({"task_id": uuid::Uuid::new_v4(), "force": true}),
            "validation_failed",
            Some("force"),
        ),
    ] {
        let got = error(&call(&mcp, tool, arguments.clone()).await);
        assert_eq!(
            got,
            (code.into(), field.map(str::to_owned)),
            "{tool} {arguments}"
        );
    }
    // An unknown tool is the protocol's error, and the session goes on.
    assert!(mcp
        .call_tool(CallToolRequestParams::new("drop_tables".to_owned()))
        .await
        .is_err());
    ok(&call(&mcp, "list_tasks", json!({})).await);
}

#[tokio::test]
async fn the_endpoint_needs_a_valid_token() {
    let app = TestApp::spawn().await;
    let url = serve(&app).await;
    for auth in [None, Some("Bearer not.a.jwt")] {
        let mut request = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{auth:?}");
        let body: Value = response.json().await.unwrap();
        common::assert_error(&body, "unauthorized", None);
    }
}

/// A JSON body that is not one JSON-RPC message gets JSON-RPC's own error, not a transport
/// failure in plain text.
#[tokio::test]
async fn a_body_that_is_not_one_message_gets_json_rpcs_error() {
    let app = TestApp::spawn().await;
    let url = serve(&app).await;
    let token = format!("Bearer {}", app.token(&TestApp::user()));
    let post = |body: &'static str, content_type: &'static str| {
        reqwest::Client::new()
            .post(&url)
            .header("authorization", &token)
            .header("content-type", content_type)
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };
    for (body, code) in [
        ("{", -32700),
        ("", -32700),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
            -32600,
        ),
        ("5", -32600),
        ("null", -32600),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"page":1e400}}}"#,
            -32700,
        ),
        (r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#, -32600),
        (r#"{"id":1,"method":"tools/list"}"#, -32600),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#,
            -32600,
        ),
        (r#"{"a":1}"#, -32600),
    ] {
        let response = post(body, "application/json").await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["jsonrpc"], "2.0", "{body:?}");
        assert_eq!(error["id"], Value::Null);
        assert_eq!(error["error"]["code"], code, "{body:?}: {error}");
    }
    // A tools/call without its params is invalid params, answered to its id.
    for body in [
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call"}"#,
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_tasks","arguments":[]}}"#,
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_tasks","arguments":"x"}}"#,
    ] {
        let response = post(body, "application/json").await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["id"], 8, "{body:?}");
        assert_eq!(error["error"]["code"], -32602, "{body:?}: {error}");
    }
    // A message goes on to the server; another media type is the transport's to refuse.
    let response = post(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = post(
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_tasks"}}"#,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200, "arguments may be left out");
    let response = post("{", "text/plain").await.unwrap();
    assert_eq!(response.status().as_u16(), 415);
}

#[tokio::test]
async fn the_in_process_transport_runs_the_same_tools() {
    let app = TestApp::local(|_| {}).await;
    let user = TestApp::user();
    let state = app_state(&app);
    let mcp = shared::handlers::mcp::connect_in_process(state, user.clone())
        .await
        .unwrap();
    let task = ok(&call(
        &mcp,
        "add_task",
        json!({"title": "in process", "recurrence": "weekly", "due_at": "2026-12-01T09:00:00Z"}),
    )
    .await);
    let id = task["id"].as_str().unwrap();
    ok(&call(&mcp, "complete_task", json!({"task_id": id})).await);
    // todo-local's bus ran on-completed: the next occurrence is there.
    let page = app.list(&user, "status=pending").await;
    assert_eq!(page["items"][0]["due_at"], "2026-12-08T09:00:00Z", "{page}");
}

/// The state `TestApp::local` built its routers on.
fn app_state(app: &TestApp) -> shared::http::AppState {
    app.state.clone().expect("an app built with its state kept")
}
