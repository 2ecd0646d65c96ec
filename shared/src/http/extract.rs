//! Request extractors whose failures answer in the API's one error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::domain::list::MAX_PAGE;
use crate::http::ApiError;

/// Whether the request says its body is JSON as this API reads it: `application/json` (or
/// `application/*+json`) in UTF-8, the one encoding of JSON (RFC 8259), so no other
/// `charset`, and not compressed (no `Content-Encoding` but `identity`). Otherwise 415.
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let plain = headers
        .get_all(axum::http::header::CONTENT_ENCODING)
        .iter()
        .all(|v| {
            v.to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("identity"))
        });
    let Some(content_type) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = content_type.split(';');
    let mime = parts.next().unwrap_or_default().trim();
    let json = mime.eq_ignore_ascii_case("application/json")
        || (mime.starts_with("application/") && mime.ends_with("+json"));
    let utf8 = parts.all(|param| match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    plain && json && utf8
}

/// A JSON body: `Content-Type: application/json`, within the body-size limit, parsed
/// strictly. Syntax errors are 400; a wrong type, a missing or an unknown field is 422
/// naming the field.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// An optional JSON body (`JsonBody`'s rules when there is one): `None` when the body is
/// empty or white space, whatever its `Content-Type`.
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(|value| OptionalJsonBody(Some(value)))
    }
}

/// Maps a failure to read the body to the API's errors (413 past the size limit, 408 when
/// it did not arrive within `BODY_READ_TIMEOUT`).
pub fn body_rejection(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::RequestTimeout;
        }
        cause = err.source();
    }
    ApiError::bad_request(None, "could not read the request body")
}

/// Parses a JSON object body strictly: bad syntax or trailing data is 400; a body that is
/// not an object, a wrong type, a missing or an unknown field is 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        ApiError::bad_request(None, format!("malformed JSON: {message}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::validation(
            "body",
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        // Unknown and missing fields are reported at their parent; name them.
        let field = match message.split('`').nth(1) {
            Some(name)
                if message.starts_with("unknown field") || message.starts_with("missing field") =>
            {
                if path == "." {
                    name.to_owned()
                } else if path.ends_with(name) {
                    path
                } else {
                    format!("{path}.{name}")
                }
            }
            _ if path == "." => "body".to_owned(),
            _ => path,
        };
        ApiError::validation(field, message)
    })
}

/// The `{id}` of a task or webhook route. An id that is not a UUID names nothing: 404.
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path_param(parts, state, "id")
            .await?
            .and_then(|v| Uuid::parse_str(&v).ok())
            .map(PathId)
            .ok_or(ApiError::NotFound)
    }
}

/// The percent-decoded `{name}` segment of the request's route (`None` when the route has
/// none). A segment that does not decode to text names nothing: 404.
pub async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<Option<String>, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::NotFound)?;
    Ok(params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned()))
}

/// The decoded query string as `(key, value)` pairs.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or_default();
        Ok(QueryPairs(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// `?page=&page_size=` of a paged collection (the task list has its own, richer query):
/// `page` from 1 to the task list's `MAX_PAGE`, `page_size` from 1 to
/// `Paging::MAX_PAGE_SIZE`. Anything else or repeated is 400 naming the parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// The page, from 1.
    #[param(minimum = 1, maximum = 1_000_000, default = 1)]
    pub page: u32,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub page_size: u32,
}

impl Paging {
    pub const MAX_PAGE_SIZE: u32 = 100;
    const DEFAULT_PAGE_SIZE: u32 = 20;

    /// The items before this page.
    pub fn offset(&self) -> u64 {
        (u64::from(self.page) - 1) * u64::from(self.page_size)
    }

    /// How many pages `total` items fill.
    pub fn total_pages(&self, total: u64) -> u64 {
        total.div_ceil(u64::from(self.page_size))
    }

    fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut paging = Paging {
            page: 1,
            page_size: Self::DEFAULT_PAGE_SIZE,
        };
        let mut seen = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name.as_str()) {
                return Err(ApiError::bad_request(
                    Some(name),
                    format!("{name} is given more than once"),
                ));
            }
            let number = value.parse::<u32>().ok();
            match name.as_str() {
                "page" => {
                    paging.page =
                        number
                            .filter(|n| (1..=MAX_PAGE).contains(n))
                            .ok_or_else(|| {
                                ApiError::bad_request(
                                    Some("page"),
                                    format!("page must be a whole number from 1 to {MAX_PAGE}"),
                                )
                            })?
                }
                "page_size" => {
                    paging.page_size = number
                        .filter(|n| (1..=Self::MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                Some("page_size"),
                                format!(
                                    "page_size must be a whole number from 1 to {}",
                                    Self::MAX_PAGE_SIZE
                                ),
                            )
                        })?
                }
                // The route refuses what its operation does not take (`refuse_unknown_query`).
                _ => {}
            }
            seen.push(name.as_str());
        }
        Ok(paging)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryPairs(pairs) = QueryPairs::from_request_parts(parts, state).await?;
        Paging::from_pairs(&pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_bounds_and_refusals() {
        let of = |q: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = q
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Paging::from_pairs(&pairs)
        };
        assert_eq!(
            of(&[]).unwrap(),
            Paging {
                page: 1,
                page_size: 20
            }
        );
        let p = of(&[("page", "3"), ("page_size", "100")]).unwrap();
        assert_eq!((p.offset(), p.total_pages(201)), (200, 3));
        for (q, field) in [
            (vec![("page", "0")], "page"),
            (vec![("page", "-1")], "page"),
            (vec![("page", "abc")], "page"),
            (vec![("page_size", "101")], "page_size"),
            (vec![("page_size", "0")], "page_size"),
            (vec![("page", "1"), ("page", "2")], "page"),
        ] {
            match of(&q).unwrap_err() {
                ApiError::BadRequest { field: f, .. } => assert_eq!(f.as_deref(), Some(field)),
                other => panic!("{q:?}: {other:?}"),
            }
        }
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        title: String,
        tags: Option<Vec<String>>,
    }

    fn field_of(body: &str) -> (u16, Option<String>) {
        match parse_json::<Probe>(body.as_bytes()).unwrap_err() {
            ApiError::Validation { field, .. } => (422, Some(field)),
            ApiError::BadRequest { field, .. } => (400, field),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field_of("{"), (400, None));
        assert_eq!(field_of(r#"{"title": 5}"#), (422, Some("title".into())));
        assert_eq!(
            field_of(r#"{"title": "x", "colour": 1}"#),
            (422, Some("colour".into()))
        );
        assert_eq!(field_of(r#"{}"#), (422, Some("title".into())));
        assert_eq!(
            field_of(r#"{"title": "x", "tags": [1]}"#),
            (422, Some("tags[0]".into()))
        );
        assert_eq!(field_of(r#"[]"#), (422, Some("body".into())));
    }
}
