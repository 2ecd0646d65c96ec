//! The chat's way to the tasks: an MCP client of the `mcp` function, acting as the user
//! who sent the message. In production it speaks Streamable HTTP through the Dapr sidecar
//! (`/v1.0/invoke/mcp/method/mcp`), forwarding the caller's token; in `todo-local` it
//! speaks the same protocol to the tools in this process. Every call is recorded for the
//! reply's `tool_calls`, and announced to a streaming client as it happens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};

use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::config::Secret;
use crate::domain::conversation::ToolCall;
use crate::http::{ApiError, AppState};

/// Where the chat finds the MCP tools.
#[derive(Clone)]
pub enum McpEndpoint {
    /// The tools of this process (`todo-local`, tests): `mcp::in_process()`. The opener is
    /// handed in rather than called by name, so the chat's own binary, which reaches the
    /// tools over HTTP, does not link the MCP server and every operation behind it.
    InProcess(OpenInProcess),
    /// Streamable HTTP at `url` (through the Dapr sidecar in production), sending
    /// `sidecar_token` as `dapr-api-token` when the sidecar requires one.
    Http {
        url: String,
        sidecar_token: Option<Secret>,
    },
}

/// Opens an MCP session to tools in this process, acting for a user.
pub type OpenInProcess =
    fn(AppState, String) -> BoxFuture<'static, anyhow::Result<RunningService<RoleClient, ()>>>;

/// What a streaming client is told while a reply is made.
#[derive(Debug, Clone)]
pub enum Progress {
    ToolCall(ToolCall),
}

/// An open MCP session for one message of one user.
pub struct Tools {
    session: RunningService<RoleClient, ()>,
    calls: Mutex<Vec<ToolCall>>,
    progress: Option<mpsc::UnboundedSender<Progress>>,
}

impl Tools {
    /// Opens a session to `endpoint` acting as `user` (whose bearer token is `token`).
    pub async fn connect(
        state: &AppState,
        endpoint: &McpEndpoint,
        user: &str,
        token: &str,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<Tools, ApiError> {
        let session = match endpoint {
            McpEndpoint::InProcess(open) => open(state.clone(), user.to_owned())
                .await
                .map_err(ApiError::Internal)?,
            McpEndpoint::Http { url, sidecar_token } => {
                let mut headers = HashMap::new();
                if let Some(secret) = sidecar_token {
                    let value = secret.expose().parse().map_err(|_| {
                        ApiError::Internal(anyhow::anyhow!("DAPR_API_TOKEN is not a header value"))
                    })?;
                    headers.insert(HeaderName::from_static("dapr-api-token"), value);
                }
                let transport = StreamableHttpClientTransport::with_client(
                    JsonFirst(reqwest::Client::new()),
                    StreamableHttpClientTransportConfig::with_uri(url.as_str())
                        .auth_header(token.to_owned())
                        .custom_headers(headers),
                );
                ().serve(transport).await.map_err(|e| {
                    ApiError::Unavailable(anyhow::anyhow!("the MCP tools at {url}: {e}"))
                })?
            }
        };
        Ok(Tools {
            session,
            calls: Mutex::new(Vec::new()),
            progress,
        })
    }

    /// The tools, with their schemas (for a model's function list).
    pub async fn list(&self) -> Result<Vec<Tool>, ApiError> {
        self.session
            .list_all_tools()
            .await
            .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("listing the MCP tools: {e}")))
    }

    /// Calls `tool` with `arguments`: its structured result, or the error it reported
    /// (the API's error JSON, or a protocol error's message). Either way the call is
    /// recorded. An unreachable server is an outage (`Unavailable`).
    pub async fn call(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<Result<Value, Value>, ApiError> {
        let object: Map<String, Value> = match arguments.clone() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let outcome = match self
            .session
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(object))
            .await
        {
            Ok(result) => {
                let value = result.structured_content.clone().unwrap_or(Value::Null);
                if result.is_error == Some(true) {
                    Err(value)
                } else {
                    Ok(value)
                }
            }
            Err(rmcp::ServiceError::McpError(e)) => {
                Err(serde_json::json!({"error": {"code": "tool_error", "message": e.message}}))
            }
            Err(e) => {
                return Err(ApiError::Unavailable(anyhow::anyhow!(
                    "calling the MCP tool {tool}: {e}"
                )))
            }
        };
        let call = ToolCall {
            tool: tool.to_owned(),
            arguments,
            result: outcome.as_ref().ok().cloned(),
            error: outcome.as_ref().err().map(error_message),
        };
        self.record(call);
        Ok(outcome)
    }

    /// Records a call that was not made (its arguments could not be read), with why.
    pub fn refuse(&self, tool: &str, arguments: Value, error: &str) {
        self.record(ToolCall {
            tool: tool.to_owned(),
            arguments,
            result: None,
            error: Some(error.to_owned()),
        });
    }

    fn record(&self, call: ToolCall) {
        if let Some(progress) = &self.progress {
            let _ = progress.send(Progress::ToolCall(call.clone()));
        }
        self.calls.lock().expect("tool calls").push(call);
    }

    /// The calls made so far, in order.
    pub fn calls(&self) -> Vec<ToolCall> {
        self.calls.lock().expect("tool calls").clone()
    }
}

/// The human message of a tool error (`{"error":{"message"}}`), or the error as text.
pub fn error_message(error: &Value) -> String {
    error["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string())
}

/// The MCP client's HTTP side: rmcp's Streamable HTTP client protocol, sending `Accept:
/// application/json, text/event-stream` in that order. Dapr's service invocation takes a
/// request whose `Accept` starts with `text/event-stream` for a stream of server-sent
/// events, which it cannot carry from one sidecar to another (the call fails with "no
/// response received from stream"); rmcp's own client puts it first. The `mcp` function
/// answers with JSON, so nothing is lost; an SSE answer is still read.
#[derive(Clone)]
struct JsonFirst(reqwest::Client);

impl StreamableHttpClient for JsonFirst {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>> {
        let mut request = self
            .0
            .post(uri.as_ref())
            .header(header::ACCEPT, "application/json, text/event-stream")
            .json(&message);
        if let Some(token) = auth_header {
            request = request.bearer_auth(token);
        }
        for (name, value) in custom_headers {
            request = request.header(name, value);
        }
        if let Some(session) = session_id {
            request = request.header(SESSION_HEADER, session.as_ref());
        }
        let response = request.send().await.map_err(StreamableHttpError::Client)?;
        let status = response.status();
        if status == StatusCode::ACCEPTED || status == StatusCode::NO_CONTENT {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if !status.is_success() {
            return Err(StreamableHttpError::UnexpectedServerResponse(
                format!("the MCP endpoint answered {status}").into(),
            ));
        }
        let session = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if content_type.starts_with("application/json") {
            let message = response.json().await.map_err(StreamableHttpError::Client)?;
            Ok(StreamableHttpPostResponse::Json(message, session))
        } else if content_type.starts_with("text/event-stream") {
            let events = sse_stream::SseStream::from_bytes_stream(response.bytes_stream()).boxed();
            Ok(StreamableHttpPostResponse::Sse(events, session))
        } else {
            Err(StreamableHttpError::UnexpectedContentType(Some(
                content_type,
            )))
        }
    }

    async fn delete_session(
        &self,
        _uri: Arc<str>,
        _session_id: Arc<str>,
        _auth_header: Option<String>,
        _custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<reqwest::Error>> {
        // The mcp function keeps no sessions.
        Ok(())
    }

    async fn get_stream(
        &self,
        _uri: Arc<str>,
        _session_id: Option<Arc<str>>,
        _last_event_id: Option<String>,
        _auth_header: Option<String>,
        _custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<
        BoxStream<'static, Result<sse_stream::Sse, SseError>>,
        StreamableHttpError<reqwest::Error>,
    > {
        Err(StreamableHttpError::ServerDoesNotSupportSse)
    }
}

const SESSION_HEADER: &str = "mcp-session-id";
