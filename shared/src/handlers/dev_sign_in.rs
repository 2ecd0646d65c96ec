//! `todo-local`'s development sign-in: `POST /dev/token` `{user_id}` →
//! `{user_id, token, expires_at}`, a token for whichever user is named, so that a person
//! can open the web app on a laptop and sign in by typing a name.
//!
//! It is not a function binary: `handlers::local()` adds it to what `todo-local` hosts, and
//! it answers only where `todo-local` also put [`DevSignIn`] on the router (its default;
//! `--dev-sign-in=false` leaves it off). A function binary never has the route, so a
//! production deployment cannot issue tokens: they come from the identity provider.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::check_user_id;
use crate::http::{ApiError, AppState, Function, JsonBody};

pub const FUNCTION: Function = Function {
    name: "dev-sign-in",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

pub const ROUTE: &str = "/dev/token";

/// How long a development token holds (`todo-local token` issues the same).
pub fn token_ttl() -> chrono::Duration {
    chrono::Duration::hours(24)
}

/// Put on `todo-local`'s router (an axum `Extension`) to turn the development sign-in on.
#[derive(Debug, Clone, Copy)]
pub struct DevSignIn;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_id": "alice"}))]
struct SignIn {
    /// Any name: 1 to 255 characters, no control characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 255)]
    user_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Token {
    user_id: String,
    /// A 24-hour HS256 JWT whose subject is `user_id`.
    token: String,
    expires_at: DateTime<Utc>,
}

/// Development sign-in (todo-local only)
///
/// A token for whichever user is named, so that a person can try the web app on a laptop.
/// Only `todo-local` has this route (and answers 404 when started with
/// `--dev-sign-in=false`); no production function issues tokens.
#[utoipa::path(
    post,
    path = "/dev/token",
    operation_id = "devSignIn",
    security(()),
    request_body = SignIn,
    responses(
        (status = 200, description = "A token for the user", body = Token),
        (status = 403, description = "The request's `Host` is not one of `MCP_ALLOWED_HOSTS`"),
        (status = 404, description = "The development sign-in is off"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn sign_in(
    State(state): State<AppState>,
    enabled: Option<Extension<DevSignIn>>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<SignIn>,
) -> Result<Json<Token>, ApiError> {
    if enabled.is_none() {
        return Err(ApiError::NotFound);
    }
    // A web page whose name its owner re-points to this machine (DNS rebinding) reaches
    // this port from the person's browser; its `Host` is still that name.
    if !state.host_allowed(&headers) {
        return Err(ApiError::HostNotAllowed);
    }
    let user_id = input
        .user_id
        .ok_or_else(|| ApiError::validation("user_id", "user_id is required"))?;
    check_user_id(&user_id).map_err(|why| ApiError::validation("user_id", why))?;
    let ttl = token_ttl();
    let token = state.auth.issue(&user_id, ttl);
    tracing::info!(user_id = %user_id, "development sign-in");
    Ok(Json(Token {
        user_id,
        token,
        expires_at: Utc::now() + ttl,
    }))
}
