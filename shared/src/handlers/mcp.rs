//! `mcp` — the task operations as Model Context Protocol tools, over Streamable HTTP at
//! `POST /mcp` (stateless: every request stands alone, so any replica answers it and the
//! function can scale to zero).
//!
//! - Every request needs `Authorization: Bearer <JWT>`, as the REST API does; the token's
//!   subject is the user every tool acts for. A tool's optional `user_id` (the hackathon's
//!   Phase III tool spec) must equal it, or the call fails.
//! - Tools: `add_task`, `list_tasks`, `update_task`, `complete_task`, `delete_task`. Each
//!   runs the REST operation itself (`create_task::create`, ...): the same validation and
//!   the same messages, the same events, outbox, recurrence and reminders.
//! - Results are structured content (with the tools' output schemas). Bad arguments, a
//!   missing task or an outage are tool errors (`isError: true`) carrying the REST API's
//!   error JSON, never a protocol error.
//! - The SDK checks the `Host` header against `MCP_ALLOWED_HOSTS` (see `Config`), so the
//!   server answers under a Kubernetes Service name or a Dapr sidecar, not only on
//!   localhost.

use std::sync::Arc;

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::chat::tools::McpEndpoint;
use super::{complete_task, create_task, delete_task, get_task, list_tasks, update_task};
use crate::domain::{Page, Task};
use crate::http::extract::parse_json;
use crate::http::input::TaskInput;
use crate::http::{ApiError, AppState, Function, TokenUser};

pub const ROUTE: &str = "/mcp";

pub const FUNCTION: Function = Function {
    name: "mcp",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

// POST only: in stateless mode the transport answers nothing else (no stream to resume
// with GET, no session to end with DELETE), so another method gets the API's JSON 405.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(serve))
}

/// A JSON-RPC 2.0 message as an MCP client sends it (the transport checks it; this only
/// describes it).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // a description, never built
struct JsonRpcMessage {
    jsonrpc: JsonRpcVersion,
    /// The request's id, echoed in the response: a string or an integer (absent in a
    /// notification).
    #[schema(schema_with = json_rpc_id)]
    id: Option<Value>,
    /// `initialize`, `ping`, `tools/list`, `tools/call`, `notifications/initialized`, ...
    #[schema(example = "tools/list")]
    method: String,
    /// The method's parameters (`tools/call`: `{"name": "add_task", "arguments": {...}}`).
    #[schema(nullable = false)]
    params: Option<Map<String, Value>>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // a description, never built
enum JsonRpcVersion {
    #[serde(rename = "2.0")]
    V2,
}

fn json_rpc_id() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::Type;
    use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Schema};
    let one_of = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .build();
    utoipa::openapi::RefOr::T(Schema::OneOf(one_of))
}

/// MCP (Streamable HTTP)
///
/// The Model Context Protocol server: JSON-RPC 2.0 messages over Streamable HTTP,
/// stateless, acting for the token's user. Its tools (`add_task`, `list_tasks`,
/// `update_task`, `complete_task`, `delete_task`) and their input and output schemas are
/// described by MCP itself (`tools/list`), not operation by operation here. Send
/// `Accept: application/json, text/event-stream`.
#[utoipa::path(
    post,
    path = "/mcp",
    operation_id = "mcp",
    request_body(
        content = JsonRpcMessage,
        description = "A JSON-RPC 2.0 request, notification or response",
        example = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    ),
    responses(
        (status = 200, description = "The JSON-RPC response", body = Object, example = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": []}})),
        (status = 202, description = "A notification or response, accepted"),
        (status = "4XX", description = "The transport refused the message: a JSON body that is not one JSON-RPC message (400, with JSON-RPC's error: -32700 parse error, -32600 invalid request, -32602 a tools/call without a name or with arguments that are not an object), an unknown method, a wrong `Accept`, `Content-Type` or `Host` (in plain text)", content(
            (String = "text/plain"),
            (Object = "application/json", example = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error: the body is not JSON (EOF while parsing a value at line 1 column 0)"}})),
        )),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn serve(State(state): State<AppState>, user: TokenUser, request: Request) -> Response {
    // The SDK answers a body that is not one JSON-RPC message with a bare 415 in plain text;
    // a JSON-RPC client should get JSON-RPC's own error, with HTTP 400.
    let (parts, body) = request.into_parts();
    let bytes = match Bytes::from_request(Request::new(body), &()).await {
        Ok(bytes) => bytes,
        Err(e) => return crate::http::extract::body_rejection(e).into_response(),
    };
    // Only a body sent as JSON: the SDK answers another media type (415) itself.
    let json = crate::http::extract::is_json(&parts.headers);
    if let Some(refusal) = json.then(|| not_one_message(&bytes)).flatten() {
        return refusal;
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let hosts = &state.mcp_allowed_hosts;
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(crate::http::MAX_BODY_BYTES);
    let config = if hosts.iter().any(|h| h == "*") {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(hosts.iter().cloned())
    };
    let user = user.0;
    let service = StreamableHttpService::new(
        move || Ok(Tools::new(state.clone(), user.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    match tower::ServiceExt::oneshot(service, request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

/// JSON-RPC's error for a body that is not a single JSON-RPC message, which the SDK would
/// answer in plain text or mistake for an unknown method: a parse error (-32700) for what
/// is not JSON (or holds a number out of range); an invalid request (-32600) for anything
/// but one object (a batch, which MCP no longer has, among them), a `jsonrpc` other than
/// "2.0", an id that is neither a string nor an integer, or neither a request (`method`)
/// nor a response (`result` or `error`); invalid params (-32602) for a `tools/call` without
/// a tool's `name` or with `arguments` that are not an object. `None` for a message.
fn not_one_message(body: &[u8]) -> Option<Response> {
    let refuse = |id: Option<&Value>, code: i32, message: &str| {
        let error = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id.cloned().unwrap_or(Value::Null),
            "error": {"code": code, "message": message},
        });
        Some((axum::http::StatusCode::BAD_REQUEST, axum::Json(error)).into_response())
    };
    let message = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(message)) => message,
        Ok(Value::Array(_)) => {
            return refuse(
                None,
                -32600,
                "Invalid Request: send one JSON-RPC message per request (MCP has no batches)",
            )
        }
        Ok(_) => {
            return refuse(
                None,
                -32600,
                "Invalid Request: a JSON-RPC message is an object",
            )
        }
        Err(e) => {
            return refuse(
                None,
                -32700,
                &format!("Parse error: the body is not JSON ({e})"),
            )
        }
    };
    let id = message.get("id");
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return refuse(None, -32600, r#"Invalid Request: "jsonrpc" must be "2.0""#);
    }
    if !id.is_none_or(|id| id.is_string() || id.is_i64() || id.is_u64()) {
        return refuse(
            None,
            -32600,
            "Invalid Request: an id is a string or an integer",
        );
    }
    let Some(method) = message.get("method") else {
        return if id.is_some() && (message.contains_key("result") || message.contains_key("error"))
        {
            None
        } else {
            refuse(
                id,
                -32600,
                "Invalid Request: a message has a method (a request or notification) or a result or error (a response)",
            )
        };
    };
    match method.as_str() {
        None => refuse(id, -32600, "Invalid Request: the method is a string"),
        Some("tools/call") => {
            let params = message.get("params");
            let named = params
                .and_then(|p| p.get("name"))
                .is_some_and(Value::is_string);
            let arguments = params.and_then(|p| p.get("arguments"));
            if !named || !arguments.is_none_or(Value::is_object) {
                refuse(
                    id,
                    -32602,
                    r#"Invalid params: tools/call takes {"name": <tool>, "arguments": {...}}"#,
                )
            } else {
                None
            }
        }
        Some(_) => None,
    }
}

/// The tools, acting for one user.
#[derive(Clone)]
pub struct Tools {
    state: AppState,
    user: String,
}

impl Tools {
    pub fn new(state: AppState, user: String) -> Self {
        Tools { state, user }
    }

    /// Runs tool `name` with `arguments`: its structured result, or the API's error.
    pub async fn call(
        &self,
        name: &str,
        mut arguments: Map<String, Value>,
    ) -> Result<Value, ApiError> {
        match arguments.remove("user_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(user)) if user == self.user => {}
            Some(_) => {
                return Err(ApiError::validation(
                    "user_id",
                    "user_id must be the token's user (or be left out)",
                ))
            }
        }
        let state = &self.state;
        let user = self.user.as_str();
        match name {
            "add_task" => {
                let input: TaskInput =
                    parse_json(&Value::Object(arguments).to_string().into_bytes())?;
                to_value(create_task::create(state, user, input).await?)
            }
            "list_tasks" => {
                // Only what its schema names: the REST API's aliases (`q`, `limit`) and
                // `count` are not the tool's.
                let schema = schema_for_type::<ListTasks>();
                let named = schema.get("properties").and_then(Value::as_object);
                if let Some(key) = arguments
                    .keys()
                    .find(|key| !named.is_some_and(|n| n.contains_key(*key)))
                {
                    return Err(ApiError::bad_request(
                        Some(key),
                        format!("unknown query parameter {}", crate::domain::text::echo(key)),
                    ));
                }
                let pairs = query_pairs(arguments)?;
                let page = list_tasks::list(
                    state,
                    user,
                    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                )
                .await?;
                to_value(page)
            }
            "update_task" => {
                let id = task_id(&mut arguments)?;
                let input: TaskInput =
                    parse_json(&Value::Object(arguments).to_string().into_bytes())?;
                let task = update_task::update(state, user, id, input).await?;
                outcome(&task, "updated", true)
            }
            "complete_task" => {
                let id = task_id(&mut arguments)?;
                let completed = match arguments.remove("completed") {
                    None | Some(Value::Null) => None,
                    Some(Value::Bool(b)) => Some(b),
                    Some(_) => {
                        return Err(ApiError::validation(
                            "completed",
                            "completed must be true or false",
                        ))
                    }
                };
                refuse_unknown(&arguments)?;
                let (task, changed) = complete_task::complete(state, user, id, completed).await?;
                let status = match (task.completed, changed) {
                    (true, true) => "completed",
                    (false, true) => "reopened",
                    (true, false) => "already completed",
                    (false, false) => "already open",
                };
                outcome(&task, status, true)
            }
            "delete_task" => {
                let id = task_id(&mut arguments)?;
                refuse_unknown(&arguments)?;
                let task = delete_task::remove(state, user, id).await?;
                outcome(&task, "deleted", false)
            }
            "get_task" => {
                let id = task_id(&mut arguments)?;
                refuse_unknown(&arguments)?;
                to_value(get_task::get(state, user, id).await?)
            }
            other => Err(ApiError::validation(
                "name",
                format!("unknown tool {}", crate::domain::text::echo(other)),
            )),
        }
    }
}

impl ServerHandler for Tools {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("todo-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Manage the signed-in user's todo tasks: add, list (search, filters, sort, \
                 pages), update, complete and delete them. Times are RFC 3339; priorities P1 \
                 (most urgent) to P4.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(definitions()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if !definitions().iter().any(|t| t.name == request.name) {
            return Err(McpError::invalid_params(
                format!("unknown tool {:?}", request.name),
                None,
            ));
        }
        let arguments = request.arguments.unwrap_or_default();
        let result = match self.call(&request.name, arguments).await {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => CallToolResult::structured_error(error.to_json()),
        };
        Ok(result.into())
    }
}

/// The tools, with their input and output schemas: the Phase III five, and `get_task`.
pub fn definitions() -> Vec<Tool> {
    vec![
        Tool::new(
            "add_task",
            "Create a task for the signed-in user.",
            schema_for_type::<AddTask>(),
        )
        .with_raw_output_schema(schema_for_output::<Task>()),
        Tool::new(
            "list_tasks",
            "List the user's tasks: search (web-search syntax), filters, sort and pages.",
            schema_for_type::<ListTasks>(),
        )
        .with_raw_output_schema(schema_for_output::<Page<Task>>()),
        Tool::new(
            "update_task",
            "Change fields of a task; absent fields are kept, null clears a nullable one.",
            schema_for_type::<UpdateTask>(),
        )
        .with_raw_output_schema(schema_for_output::<Outcome>()),
        Tool::new(
            "complete_task",
            "Complete a task (or reopen it with completed: false; toggle when left out).",
            schema_for_type::<CompleteTask>(),
        )
        .with_raw_output_schema(schema_for_output::<Outcome>()),
        Tool::new(
            "delete_task",
            "Delete a task.",
            schema_for_type::<DeleteTask>(),
        )
        .with_raw_output_schema(schema_for_output::<Outcome>()),
        Tool::new(
            "get_task",
            "Get one task by its id.",
            schema_for_type::<GetTask>(),
        )
        .with_raw_output_schema(schema_for_output::<Task>()),
    ]
}

fn to_value(value: impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.into()))
}

/// `{task_id, status, title}`, plus the task where one remains.
fn outcome(task: &Task, status: &'static str, remains: bool) -> Result<Value, ApiError> {
    to_value(Outcome {
        task_id: task.id,
        status,
        title: task.title.as_str().to_owned(),
        task: remains.then(|| task.clone()),
    })
}

/// The `task_id` argument: a task it does not name is as missing as another user's.
fn task_id(arguments: &mut Map<String, Value>) -> Result<Uuid, ApiError> {
    match arguments.remove("task_id") {
        Some(Value::String(id)) => Uuid::parse_str(&id).map_err(|_| ApiError::NotFound),
        _ => Err(ApiError::validation("task_id", "task_id is required")),
    }
}

fn refuse_unknown(arguments: &Map<String, Value>) -> Result<(), ApiError> {
    match arguments.keys().next() {
        None => Ok(()),
        Some(key) => Err(ApiError::validation(
            key.clone(),
            format!("unknown field `{key}`"),
        )),
    }
}

/// The list query as the REST API reads it, from the tool's arguments: each one a string,
/// number or boolean.
fn query_pairs(arguments: Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    arguments
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            _ => Err(ApiError::bad_request(
                Some(&k),
                format!("{k} must be a string, a number or a boolean"),
            )),
        })
        .collect()
}

/// What `update_task`, `complete_task` and `delete_task` answer.
#[derive(Serialize, JsonSchema)]
pub struct Outcome {
    pub task_id: Uuid,
    /// "updated", "completed", "reopened", "already completed", "already open" (nothing
    /// changed) or "deleted".
    pub status: &'static str,
    pub title: String,
    /// The task as it is now (not for a deleted one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
}

// The tools' arguments, as JSON Schemas. They are read as the REST API reads its bodies
// and queries (`TaskInput`, `ListQuery`), so validation and messages are the same.

/// The `user_id` a tool may name: the token's user.
type UserId = Option<String>;

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct AddTask {
    title: String,
    description: Option<String>,
    /// "P1".."P4" or urgent, high, medium, low; default P3.
    priority: Option<String>,
    tags: Option<Vec<String>>,
    /// RFC 3339, e.g. 2026-12-01T09:00:00Z.
    due_at: Option<String>,
    /// Minutes before due_at; needs a due date.
    reminder_minutes: Option<u32>,
    /// daily, weekly, monthly, yearly, "every N days|weeks|months|years", "every weekday",
    /// "every monday,wednesday" or an RFC 5545 RRULE.
    recurrence: Option<String>,
    /// An IANA time zone name; recurrence is evaluated in it. Default UTC.
    timezone: Option<String>,
    user_id: UserId,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ListTasks {
    /// Words, "quoted phrases", -exclusions, or.
    search: Option<String>,
    /// all, pending or completed.
    status: Option<String>,
    /// Any of these priorities, e.g. "P1,P2".
    priority: Option<String>,
    /// Any of these tags, e.g. "work,home".
    tag: Option<String>,
    due_before: Option<String>,
    due_after: Option<String>,
    overdue: Option<bool>,
    /// due_at, priority, title, created_at or updated_at.
    sort_by: Option<String>,
    /// asc or desc.
    sort_order: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
    user_id: UserId,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct UpdateTask {
    task_id: Uuid,
    title: Option<String>,
    description: Option<String>,
    priority: Option<String>,
    tags: Option<Vec<String>>,
    due_at: Option<String>,
    reminder_minutes: Option<u32>,
    recurrence: Option<String>,
    timezone: Option<String>,
    completed: Option<bool>,
    user_id: UserId,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct CompleteTask {
    task_id: Uuid,
    /// true completes, false reopens; left out, it toggles.
    completed: Option<bool>,
    user_id: UserId,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct DeleteTask {
    task_id: Uuid,
    user_id: UserId,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct GetTask {
    task_id: Uuid,
    user_id: UserId,
}

/// The chat's way to the tools of this process (`todo-local`, tests).
pub fn in_process() -> McpEndpoint {
    McpEndpoint::InProcess(|state, user| Box::pin(connect_in_process(state, user)))
}

/// An in-process MCP session with the tools acting for `user`: the client end of an MCP
/// connection whose server end runs the tools in this process (`todo-local`, tests).
pub async fn connect_in_process(
    state: AppState,
    user: String,
) -> anyhow::Result<rmcp::service::RunningService<rmcp::RoleClient, ()>> {
    use rmcp::ServiceExt;
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let tools = Tools::new(state, user);
    tokio::spawn(async move {
        match tools.serve(server_end).await {
            Ok(server) => {
                let _ = server.waiting().await;
            }
            Err(e) => tracing::warn!(error = %e, "in-process MCP server failed to start"),
        }
    });
    Ok(().serve(client_end).await?)
}
