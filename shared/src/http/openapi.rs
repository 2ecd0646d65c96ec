//! The API's OpenAPI 3.1 document, assembled from the code that serves it.
//!
//! - Each function declares its API routes as a utoipa-axum `OpenApiRouter`
//!   (`Function::api`): a route is registered by `routes!(handler)` from the handler's
//!   `#[utoipa::path]` (method, path, body, answers), so a route and its operation are one
//!   declaration and the document cannot lack one. `document(functions)` merges the
//!   functions' declarations, so adding a function adds its paths; each operation is tagged
//!   with the function that serves it.
//! - What the shared HTTP layer does for every route is added here, once (`finish`): the
//!   path parameters its extractors read (`{user_id}`: `AuthUser`; `{id}`: `PathId`), the
//!   bearer scheme (every operation needs it unless it declares `security(())`), and the
//!   errors its extractors and limits answer (400 for a query parameter the operation does
//!   not take, 401, 403, 404, 408/413/415/422 and 400 for a JSON body, 414, 431). Every error answer gets the error JSON's schema (`ErrorBody`), with an
//!   example made by `ApiError` itself; a handler declares only the errors of its own
//!   (`(status = 503)`, `(status = 409, description = "...")`).
//! - The document is also what the API routes accept: each refuses a query parameter its
//!   operation does not name (`query_parameters`, read by the router's middleware).
//!
//! Not documented: the routes only the Dapr sidecar calls (`Function::sidecar`,
//! `/dapr/subscribe`) and the pages a browser opens (`Function::pages`: the web app's files
//! and the docs page).

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Type;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, LicenseBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, Ref,
    RefOr, Required,
};
use utoipa::{PartialSchema, ToSchema};

use super::error::ErrorBody;
use super::ApiError;
use crate::domain::text::MAX_USER_ID_CHARS;

/// The security scheme every authenticated operation names.
pub const BEARER: &str = "bearer";

const DESCRIPTION: &str = "\
The Todo API: tasks with priorities, tags, due dates, reminders and recurrence; their \
history; webhooks; a live event stream; and the chat assistant. Each route is served by \
one function (the operation's tag).

**Auth.** `Authorization: Bearer <JWT>` (HS256): its subject (`sub`) is the user id, and a \
`/api/{user_id}/...` route answers only that user (403 for another). A missing, malformed \
or expired token is a 401.

**Errors.** Every error answers `{\"error\": {\"code\", \"message\", \"field\"?}}`; \
`field` names the body field or query parameter at fault. Bodies are JSON, at most 64 KiB; \
targets at most 8 KiB; headers at most 32 KiB and 100 fields.";

/// Starts a document: its info, the bearer scheme (required by default), and the error
/// JSON's schemas.
pub(super) fn base() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Todo API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .license(Some(
                    LicenseBuilder::new()
                        .name("MIT")
                        .identifier(Some("MIT"))
                        .build(),
                ))
                .build(),
        )
        .security(Some([SecurityRequirement::new(
            BEARER,
            Vec::<String>::new(),
        )]))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BEARER.to_owned(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "An HS256 JWT whose `sub` is the user id; `exp` required, `nbf` honoured, \
                     `aud` checked when the service is configured with one.",
                ))
                .build(),
        ),
    );
    let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut schemas);
    components.schemas.extend(schemas);
    doc
}

/// Tags every operation of `doc` with `function`, the function that serves it.
pub(super) fn tag(doc: &mut OpenApi, function: &str) {
    for item in doc.paths.paths.values_mut() {
        for (_, operation) in operations(item) {
            operation.tags = Some(vec![function.to_owned()]);
        }
    }
}

/// What the shared HTTP layer does for every operation (see the module's doc).
pub(super) fn finish(doc: &mut OpenApi) {
    let mut used = BTreeMap::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        let params: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (_, operation) in operations(item) {
            add_path_parameters(operation, &params);
            let public = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
            if public {
                // `security(())` in a handler's declaration: no token needed.
                operation.security = Some(Vec::new());
            }
            // A handler that reads its body itself (`/mcp`) declares its own `4XX`.
            let own_4xx = operation.responses.responses.contains_key("4XX");
            let mut standard = vec![StandardError::UriTooLong, StandardError::HeadersTooLarge];
            if !own_4xx {
                // Every route refuses a query parameter its operation does not name (and a
                // body that is not JSON, below).
                standard.push(StandardError::BadRequest);
            }
            if !public {
                standard.push(StandardError::Unauthorized);
            }
            if params.contains(&"user_id") {
                standard.push(StandardError::Forbidden);
            }
            if !params.is_empty() {
                standard.push(StandardError::NotFound);
            }
            if operation.request_body.is_some() && !own_4xx {
                standard.extend([
                    StandardError::RequestTimeout,
                    StandardError::PayloadTooLarge,
                    StandardError::UnsupportedMediaType,
                    StandardError::ValidationFailed,
                ]);
            }
            let responses = &mut operation.responses.responses;
            for error in standard {
                let (status, name) = (error.status(), error.name());
                responses.entry(status.to_string()).or_insert_with(|| {
                    used.insert(name, error);
                    RefOr::Ref(Ref::from_response_name(name))
                });
            }
            for (status, response) in responses.iter_mut() {
                if let (RefOr::T(response), Ok(status)) = (response, status.parse::<u16>()) {
                    if status >= 400 {
                        describe_error(response, status);
                    }
                }
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, error) in used {
        let mut response = ResponseBuilder::new()
            .description(error.description())
            .build();
        describe_error(&mut response, error.status());
        components
            .responses
            .insert(name.to_owned(), RefOr::T(response));
    }
}

/// The document as JSON text, in the order it was declared (`pretty`: indented).
///
/// utoipa writes a link's fields in snake case (`operation_id`) where OpenAPI names them in
/// camel case (`operationId`); nothing else in the document has such a key (a test checks
/// that every link names an operation), so the text is corrected as it is written.
pub fn to_json(doc: &OpenApi, pretty: bool) -> String {
    let text = if pretty {
        doc.to_pretty_json()
    } else {
        doc.to_json()
    }
    .expect("the OpenAPI document serialises");
    text.replace("\"operation_id\":", "\"operationId\":")
        .replace("\"operation_ref\":", "\"operationRef\":")
        .replace("\"request_body\":", "\"requestBody\":")
}

/// `item`'s operations, with their methods.
pub fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation.as_mut()?)))
}

/// The names of the query parameters each operation takes, by upper-case method and path
/// (the route as the router matches it).
pub type QueryParameters = BTreeMap<(String, String), Vec<String>>;

/// The query parameters each operation of `doc` takes: what the API routes accept
/// (`refuse_unknown_query`).
pub fn query_parameters(doc: &OpenApi) -> QueryParameters {
    let mut taken = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        let mut item = item.clone();
        for (method, operation) in operations(&mut item) {
            let names = operation
                .parameters
                .iter()
                .flatten()
                .filter(|p| p.parameter_in == ParameterIn::Query)
                .map(|p| p.name.clone())
                .collect();
            taken.insert((method.to_uppercase(), path.clone()), names);
        }
    }
    taken
}

/// Declares the path parameters the extractors read, unless the handler declared them.
fn add_path_parameters(operation: &mut Operation, params: &[&str]) {
    let declared = operation.parameters.get_or_insert_with(Vec::new);
    let mut missing: Vec<Parameter> = params
        .iter()
        .filter(|name| !declared.iter().any(|p| p.name == **name))
        .filter_map(|name| path_parameter(name))
        .collect();
    missing.append(declared);
    *declared = missing;
}

fn path_parameter(name: &str) -> Option<Parameter> {
    let (description, schema) = match name {
        "user_id" => (
            "The user: the token's subject.",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_USER_ID_CHARS))
                .examples([serde_json::json!("alice")]),
        ),
        "id" => (
            "The id of one of the user's items (another user's answers 404, as a missing one \
             does; so does an id that is not a UUID).",
            ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid),
            )),
        ),
        _ => return None,
    };
    Some(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(schema))
            .build(),
    )
}

/// Gives an error response the error JSON (and its headers) unless it has a body.
fn describe_error(response: &mut Response, status: u16) {
    let example = example_error(status);
    if response.description.is_empty() {
        response.description = example.as_ref().map_or_else(
            || format!("HTTP {status}"),
            |e| {
                e["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            },
        );
    }
    if response.content.is_empty() {
        let mut content =
            ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name())));
        if let Some(example) = example {
            content = content.example(Some(example));
        }
        response
            .content
            .insert("application/json".to_owned(), content.build());
    }
    let header = |description: &str, schema: ObjectBuilder| {
        HeaderBuilder::new()
            .schema(schema)
            .description(Some(description))
            .build()
    };
    match status {
        401 => {
            response
                .headers
                .entry("WWW-Authenticate".to_owned())
                .or_insert_with(|| {
                    header("`Bearer`", ObjectBuilder::new().schema_type(Type::String))
                });
        }
        429 | 503 => {
            response
                .headers
                .entry("Retry-After".to_owned())
                .or_insert_with(|| {
                    header(
                        "Seconds to wait before trying again.",
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0)),
                    )
                });
        }
        _ => {}
    }
}

/// The error JSON an answer with `status` carries, as `ApiError` writes it.
fn example_error(status: u16) -> Option<serde_json::Value> {
    let error = match status {
        400 => ApiError::bad_request(Some("page_size"), "page_size must be between 1 and 100"),
        401 => ApiError::Unauthorized("the token has expired"),
        403 => ApiError::Forbidden,
        404 => ApiError::NotFound,
        405 => ApiError::MethodNotAllowed,
        408 => ApiError::RequestTimeout,
        409 => ApiError::Conflict("the user has a webhook with this URL".into()),
        413 => ApiError::PayloadTooLarge,
        414 => ApiError::UriTooLong,
        415 => ApiError::UnsupportedMediaType,
        422 => ApiError::validation("title", "title must not be empty"),
        429 => ApiError::TooManyRequests(2),
        431 => ApiError::HeadersTooLarge,
        502 => ApiError::BadGateway("the model answered something unusable".into()),
        503 => ApiError::Unavailable(anyhow::anyhow!("example")),
        504 => ApiError::GatewayTimeout("the model did not answer in time".into()),
        _ => return None,
    };
    // Not `to_json`, which logs the cause: every function builds its document at start,
    // and a "dependency unavailable" warning at each cold start would be a false alarm.
    Some(error.body())
}

/// The errors the shared layer answers, as reusable responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum StandardError {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    RequestTimeout,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    ValidationFailed,
    HeadersTooLarge,
}

impl StandardError {
    fn status(self) -> u16 {
        match self {
            StandardError::BadRequest => 400,
            StandardError::Unauthorized => 401,
            StandardError::Forbidden => 403,
            StandardError::NotFound => 404,
            StandardError::RequestTimeout => 408,
            StandardError::PayloadTooLarge => 413,
            StandardError::UriTooLong => 414,
            StandardError::UnsupportedMediaType => 415,
            StandardError::ValidationFailed => 422,
            StandardError::HeadersTooLarge => 431,
        }
    }

    fn name(self) -> &'static str {
        match self {
            StandardError::BadRequest => "BadRequest",
            StandardError::Unauthorized => "Unauthorized",
            StandardError::Forbidden => "Forbidden",
            StandardError::NotFound => "NotFound",
            StandardError::RequestTimeout => "RequestTimeout",
            StandardError::PayloadTooLarge => "PayloadTooLarge",
            StandardError::UriTooLong => "UriTooLong",
            StandardError::UnsupportedMediaType => "UnsupportedMediaType",
            StandardError::ValidationFailed => "ValidationFailed",
            StandardError::HeadersTooLarge => "HeadersTooLarge",
        }
    }

    fn description(self) -> &'static str {
        match self {
            StandardError::BadRequest => {
                "A query parameter the operation does not take, or one malformed; or a body that is not JSON."
            }
            StandardError::Unauthorized => {
                "No token, or one that is malformed, expired, not yet valid or not for this service."
            }
            StandardError::Forbidden => "The token is another user's than `{user_id}`.",
            StandardError::NotFound => {
                "No such item of this user (another user's is not found either)."
            }
            StandardError::RequestTimeout => "The body did not arrive within 15 s.",
            StandardError::PayloadTooLarge => "The body is over 64 KiB.",
            StandardError::UriTooLong => "The request target is over 8 KiB.",
            StandardError::UnsupportedMediaType => "The body is not `application/json`.",
            StandardError::ValidationFailed => {
                "A field is not acceptable (`field` names it), or one is unknown or missing."
            }
            StandardError::HeadersTooLarge => "The headers are over 32 KiB or 100 fields.",
        }
    }
}
