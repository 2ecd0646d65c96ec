//! The assistant as a language model: any OpenAI-compatible chat-completions endpoint with
//! tool calling (OpenAI, Ollama, vLLM, ...), given the MCP tools as its functions.
//!
//! Bounded: at most `MAX_ROUNDS` rounds of tool calls, a time limit per model call, and
//! the conversation cut to the most recent `HISTORY_CHARS` characters. A model that is
//! down is a 503, slow a 504, and one that answers something unusable a 502; an unknown
//! tool or malformed arguments go back to the model as that call's error, so it can
//! correct itself. The model's text is shown, never run: it reaches the tasks only
//! through the tools, as the user.

use std::time::Duration;

use async_trait::async_trait;
use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::tools::{error_message, Tools};
use super::{Assistant, Reply, Turn};
use crate::config::Secret;
use crate::domain::conversation::Role;
use crate::http::ApiError;

/// Rounds of tool calls in one reply, at most.
pub const MAX_ROUNDS: usize = 8;
/// The earlier messages a model sees, at most this many characters (about 3,000 tokens).
pub const HISTORY_CHARS: usize = 12_000;

/// Where the model is: `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_MODEL`,
/// `OPENAI_TIMEOUT_SECONDS`.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub model: String,
    pub timeout: Duration,
}

impl ModelSettings {
    /// The model configured in `get`, if any: a base URL or an API key says there is one
    /// (OpenAI's API by default, `gpt-4o-mini` by default).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        let base_url = get("OPENAI_BASE_URL").filter(|v| !v.is_empty());
        let api_key = get("OPENAI_API_KEY")
            .filter(|v| !v.is_empty())
            .map(Secret::new);
        if base_url.is_none() && api_key.is_none() {
            return Ok(None);
        }
        let timeout = match get("OPENAI_TIMEOUT_SECONDS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    anyhow::anyhow!("OPENAI_TIMEOUT_SECONDS={v:?} is not a positive number")
                })?,
            None => Duration::from_secs(30),
        };
        Ok(Some(ModelSettings {
            base_url: base_url
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .to_owned(),
            api_key,
            model: get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
            timeout,
        }))
    }
}

pub struct Model {
    settings: ModelSettings,
    client: reqwest::Client,
}

impl Model {
    pub fn new(settings: ModelSettings) -> Self {
        Model {
            client: reqwest::Client::builder()
                .timeout(settings.timeout)
                .build()
                .expect("HTTP client"),
            settings,
        }
    }

    /// One chat completion: the model's message.
    async fn complete(&self, messages: &[Value], functions: &[Value]) -> Result<Value, ApiError> {
        let url = format!("{}/chat/completions", self.settings.base_url);
        let mut request = self.client.post(&url).json(&json!({
            "model": self.settings.model,
            "messages": messages,
            "tools": functions,
            "tool_choice": "auto",
        }));
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                ApiError::GatewayTimeout(format!(
                    "the model did not answer within {} s",
                    self.settings.timeout.as_secs()
                ))
            } else {
                ApiError::Unavailable(anyhow::anyhow!(
                    "the model cannot be reached: {}",
                    e.without_url()
                ))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::BadGateway(format!("the model answered {status}")));
        }
        let body: Value = response.json().await.map_err(|e| {
            if e.is_timeout() {
                ApiError::GatewayTimeout("the model's answer did not arrive in time".into())
            } else {
                ApiError::BadGateway("the model's answer is not JSON".into())
            }
        })?;
        let message = &body["choices"][0]["message"];
        if !message.is_object() {
            return Err(ApiError::BadGateway(
                "the model's answer has no message".into(),
            ));
        }
        Ok(message.clone())
    }
}

#[async_trait]
impl Assistant for Model {
    async fn reply(&self, turn: Turn<'_>, tools: &Tools) -> Result<Reply, ApiError> {
        let functions: Vec<Value> = tools
            .list()
            .await?
            .into_iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description.unwrap_or_default(),
                    "parameters": *tool.input_schema,
                }})
            })
            .collect();
        let mut messages = vec![json!({"role": "system", "content": system_prompt(&turn)})];
        messages.extend(window(&turn));
        messages.push(json!({"role": "user", "content": turn.message}));
        for _ in 0..MAX_ROUNDS {
            let message = self.complete(&messages, &functions).await?;
            let calls = message["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if calls.is_empty() {
                let text = message["content"].as_str().unwrap_or_default().trim();
                if text.is_empty() {
                    return Err(ApiError::BadGateway(
                        "the model answered with neither text nor a tool call".into(),
                    ));
                }
                return Ok(Reply {
                    text: text.to_owned(),
                    last_list: None,
                });
            }
            messages.push(message.clone());
            for call in calls {
                let id = call["id"].as_str().unwrap_or_default().to_owned();
                let name = call["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let raw = call["function"]["arguments"].as_str().unwrap_or("{}");
                let content = match serde_json::from_str::<Value>(raw) {
                    Ok(arguments @ Value::Object(_)) => match tools.call(&name, arguments).await? {
                        Ok(result) => result.to_string(),
                        Err(error) => json!({"error": error_message(&error)}).to_string(),
                    },
                    _ => {
                        let error = format!("the arguments of {name} are not a JSON object");
                        tools.refuse(&name, Value::String(raw.to_owned()), &error);
                        json!({"error": error}).to_string()
                    }
                };
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
        }
        Ok(Reply {
            text: format!(
                "I stopped after {MAX_ROUNDS} rounds of tool calls without finishing; \
                 please ask again, one thing at a time."
            ),
            last_list: None,
        })
    }
}

/// What the model is told first: who it works for, the user's time zone and time.
fn system_prompt(turn: &Turn<'_>) -> String {
    let local = turn.now.with_timezone(&turn.timezone.tz());
    format!(
        "You are the assistant of a todo app. Use the tools to add, list, update, complete \
         and delete the user's tasks; never claim a change you did not make with a tool. \
         The user's time zone is {tz}; it is now {local} there ({utc}). Give tools times in \
         RFC 3339 and recurrence as daily, weekly, monthly, yearly, \"every N days\" or an \
         RRULE. Answer briefly, in the user's language.",
        tz = turn.timezone.name(),
        local = local.format("%A %-d %B %Y, %H:%M"),
        utc = turn.now.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// The most recent messages that fit in `HISTORY_CHARS`, oldest first.
fn window(turn: &Turn<'_>) -> Vec<Value> {
    let mut budget = HISTORY_CHARS;
    let mut kept = Vec::new();
    for message in turn.history.iter().rev() {
        let size = message.content.chars().count();
        if size > budget {
            break;
        }
        budget -= size;
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        kept.push(json!({"role": role, "content": message.content}));
    }
    kept.reverse();
    kept
}
