//! `POST /api/{user_id}/quick-add` `{message, timezone?}`: what the assistant's Quick Add
//! grammar reads in one sentence, without saving anything, so that the web app can show
//! what it understood before the person saves it (with `POST /api/{user_id}/tasks`).
//!
//! Answers 200 `{understood, summary, task, example}`: `task` is the body to create the
//! task with (exactly what the chat's `add_task` would send), `summary` the same in words;
//! a sentence that is not a task to add is `understood: false` with `task: null`, the
//! summary saying why and `example` a sentence that would work. Only the body itself can be
//! wrong (422 naming `message` or `timezone`), as in the chat.

use axum::Json;
use serde::{Deserialize, Serialize};

use crate::assistant::{self, Command, Context};
use crate::domain::conversation::parse_message;
use crate::domain::{self, Timezone};
use crate::http::input::NewTaskInput;
use crate::http::{ApiError, AuthUser, JsonBody};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"message": "pay rent every month on the 1st p1 #home", "timezone": "Europe/Berlin"}))]
pub(super) struct QuickAddInput {
    /// The sentence: 1 to 4,000 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 4000)]
    message: Option<String>,
    /// The IANA time zone its dates and times are in (default UTC).
    #[serde(default)]
    #[schema(nullable = false, example = "Europe/Berlin")]
    timezone: Option<String>,
}

/// What a sentence reads as.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"understood": true, "summary": "Add “pay rent” (P1, #home, due Tue 1 Dec 09:00, every month)", "task": {"title": "pay rent", "priority": "P1", "tags": ["home"], "due_at": "2026-12-01T08:00:00Z", "recurrence": "monthly", "timezone": "Europe/Berlin"}, "example": null}))]
pub(super) struct Preview {
    /// Whether the sentence reads as a task to add.
    understood: bool,
    /// What it reads as, in words (or why it is not understood).
    summary: String,
    /// The body to create the task with (`POST /api/{user_id}/tasks`), when understood.
    #[schema(value_type = Option<NewTaskInput>, required)]
    task: Option<serde_json::Value>,
    /// A sentence that would work, when not understood.
    #[schema(required)]
    example: Option<&'static str>,
}

/// Preview a quick add
///
/// What the assistant's Quick Add grammar reads in a sentence ("pay rent every month on
/// the 1st p1 #home"), without saving anything: the task body to create it with, and a
/// summary in words.
#[utoipa::path(
    post,
    path = "/api/{user_id}/quick-add",
    operation_id = "quickAdd",
    request_body = QuickAddInput,
    responses((status = 200, description = "What the sentence reads as", body = Preview)),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0))]
pub(super) async fn quick_add(
    user: AuthUser,
    JsonBody(input): JsonBody<QuickAddInput>,
) -> Result<Json<Preview>, ApiError> {
    let message = parse_message(
        input
            .message
            .as_deref()
            .ok_or_else(|| ApiError::validation("message", "message is required"))?,
    )?;
    let timezone = match input.timezone.as_deref() {
        Some(name) => Timezone::parse(name)?,
        None => Timezone::UTC,
    };
    let context = Context {
        now: domain::now(),
        timezone: timezone.tz(),
    };
    let command = assistant::quick_add(&message, &context);
    let summary = assistant::describe(&command, &context);
    Ok(Json(match command {
        Command::Add { arguments } => Preview {
            understood: true,
            summary,
            task: Some(arguments),
            example: None,
        },
        other => Preview {
            understood: false,
            summary,
            task: None,
            example: match other {
                Command::NotUnderstood { example, .. } => Some(example),
                // `quick_add` reads nothing but an add, or says what it did not understand.
                _ => None,
            },
        },
    }))
}
