//! `chat` — the Todo AI chatbot's endpoint.
//!
//! - `POST /api/{user_id}/chat` `{message, conversation_id?, timezone?}` →
//!   `{conversation_id, response, tool_calls}`. A missing `conversation_id` starts a new
//!   conversation; the time zone is the one given (kept with the conversation), else the
//!   conversation's, else UTC. With `Accept: text/event-stream` the reply streams: an
//!   `event: tool_call` for each tool call as it happens, then `event: message` with the
//!   text, then `event: done` with the whole response object (or `event: error`).
//! - `GET /api/{user_id}/conversations` (newest first, paged: `page`, `page_size`),
//!   `GET /api/{user_id}/conversations/{id}` (its messages in order, the latest
//!   `conversation::MAX_MESSAGES`) and `DELETE` of the same.
//! - `POST /api/{user_id}/quick-add` `{message, timezone?}`: the task the assistant would
//!   add for a sentence, unsaved, for the web app's quick-add preview (`quick_add`).
//!
//! The function is stateless: each message loads the conversation, runs the assistant,
//! and saves the user's message and the reply together, only once the reply is made (a
//! model that fails saves nothing). Messages sent at once to one conversation all
//! survive: the save names the version it started from and, when another save came
//! first, the two messages are added to the newer version instead.
//!
//! The assistant reaches the tasks only through the MCP tools (`tools`), acting as the
//! user: a configured OpenAI-compatible model (`model`), else the built-in one
//! (`builtin`), which needs no model and understands Quick-Add style sentences.

mod builtin;
mod limit;
mod model;
mod quick_add;
pub mod tools;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub use builtin::BuiltIn;
pub use limit::RateLimit;
pub use model::{Model, ModelSettings};
use tools::{McpEndpoint, Progress, Tools};

use crate::config::Config;
use crate::domain::conversation::{
    parse_message, Conversation, ConversationSummary, Message, Role, ToolCall,
};
use crate::domain::{self, Timezone};
use crate::http::{ApiError, AppState, AuthUser, Function, JsonBody, Paging, PathId};
use crate::store::dapr_state::DaprConversations;
use crate::store::{ConversationStore, Etag, StoreError};

/// How long a reply keeps trying to join a conversation that other messages keep changing.
const SAVE_PATIENCE: Duration = Duration::from_secs(10);

pub const FUNCTION: Function = Function {
    name: "chat",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup,
    subscriptions: &[],
};

/// The chat function's binary: its state with conversations in the Dapr state store when
/// `STATE_STORE` names one (else the database), the MCP tools through the sidecar (or
/// `MCP_URL`), and the configured model (`OPENAI_*`), else the built-in assistant.
pub fn setup(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    state: &AppState,
    router: Router,
) -> anyhow::Result<Router> {
    let conversations: Arc<dyn ConversationStore> = match &config.state_store {
        Some(name) => Arc::new(DaprConversations::new(state.sidecar.clone(), name.clone())),
        None => state.store.clone(),
    };
    let mcp = McpEndpoint::Http {
        url: config.mcp_url.clone().unwrap_or_else(|| {
            format!(
                "http://127.0.0.1:{}/v1.0/invoke/mcp/method/mcp",
                config.dapr_http_port
            )
        }),
        sidecar_token: config.dapr_api_token.clone(),
    };
    let model = ModelSettings::from_lookup(env)?;
    let chat = ChatState::new(conversations, mcp, model).with_limit(RateLimit::from_lookup(env)?);
    Ok(router.layer(Extension(chat)))
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat))
        .routes(routes!(conversations))
        .routes(routes!(conversation, delete_conversation))
        .routes(routes!(quick_add::quick_add))
}

/// What the assistant sees of a message: the text, the conversation so far, the user's
/// time zone and time, and the tasks it last listed (for "complete 2").
pub struct Turn<'a> {
    pub message: &'a str,
    pub history: &'a [Message],
    pub timezone: &'a Timezone,
    pub now: DateTime<Utc>,
    pub last_list: &'a [Uuid],
}

/// The assistant's answer to a message.
pub struct Reply {
    pub text: String,
    /// The tasks it showed, in order, when it showed a list.
    pub last_list: Option<Vec<Uuid>>,
}

/// Turns a person's message into tool calls and a reply.
#[async_trait]
pub trait Assistant: Send + Sync {
    async fn reply(&self, turn: Turn<'_>, tools: &Tools) -> Result<Reply, ApiError>;
}

/// What the chat needs beyond the common state: where its conversations live, where the
/// MCP tools are, its assistant and the users' rate. The harness adds it to the router
/// (an axum `Extension`), as the chat is the one function that needs it.
#[derive(Clone)]
pub struct ChatState {
    pub assistant: Arc<dyn Assistant>,
    pub mcp: Arc<McpEndpoint>,
    pub conversations: Arc<dyn ConversationStore>,
    pub limit: Arc<RateLimit>,
}

impl ChatState {
    /// The model's assistant when one is configured, else the built-in one.
    pub fn new(
        conversations: Arc<dyn ConversationStore>,
        mcp: McpEndpoint,
        model: Option<ModelSettings>,
    ) -> Self {
        let assistant: Arc<dyn Assistant> = match model {
            Some(settings) => Arc::new(Model::new(settings)),
            None => Arc::new(BuiltIn),
        };
        ChatState {
            assistant,
            mcp: Arc::new(mcp),
            conversations,
            limit: Arc::new(RateLimit::default()),
        }
    }

    /// This state with the users' rate `limit`.
    pub fn with_limit(self, limit: RateLimit) -> Self {
        ChatState {
            limit: Arc::new(limit),
            ..self
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"message": "add call mom tomorrow at 6pm #family", "timezone": "Europe/Berlin"}))]
struct ChatInput {
    /// 1 to 4,000 characters; line breaks and tabs its only control characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 4000)]
    message: Option<String>,
    /// The conversation to go on with; absent, a new one starts.
    #[serde(default)]
    #[schema(nullable = false)]
    conversation_id: Option<Uuid>,
    /// The user's IANA time zone, kept with the conversation (default: the
    /// conversation's, else UTC).
    #[serde(default)]
    #[schema(nullable = false, example = "Europe/Berlin")]
    timezone: Option<String>,
}

/// The answer to a message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatResponse {
    pub conversation_id: Uuid,
    /// The assistant's words.
    pub response: String,
    /// The tool calls it made, in order.
    pub tool_calls: Vec<ToolCall>,
}

/// Chat with the assistant
///
/// The assistant acts on the user's tasks through the MCP tools and answers in words,
/// listing the calls it made. With `Accept: text/event-stream` the reply streams: an
/// `event: tool_call` per call as it happens, then `event: message` with the text, then
/// `event: done` with the whole response (or `event: error` with the error JSON). Each
/// user may send 30 messages a minute (10 at once).
#[utoipa::path(
    post,
    path = "/api/{user_id}/chat",
    operation_id = "chat",
    request_body = ChatInput,
    responses(
        (status = 200, description = "The reply", content(
            (ChatResponse = "application/json"),
            (ChatEvent = "text/event-stream", example = json!("event: tool_call\ndata: {\"tool\":\"add_task\",…}\n\nevent: message\ndata: {\"text\":\"Added …\"}\n\nevent: done\ndata: {\"conversation_id\":\"…\",…}\n\n")),
        )),
        (status = 404, description = "No such conversation of this user"),
        (status = 429, description = "Too many messages: retry after `Retry-After` seconds"),
        (status = 502, description = "The model answered something unusable; nothing was saved"),
        (status = 503, description = "The database or the model is unavailable; nothing was saved"),
        (status = 504, description = "The model did not answer in time; nothing was saved"),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn chat(
    State(state): State<AppState>,
    Extension(chat): Extension<ChatState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(input): JsonBody<ChatInput>,
) -> Result<Response, ApiError> {
    let message = parse_message(
        input
            .message
            .as_deref()
            .ok_or_else(|| ApiError::validation("message", "message is required"))?,
    )?;
    let timezone = input.timezone.as_deref().map(Timezone::parse).transpose()?;
    chat.limit.check(&user.0)?;
    let token = bearer(&headers)?;
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let request = Request {
        user: user.0,
        token,
        message,
        conversation_id: input.conversation_id,
        timezone,
    };
    // Before any stream begins (its status is 200): a conversation that is not there, or
    // another user's, is a 404 either way.
    let opened = open(&chat, &request).await?;
    if !streaming {
        let response = respond(&state, &chat, &request, opened, None).await?;
        return Ok(Json(response).into_response());
    }
    Ok(Sse::new(stream(state, chat, request, opened))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// One event of a streamed reply: what its `event:` and `data:` lines carry.
// Written by `stream`.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // describes the wire format
struct ChatEvent {
    event: ChatEventName,
    /// JSON: a `ToolCall` (`tool_call`), `{"text": "..."}` (`message`), the `ChatResponse`
    /// (`done`) or the error JSON (`error`).
    data: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // describes the wire format
enum ChatEventName {
    ToolCall,
    Message,
    Done,
    Error,
}

/// One message to answer.
struct Request {
    user: String,
    token: String,
    message: String,
    conversation_id: Option<Uuid>,
    timezone: Option<Timezone>,
}

/// The conversation a message goes to and the version it was read at (`None`: a new one,
/// not saved yet); 404 when it is not there or is another user's.
async fn open(
    chat: &ChatState,
    request: &Request,
) -> Result<(Conversation, Option<Etag>), ApiError> {
    Ok(match request.conversation_id {
        Some(id) => {
            let (conversation, etag) = chat
                .conversations
                .get_conversation(&request.user, id)
                .await?
                .ok_or(ApiError::NotFound)?;
            (conversation, Some(etag))
        }
        None => (
            Conversation::start(Uuid::new_v4(), &request.user, Timezone::UTC, domain::now()),
            None,
        ),
    })
}

/// Has the assistant answer in the `open`ed conversation, saves both messages; reports tool
/// calls to `progress` as they happen.
async fn respond(
    state: &AppState,
    chat: &ChatState,
    request: &Request,
    (mut conversation, mut etag): (Conversation, Option<Etag>),
    progress: Option<mpsc::UnboundedSender<Progress>>,
) -> Result<ChatResponse, ApiError> {
    let store = &chat.conversations;
    let now = domain::now();
    if let Some(timezone) = &request.timezone {
        conversation.timezone = timezone.clone();
    }
    let tools = Tools::connect(state, &chat.mcp, &request.user, &request.token, progress).await?;
    let reply = chat
        .assistant
        .reply(
            Turn {
                message: &request.message,
                history: &conversation.messages,
                timezone: &conversation.timezone,
                now,
                last_list: &conversation.last_list,
            },
            &tools,
        )
        .await?;
    let tool_calls = tools.calls();
    let messages = [
        Message {
            role: Role::User,
            content: request.message.clone(),
            tool_calls: Vec::new(),
            at: now,
        },
        Message {
            role: Role::Assistant,
            content: reply.text.clone(),
            tool_calls: tool_calls.clone(),
            at: domain::now(),
        },
    ];
    // Optimistic concurrency: on a conflict, add the two messages to the newer version.
    // The tools have run by now, so giving up would leave their effects without the reply
    // (and a client that retries would repeat them): each conflict means another message
    // was saved, so keep going for as long as `SAVE_PATIENCE`, apart from the others.
    let deadline = tokio::time::Instant::now() + SAVE_PATIENCE;
    let mut attempt: u64 = 0;
    loop {
        if attempt > 0 {
            let jitter = u64::try_from(Uuid::new_v4().as_u128() % 10).unwrap_or_default();
            tokio::time::sleep(Duration::from_millis(jitter + 2 * attempt.min(25))).await;
        }
        attempt += 1;
        let mut next = conversation.clone();
        next.add(messages.iter().cloned());
        if let Some(list) = &reply.last_list {
            next.last_list = list.clone();
        }
        if let Some(timezone) = &request.timezone {
            next.timezone = timezone.clone();
        }
        next.updated_at = domain::now();
        match store.save_conversation(&next, etag.as_ref()).await {
            Ok(_) => {
                return Ok(ChatResponse {
                    conversation_id: next.id,
                    response: reply.text,
                    tool_calls,
                })
            }
            Err(StoreError::Conflict(_)) if tokio::time::Instant::now() < deadline => {
                let (fresh, fresh_etag) = store
                    .get_conversation(&request.user, conversation.id)
                    .await?
                    .ok_or(ApiError::NotFound)?;
                conversation = fresh;
                etag = Some(fresh_etag);
            }
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::Unavailable(anyhow::anyhow!(
                    "the conversation kept changing under this message"
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The streamed reply: each tool call as it happens, then the text and the whole response
/// (or the error).
fn stream(
    state: AppState,
    chat: ChatState,
    request: Request,
    opened: (Conversation, Option<Etag>),
) -> impl Stream<Item = Result<Event, Infallible>> {
    let (events, receiver) = mpsc::unbounded_channel::<Result<Event, Infallible>>();
    tokio::spawn(async move {
        let (progress, mut calls) = mpsc::unbounded_channel();
        let reply = respond(&state, &chat, &request, opened, Some(progress));
        tokio::pin!(reply);
        let result = loop {
            tokio::select! {
                Some(Progress::ToolCall(call)) = calls.recv() => {
                    let _ = events.send(Ok(event("tool_call", &call)));
                }
                result = &mut reply => break result,
            }
        };
        while let Ok(Progress::ToolCall(call)) = calls.try_recv() {
            let _ = events.send(Ok(event("tool_call", &call)));
        }
        let last = match result {
            Ok(response) => {
                let text = serde_json::json!({"text": response.response});
                let _ = events.send(Ok(event("message", &text)));
                event("done", &response)
            }
            Err(error) => event("error", &error.to_json()),
        };
        let _ = events.send(Ok(last));
    });
    tokio_stream::wrappers::UnboundedReceiverStream::new(receiver)
}

fn event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).expect("an event serialises"))
}

/// The caller's bearer token, forwarded to the MCP tools so they act as the caller.
fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))
}

/// One page of the user's conversations.
#[derive(Serialize, utoipa::ToSchema)]
struct ConversationPage {
    items: Vec<ConversationSummary>,
    total_count: u64,
    page: u32,
    page_size: u32,
    total_pages: u64,
}

/// List conversations
///
/// The user's conversations, the most recently changed first.
#[utoipa::path(
    get,
    path = "/api/{user_id}/conversations",
    operation_id = "listConversations",
    params(Paging),
    responses(
        (status = 200, description = "A page of conversations", body = ConversationPage),
        (status = 400, description = "A query parameter is unknown or not acceptable"),
        (status = 503),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn conversations(
    Extension(chat): Extension<ChatState>,
    user: AuthUser,
    paging: Paging,
) -> Result<Json<ConversationPage>, ApiError> {
    let (items, total_count) = chat
        .conversations
        .list_conversations(&user.0, paging.offset(), paging.page_size)
        .await?;
    Ok(Json(ConversationPage {
        items,
        total_count,
        page: paging.page,
        page_size: paging.page_size,
        total_pages: paging.total_pages(total_count),
    }))
}

/// Get a conversation
///
/// Its messages in order, with the tool calls of each reply.
#[utoipa::path(
    get,
    path = "/api/{user_id}/conversations/{id}",
    operation_id = "getConversation",
    responses((status = 200, description = "The conversation", body = Conversation), (status = 503)),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0, conversation_id = %id))]
async fn conversation(
    Extension(chat): Extension<ChatState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<Json<Conversation>, ApiError> {
    chat.conversations
        .get_conversation(&user.0, id)
        .await?
        .map(|(conversation, _)| Json(conversation))
        .ok_or(ApiError::NotFound)
}

/// Delete a conversation
///
/// The conversation and its messages; the tasks its tool calls made or changed stay.
#[utoipa::path(
    delete,
    path = "/api/{user_id}/conversations/{id}",
    operation_id = "deleteConversation",
    responses((status = 204, description = "Deleted"), (status = 503)),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0, conversation_id = %id))]
async fn delete_conversation(
    Extension(chat): Extension<ChatState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if chat.conversations.delete_conversation(&user.0, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
