//! Bearer-token authentication: HS256 JWTs signed with the shared `JWT_SECRET`
//! (Better Auth style). The token's subject is the user id.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
}

pub struct Authenticator {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
}

impl Authenticator {
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Authenticator {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            validation,
        }
    }

    /// The verified subject of `token`.
    pub fn verify(&self, token: &str) -> Result<String, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                ApiError::Unauthorized(match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidSignature => "the token's signature is invalid",
                    _ => "the token is malformed or not an HS256 JWT",
                })
            })?;
        if data.claims.sub.is_empty() {
            return Err(ApiError::Unauthorized("the token has no subject"));
        }
        Ok(data.claims.sub)
    }

    /// Signs a token for `user_id` valid for `ttl` (used by `todo-local token` and tests).
    pub fn issue(&self, user_id: &str, ttl: chrono::Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            exp: now + ttl.num_seconds(),
            iat: Some(now),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }
}

/// The authenticated user of a `/api/{user_id}/...` request: the token is valid (else 401)
/// and its subject is `{user_id}` (else 403).
#[derive(Debug, Clone)]
pub struct AuthUser(pub String);

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?.to_owned();
        authorize(parts, state, &token).await.map(AuthUser)
    }
}

/// `AuthUser` for a browser's `EventSource`, which cannot set headers: the token may also
/// come as the `access_token` query parameter (the header wins when both are sent).
#[derive(Debug, Clone)]
pub struct StreamUser(pub String);

impl<S> FromRequestParts<S> for StreamUser
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = match bearer_token(parts) {
            Ok(token) => token.to_owned(),
            Err(missing) => form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
                .filter(|v| !v.is_empty())
                .ok_or(missing)?,
        };
        authorize(parts, state, &token).await.map(StreamUser)
    }
}

/// Verifies `token` and checks that its subject is the request's `{user_id}`.
async fn authorize<S>(parts: &mut Parts, state: &S, token: &str) -> Result<String, ApiError>
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    let auth = Arc::<Authenticator>::from_ref(state);
    let subject = auth.verify(token)?;
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("path params: {e}")))?;
    let path_user = params
        .iter()
        .find(|(k, _)| *k == "user_id")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("route has no {{user_id}}")))?;
    if path_user != subject {
        return Err(ApiError::Forbidden);
    }
    Ok(subject)
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = header
        .split_once(' ')
        .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized("send Authorization: Bearer <token>"));
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let auth = Authenticator::hs256(b"a-test-secret-of-enough-length!!");
        let token = auth.issue("alice", chrono::Duration::hours(1));
        assert_eq!(auth.verify(&token).unwrap(), "alice");

        let other = Authenticator::hs256(b"another-secret-of-enough-length!");
        assert!(matches!(
            other.verify(&token),
            Err(ApiError::Unauthorized(_))
        ));

        let expired = auth.issue("alice", chrono::Duration::hours(-1));
        assert!(matches!(
            auth.verify(&expired),
            Err(ApiError::Unauthorized("the token has expired"))
        ));
        assert!(auth.verify("not.a.jwt").is_err());
    }
}
