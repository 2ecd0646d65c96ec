//! `notify` — delivers reminders to the user's webhooks, and manages them.
//!
//! - Subscribed to `reminders`: each `reminder.due` is POSTed, signed (see `webhooks`), to
//!   every webhook of its user that has had no attempt of it yet, concurrently. Every
//!   attempt goes to the delivery log; a failed one is retried from there by the retry
//!   sweep (`webhooks::Webhooks::retry_due`, on the reminder tick) with backoff, so the
//!   answer to the broker is SUCCESS whatever the endpoints did: a dead endpoint never
//!   holds up the topic's partition. Only a database error answers RETRY. A redelivered
//!   event is not sent again to a webhook that already had an attempt of it.
//! - `POST /api/{user_id}/webhooks` `{url, secret?}` registers one (201; a secret is
//!   generated and shown once when none is sent), `GET` lists them (never with secrets),
//!   `DELETE /api/{user_id}/webhooks/{id}` removes one (204),
//!   `GET /api/{user_id}/webhooks/{id}/deliveries` is its delivery log.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::domain::{forbidden_control, Controls};
use crate::events::subscription::{self, ConsumeError, Delivery, Subscription};
use crate::events::{self, ReminderEvent, REMINDERS};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, JsonBody, PathId};
use crate::store::{DeliveryRecord, Webhook};

const ROUTE: &str = "/events/notify";
const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=256;

pub const FUNCTION: Function = Function {
    name: "notify",
    api,
    sidecar,
    subscriptions: &[Subscription {
        pubsub: events::PUBSUB,
        topic: REMINDERS,
        route: ROUTE,
    }],
};

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(consume))
}

fn api() -> Router<AppState> {
    Router::new()
        .route("/api/{user_id}/webhooks", post(create).get(list))
        .route("/api/{user_id}/webhooks/{id}", delete(remove))
        .route("/api/{user_id}/webhooks/{id}/deliveries", get(deliveries))
}

#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Delivery {
    subscription::consume(&body, |event: ReminderEvent| async move {
        deliver(&state, &event).await
    })
    .await
}

/// Delivers `event` to every webhook of its user that has had no attempt of it yet; the
/// failures are left to the retry sweep.
pub async fn deliver(state: &AppState, event: &ReminderEvent) -> Result<(), ConsumeError> {
    let targets = state
        .store
        .pending_deliveries(&event.user_id, event.event_id)
        .await?;
    if targets.is_empty() {
        return Ok(());
    }
    let payload = serde_json::to_string(event).map_err(|e| ConsumeError::Drop(e.to_string()))?;
    let recorded = futures::future::join_all(targets.iter().map(|target| {
        state.webhooks.attempt(
            state.store.as_ref(),
            target,
            event.event_id,
            "reminder.due",
            0,
            &payload,
        )
    }))
    .await;
    for outcome in recorded {
        outcome?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookInput {
    url: Option<String>,
    secret: Option<String>,
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    webhook: Webhook,
    /// Only when the server generated it: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(input): JsonBody<WebhookInput>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let raw = input
        .url
        .ok_or_else(|| ApiError::validation("url", "url is required"))?;
    let url = state
        .webhooks
        .parse_url(&raw)
        .map_err(|e| ApiError::validation("url", format!("url {e}")))?;
    let (secret, generated) = match input.secret {
        Some(s) if forbidden_control(&s, Controls::None).is_some() => {
            return Err(ApiError::validation(
                "secret",
                "secret must not contain control characters",
            ))
        }
        Some(s) if SECRET_LEN.contains(&s.chars().count()) => (s, false),
        Some(_) => {
            return Err(ApiError::validation(
                "secret",
                format!(
                    "secret must be {} to {} characters",
                    SECRET_LEN.start(),
                    SECRET_LEN.end()
                ),
            ))
        }
        None => (
            format!(
                "whsec_{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            true,
        ),
    };
    // The address check last: it may wait for DNS.
    state
        .webhooks
        .resolve(&url)
        .await
        .map_err(|e| ApiError::validation("url", format!("url {e}")))?;
    let webhook = state
        .store
        .create_webhook(&user.0, url.as_str(), &secret)
        .await?;
    tracing::info!(webhook_id = %webhook.id, "webhook registered");
    Ok((
        StatusCode::CREATED,
        Json(Created {
            webhook,
            secret: generated.then_some(secret),
        }),
    ))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(state.store.list_webhooks(&user.0).await?))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0, webhook_id = %id))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_webhook(&user.0, id).await? {
        tracing::info!("webhook deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

#[tracing::instrument(skip_all, fields(user_id = %user.0, webhook_id = %id))]
async fn deliveries(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<Json<Vec<DeliveryRecord>>, ApiError> {
    state
        .store
        .webhook_deliveries(&user.0, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}
