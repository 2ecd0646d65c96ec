//! `notify` — delivers reminders to the user's webhooks, and manages them.
//!
//! - Subscribed to `reminders`: each `reminder.due` is POSTed, signed (see `webhooks`), to
//!   every webhook of its user that has had no attempt of it yet, concurrently. Every
//!   attempt goes to the delivery log; a failed one is retried from there by the retry
//!   sweep (`webhooks::Webhooks::retry_due`, on the reminder tick) with backoff, so the
//!   answer to the broker is SUCCESS whatever the endpoints did: a dead endpoint never
//!   holds up the topic's partition. Only a database error answers RETRY. Each first attempt
//!   is claimed in the log before it is made, so a redelivered event is never sent again
//!   to a webhook, even while the first attempt is still in flight.
//! - `POST /api/{user_id}/webhooks` `{url, secret?}` registers one (201; a secret is
//!   generated and shown once when none is sent), `GET` lists them (never with secrets),
//!   `DELETE /api/{user_id}/webhooks/{id}` removes one (204),
//!   `GET /api/{user_id}/webhooks/{id}/deliveries` is its delivery log.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{forbidden_control, Controls};
use crate::events::subscription::{self, ConsumeError, Reply, Subscription};
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
    pages: crate::http::no_routes,
    sidecar,
    setup: crate::http::no_setup,
    subscriptions: &[Subscription {
        pubsub: events::PUBSUB,
        topic: REMINDERS,
        route: ROUTE,
        bulk: false,
    }],
};

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(consume))
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(remove))
        .routes(routes!(deliveries))
}

#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Reply {
    let state = &state;
    subscription::consume(&body, |event: ReminderEvent| async move {
        deliver(state, &event).await
    })
    .await
}

/// Delivers `event` to every webhook of its user that has had no attempt of it yet; the
/// failures are left to the retry sweep.
pub async fn deliver(state: &AppState, event: &ReminderEvent) -> Result<(), ConsumeError> {
    let payload = serde_json::to_string(event).map_err(|e| ConsumeError::Drop(e.to_string()))?;
    state
        .webhooks
        .deliver_first(
            state.store.as_ref(),
            &event.user_id,
            event.event_id,
            "reminder.due",
            &payload,
        )
        .await?;
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/todo", "secret": "a-secret-of-16-chars-or-more"}))]
struct WebhookInput {
    /// An http(s) URL of a public address (no credentials, fragment or control
    /// characters): private, loopback and other special-purpose addresses are refused.
    #[schema(required = true, value_type = String, format = "uri", max_length = 2000, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://")]
    url: Option<String>,
    /// The HMAC-SHA256 key deliveries are signed with (`X-Todo-Signature`); generated, and
    /// shown once, when absent.
    #[schema(value_type = String, min_length = 16, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    secret: Option<String>,
}

/// A new webhook; with its secret once, when the server generated it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "9b2f6c1e-3a4d-4e5f-8a7b-6c5d4e3f2a1b", "url": "https://hooks.example.com/todo", "created_at": "2026-11-20T10:00:00Z", "secret": "whsec_4f9a…"}))]
struct Created {
    #[serde(flatten)]
    webhook: Webhook,
    /// Only when the server generated it: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    secret: Option<String>,
}

/// Register a webhook
///
/// Reminders (`reminder.due`) are POSTed to it as JSON, signed: `X-Todo-Signature:
/// sha256=<hex HMAC-SHA256 of the body under the secret>`, with `X-Todo-Event-Id`. At most
/// 10 per user.
#[utoipa::path(
    post,
    path = "/api/{user_id}/webhooks",
    operation_id = "createWebhook",
    request_body = WebhookInput,
    responses(
        (status = 201, description = "The webhook (with its secret, when generated)", body = Created, links(
            ("deleteWebhook" = (operation_id = "deleteWebhook", parameters(("user_id" = "$request.path.user_id"), ("id" = "$response.body#/id")))),
            ("webhookDeliveries" = (operation_id = "webhookDeliveries", parameters(("user_id" = "$request.path.user_id"), ("id" = "$response.body#/id")))),
        )),
        (status = 409, description = "The user has a webhook with this URL already"),
        (status = 503),
    ),
)]
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

/// List webhooks
///
/// The user's webhooks, never with their secrets.
#[utoipa::path(
    get,
    path = "/api/{user_id}/webhooks",
    operation_id = "listWebhooks",
    responses(
        (status = 200, description = "The user's webhooks", body = Vec<Webhook>),
        (status = 503),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(state.store.list_webhooks(&user.0).await?))
}

/// Delete a webhook
#[utoipa::path(
    delete,
    path = "/api/{user_id}/webhooks/{id}",
    operation_id = "deleteWebhook",
    responses((status = 204, description = "Deleted"), (status = 503)),
)]
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

/// A webhook's delivery log
///
/// Each event sent to it: attempts, the last status or error, and whether it was delivered,
/// is being retried (`next_attempt_at`) or failed for good. Newest first.
#[utoipa::path(
    get,
    path = "/api/{user_id}/webhooks/{id}/deliveries",
    operation_id = "webhookDeliveries",
    responses(
        (status = 200, description = "The delivery log", body = Vec<DeliveryRecord>),
        (status = 503),
    ),
)]
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
