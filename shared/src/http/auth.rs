//! Bearer-token authentication: HS256 JWTs signed with the shared `JWT_SECRET`
//! (Better Auth style). The token's subject is the user id.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::extract::path_param;
use crate::domain::check_user_id;
use crate::http::ApiError;

/// The claims `todo-local token` and the tests issue.
#[derive(Debug, Serialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
}

/// The claims a token is checked on. Times are JSON numbers, which some issuers write
/// with a fraction (`"exp": 1767225600.5`).
#[derive(Deserialize)]
struct Checked {
    sub: String,
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
}

/// How far a token's `exp` and `nbf` may be off, for clock skew between issuer and us.
const LEEWAY_SECONDS: f64 = 30.0;

/// A verified token: whose it is and until when it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub subject: String,
    pub expires_at: DateTime<Utc>,
}

pub struct Authenticator {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
}

impl Authenticator {
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // `exp` and `nbf` are checked in `verify`: the library reads them as whole numbers
        // only, and would refuse a real issuer's fractional ones.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["sub"]);
        Authenticator {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            validation,
        }
    }

    /// Requires tokens to name `audience` in `aud` (`JWT_AUDIENCE`); with `None`, `aud`
    /// is not checked.
    pub fn with_audience(mut self, audience: Option<&str>) -> Self {
        if let Some(audience) = audience {
            self.validation.set_audience(&[audience]);
            self.validation.validate_aud = true;
            self.validation.set_required_spec_claims(&["sub", "aud"]);
        }
        self
    }

    /// The verified subject of `token`, and when it expires.
    pub fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        self.verify_at(token, Utc::now())
    }

    fn verify_at(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, ApiError> {
        let claims = jsonwebtoken::decode::<Checked>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                ApiError::Unauthorized(match e.kind() {
                    ErrorKind::InvalidSignature => "the token's signature is invalid",
                    ErrorKind::InvalidAudience | ErrorKind::MissingRequiredClaim(_) => {
                        "the token is not meant for this service (aud)"
                    }
                    _ => "the token is malformed or not an HS256 JWT with sub and exp",
                })
            })?
            .claims;
        let now = now.timestamp_millis() as f64 / 1000.0;
        if !claims.exp.is_finite() || claims.exp + LEEWAY_SECONDS <= now {
            return Err(ApiError::Unauthorized("the token has expired"));
        }
        if claims
            .nbf
            .is_some_and(|nbf| !nbf.is_finite() || nbf - LEEWAY_SECONDS > now)
        {
            return Err(ApiError::Unauthorized("the token is not valid yet (nbf)"));
        }
        check_user_id(&claims.sub)
            .map_err(|_| ApiError::Unauthorized("the token's subject is not a usable user id"))?;
        let expires_at = DateTime::from_timestamp_millis((claims.exp * 1000.0) as i64)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Ok(Verified {
            subject: claims.sub,
            expires_at,
        })
    }

    /// Signs a token for `user_id` valid for `ttl` (used by `todo-local token` and tests).
    pub fn issue(&self, user_id: &str, ttl: chrono::Duration) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            exp: now + ttl.num_seconds(),
            iat: now,
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
        let verified = authorize(parts, state, &token).await?;
        Ok(AuthUser(verified.subject))
    }
}

/// The user of a request that names no `{user_id}` (the MCP endpoint): whoever the valid
/// bearer token's subject is (else 401).
#[derive(Debug, Clone)]
pub struct TokenUser(pub String);

impl<S> FromRequestParts<S> for TokenUser
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let verified = Arc::<Authenticator>::from_ref(state).verify(token)?;
        Ok(TokenUser(verified.subject))
    }
}

/// `AuthUser` for a browser's `EventSource`, which cannot set headers: the token may also
/// come as the `access_token` query parameter (the header wins when both are sent). A
/// stream lasts as long as its token (`expires_at`).
#[derive(Debug, Clone)]
pub struct StreamUser {
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
}

impl<S> FromRequestParts<S> for StreamUser
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = match bearer_token(parts) {
            Ok(token) => token.to_owned(),
            Err(missing)
                if !parts
                    .headers
                    .contains_key(axum::http::header::AUTHORIZATION) =>
            {
                let mut given = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                    .filter(|(k, _)| k == "access_token")
                    .map(|(_, v)| v.into_owned());
                let token = given.next().filter(|v| !v.is_empty()).ok_or(missing)?;
                if given.next().is_some() {
                    return Err(ApiError::bad_request(
                        Some("access_token"),
                        "access_token is given more than once",
                    ));
                }
                token
            }
            Err(refused) => return Err(refused),
        };
        let verified = authorize(parts, state, &token).await?;
        Ok(StreamUser {
            user_id: verified.subject,
            expires_at: verified.expires_at,
        })
    }
}

/// Verifies `token` and checks that its subject is the request's `{user_id}`.
async fn authorize<S>(parts: &mut Parts, state: &S, token: &str) -> Result<Verified, ApiError>
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    let auth = Arc::<Authenticator>::from_ref(state);
    let verified = auth.verify(token)?;
    let path_user = path_param(parts, state, "user_id")
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("route has no {{user_id}}")))?;
    if path_user != verified.subject {
        return Err(ApiError::Forbidden);
    }
    Ok(verified)
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let mut headers = parts
        .headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter();
    let header = headers
        .next()
        .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
    // Two credentials would leave which one acts to the order of the headers.
    if headers.next().is_some() {
        return Err(ApiError::Unauthorized("send one Authorization header"));
    }
    let header = header
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

    const SECRET: &[u8] = b"a-test-secret-of-enough-length!!";

    fn sign(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn refusal(auth: &Authenticator, token: &str) -> &'static str {
        match auth.verify(token) {
            Err(ApiError::Unauthorized(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let auth = Authenticator::hs256(SECRET);
        let token = auth.issue("alice", chrono::Duration::hours(1));
        let verified = auth.verify(&token).unwrap();
        assert_eq!(verified.subject, "alice");
        let left = verified.expires_at - Utc::now();
        assert!(left > chrono::Duration::minutes(59) && left <= chrono::Duration::hours(1));

        let other = Authenticator::hs256(b"another-secret-of-enough-length!");
        assert_eq!(refusal(&other, &token), "the token's signature is invalid");

        let expired = auth.issue("alice", chrono::Duration::hours(-1));
        assert_eq!(refusal(&auth, &expired), "the token has expired");
        assert!(auth.verify("not.a.jwt").is_err());
    }

    #[test]
    fn a_token_is_valid_from_nbf_until_exp_within_the_leeway() {
        let auth = Authenticator::hs256(SECRET);
        let now = Utc::now().timestamp();
        let later = sign(serde_json::json!({"sub": "alice", "exp": now + 7200, "nbf": now + 3600}));
        assert_eq!(refusal(&auth, &later), "the token is not valid yet (nbf)");
        let skewed = sign(serde_json::json!({"sub": "alice", "exp": now + 7200, "nbf": now + 10}));
        assert!(auth.verify(&skewed).is_ok(), "within the leeway");
        let started = sign(serde_json::json!({"sub": "alice", "exp": now + 60, "nbf": now - 60}));
        assert!(auth.verify(&started).is_ok());
        let just_expired = sign(serde_json::json!({"sub": "alice", "exp": now - 10}));
        assert!(auth.verify(&just_expired).is_ok(), "within the leeway");
        let long_expired = sign(serde_json::json!({"sub": "alice", "exp": now - 60}));
        assert_eq!(refusal(&auth, &long_expired), "the token has expired");
        let no_exp = sign(serde_json::json!({"sub": "alice"}));
        assert!(auth.verify(&no_exp).is_err());
    }

    #[test]
    fn real_issuers_tokens_are_accepted() {
        let auth = Authenticator::hs256(SECRET);
        let now = Utc::now().timestamp() as f64;
        // A fractional exp, an audience, an issuer and other claims of their own.
        let token = sign(serde_json::json!({
            "sub": "alice", "exp": now + 3600.5, "iat": now - 0.25, "nbf": now - 1.5,
            "aud": "todo-api", "iss": "https://auth.example.com", "email": "a@example.com"
        }));
        assert_eq!(auth.verify(&token).unwrap().subject, "alice");
        let many = sign(serde_json::json!({"sub": "alice", "exp": now + 60.0, "aud": ["x", "y"]}));
        assert!(
            auth.verify(&many).is_ok(),
            "aud is not checked unless configured"
        );
    }

    #[test]
    fn a_configured_audience_is_required() {
        let auth = Authenticator::hs256(SECRET).with_audience(Some("todo-api"));
        let exp = Utc::now().timestamp() + 60;
        for ok in [
            serde_json::json!({"sub": "alice", "exp": exp, "aud": "todo-api"}),
            serde_json::json!({"sub": "alice", "exp": exp, "aud": ["other", "todo-api"]}),
        ] {
            assert!(auth.verify(&sign(ok.clone())).is_ok(), "{ok}");
        }
        for bad in [
            serde_json::json!({"sub": "alice", "exp": exp, "aud": "other"}),
            serde_json::json!({"sub": "alice", "exp": exp}),
        ] {
            assert_eq!(
                refusal(&auth, &sign(bad.clone())),
                "the token is not meant for this service (aud)",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_subject_must_be_a_usable_user_id() {
        let auth = Authenticator::hs256(SECRET);
        let exp = Utc::now().timestamp() + 60;
        for sub in ["", "al\u{0}ice", "alice\nadmin", &"x".repeat(256)] {
            let token = sign(serde_json::json!({"sub": sub, "exp": exp}));
            assert_eq!(
                refusal(&auth, &token),
                "the token's subject is not a usable user id",
                "{sub:?}"
            );
        }
        let token = sign(serde_json::json!({"sub": "x".repeat(255), "exp": exp}));
        assert!(auth.verify(&token).is_ok());
    }
}
