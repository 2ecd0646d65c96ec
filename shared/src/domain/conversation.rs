//! A chat conversation: its messages in order, the user's time zone, and the tasks the
//! assistant last listed (so "complete 2" means the second of them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Invalid, Timezone};

/// A message is at most this many characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// A conversation keeps this many of its latest messages: each is stored with its tool
/// calls' results (whole tasks), and every new one rewrites the conversation, so without a
/// bound a long chat would grow every turn's cost and its answer without end. A model sees
/// far fewer (`handlers::chat::model::HISTORY_CHARS`).
pub const MAX_MESSAGES: usize = 200;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One tool call the assistant made for a message, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"tool": "add_task", "arguments": {"title": "Call mom", "due_at": "2026-12-02T18:00:00Z"}, "result": {"id": "3f1c9a4e-8d2b-4c7a-9e61-0b5d2f7a8c13", "title": "Call mom"}}))]
pub struct ToolCall {
    /// The MCP tool: `add_task`, `list_tasks`, `update_task`, `complete_task` or
    /// `delete_task`.
    pub tool: String,
    /// The arguments it was called with.
    pub arguments: serde_json::Value,
    /// What it answered, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub result: Option<serde_json::Value>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// The tool calls made for it (an assistant's message only; absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub user_id: String,
    /// The user's time zone, as last given (UTC until one is): an IANA name.
    #[schema(value_type = String, example = "Europe/Berlin")]
    pub timezone: Timezone,
    pub messages: Vec<Message>,
    /// The ids of the tasks the assistant last showed, in the order shown.
    #[serde(default)]
    pub last_list: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Conversation {
    /// A new, empty conversation of `user_id`.
    pub fn start(id: Uuid, user_id: &str, timezone: Timezone, now: DateTime<Utc>) -> Self {
        Conversation {
            id,
            user_id: user_id.to_owned(),
            timezone,
            messages: Vec::new(),
            last_list: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Adds `messages` after the others, then lets the oldest go past `MAX_MESSAGES`.
    pub fn add(&mut self, messages: impl IntoIterator<Item = Message>) {
        self.messages.extend(messages);
        let over = self.messages.len().saturating_sub(MAX_MESSAGES);
        self.messages.drain(..over);
    }

    /// How the conversation shows in a list: its id, its first message, when it changed.
    pub fn summary(&self) -> ConversationSummary {
        ConversationSummary {
            id: self.id,
            title: self
                .messages
                .first()
                .map(|m| m.content.chars().take(80).collect())
                .unwrap_or_default(),
            messages: self.messages.len(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A conversation in the list of a user's conversations (newest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationSummary {
    pub id: Uuid,
    /// The start of its first message.
    pub title: String,
    pub messages: usize,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A message a user sends: 1 to `MAX_MESSAGE_CHARS` characters, trimmed, line breaks and
/// tabs its only control characters.
pub fn parse_message(input: &str) -> Result<String, Invalid> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Invalid::new("message", "message must not be empty"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Invalid::new(
            "message",
            format!("message must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    if super::forbidden_control(text, super::Controls::LineBreaks).is_some() {
        return Err(Invalid::new(
            "message",
            "message must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_and_trimmed() {
        assert_eq!(parse_message("  add milk \n").unwrap(), "add milk");
        assert!(parse_message("   ").is_err());
        assert!(parse_message(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        let long = parse_message(&"é".repeat(MAX_MESSAGE_CHARS + 1)).unwrap_err();
        assert_eq!(long.field, "message");
        assert!(parse_message("a\u{0}b").is_err());
        assert!(parse_message("line one\nline two").is_ok());
    }

    #[test]
    fn a_summary_shows_the_first_message() {
        let now = Utc::now();
        let mut c = Conversation::start(Uuid::nil(), "alice", Timezone::UTC, now);
        assert_eq!(c.summary().title, "");
        c.messages.push(Message {
            role: Role::User,
            content: "add pay rent every month on the 1st".into(),
            tool_calls: vec![],
            at: now,
        });
        assert_eq!(c.summary().title, "add pay rent every month on the 1st");
        assert_eq!(c.summary().messages, 1);
    }

    #[test]
    fn a_conversation_keeps_its_latest_messages() {
        let now = Utc::now();
        let mut c = Conversation::start(Uuid::nil(), "alice", Timezone::UTC, now);
        let message = |i: usize| Message {
            role: if i.is_multiple_of(2) {
                Role::User
            } else {
                Role::Assistant
            },
            content: format!("message {i}"),
            tool_calls: vec![],
            at: now,
        };
        for turn in 0..MAX_MESSAGES {
            c.add([message(2 * turn), message(2 * turn + 1)]);
        }
        assert_eq!(c.messages.len(), MAX_MESSAGES);
        assert_eq!(c.messages[0].content, format!("message {MAX_MESSAGES}"));
        assert_eq!(c.messages[0].role, Role::User, "whole exchanges go");
        assert_eq!(
            c.messages.last().unwrap().content,
            format!("message {}", 2 * MAX_MESSAGES - 1)
        );
    }
}
