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
use crate::http::{ApiError, AuthUser, JsonBody};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QuickAddInput {
    message: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
}

/// What a sentence reads as.
#[derive(Debug, Serialize)]
pub(super) struct Preview {
    understood: bool,
    summary: String,
    task: Option<serde_json::Value>,
    example: Option<&'static str>,
}

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
