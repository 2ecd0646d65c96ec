//! `web` — the web app (`web/`, built by Vite into `web/dist`) as static files, and
//! `todo-local` serves the same at `/`.
//!
//! - `GET /config.json`: what the app needs to know about where it runs:
//!   `{dev_sign_in, sign_in_url}`. `dev_sign_in` is true only in `todo-local` (its
//!   `POST /dev/token`); `sign_in_url` (`WEB_SIGN_IN_URL`) is the identity provider's page
//!   the app sends a person to, which sends them back with `#access_token=<JWT>`.
//! - `GET /docs`: the API's docs page (`docs.html` of the build), which renders
//!   `GET /docs/openapi.json`, the whole API's OpenAPI document (`todo-local`'s
//!   `http::ApiDocument`; the web function's image has a copy in the app's files,
//!   `DOCUMENT_COPY`; the function's own `/openapi.json` has only its routes).
//!   Neither is in the document: they are pages, like the app's files.
//! - `GET /<file>`: a file of the build. Vite names what it builds under `assets/` by a hash
//!   of the content, so those are cached for a year; everything else (`index.html` first)
//!   is revalidated each time (`no-cache` with an `ETag`).
//! - `GET /<app route>` (`/chat`, `/settings`, ...: a path whose last segment has no dot):
//!   `index.html`, so that a reload or a shared link opens the app on that page. Paths
//!   under the API's prefixes (`/api/`, `/mcp`, the sidecar's) are never the app's: they
//!   stay JSON 404s, and the API's own routes are matched before these.
//!
//! Every answer carries a Content-Security-Policy that allows only this origin (no CDN, no
//! inline script or style), and `nosniff`, no referrer, no framing.
//!
//! The files are read from a directory at request time (`WEB_DIR`; `todo-local`: `web/dist`)
//! rather than embedded in the binary: the Rust build then needs no Node (`cargo test` runs
//! without it), a rebuilt app is served without restarting anything, and the image copies
//! the app built in its own Node stage. Paths are checked segment by segment (no dot
//! files, so no `..`) before they touch the file system.

use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::dev_sign_in::DevSignIn;
use crate::config::Config;
use crate::http::{ApiDocument, ApiError, AppState, Function};

pub const FUNCTION: Function = Function {
    name: "web",
    api,
    pages,
    sidecar: crate::http::no_routes,
    setup,
    subscriptions: &[],
};

/// Where in the built app the image puts the whole API's document (`docs_document`).
pub const DOCUMENT_COPY: &str = "docs/openapi.json";

/// The web function's binary: the app's files (`WEB_DIR`, `WEB_SIGN_IN_URL`).
pub fn setup(
    _: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    _: &AppState,
    router: Router,
) -> anyhow::Result<Router> {
    Ok(match WebApp::from_lookup(env, None)? {
        Some(web) => router.layer(Extension(web)),
        None => router,
    })
}

/// Only this origin: the app's own scripts, styles, images and API. Styles set from script
/// through the CSSOM are allowed without `unsafe-inline`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Build output named by a hash of its content.
const HASHED_DIR: &str = "assets";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// First path segments that belong to the API or the sidecar, never to the app.
const NOT_THE_APPS: &[&str] = &[
    "api",
    "mcp",
    "dapr",
    "events",
    "job",
    "reminder-cron",
    "healthz",
    "readyz",
];

/// Where the built app is, and how people sign in to it.
#[derive(Debug, Clone)]
pub struct WebApp {
    dir: PathBuf,
    sign_in_url: Option<String>,
}

impl WebApp {
    /// The app built into `dir` (which holds `index.html` once it is built).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        WebApp {
            dir: dir.into(),
            sign_in_url: None,
        }
    }

    /// `WEB_DIR` (the built app, `default_dir` when unset) and `WEB_SIGN_IN_URL` (the
    /// identity provider's sign-in page, an http(s) URL); `None` when there is no directory.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        default_dir: Option<&str>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(dir) = get("WEB_DIR")
            .filter(|d| !d.is_empty())
            .or_else(|| default_dir.map(str::to_owned))
        else {
            return Ok(None);
        };
        let sign_in_url = get("WEB_SIGN_IN_URL").filter(|u| !u.is_empty());
        if let Some(url) = &sign_in_url {
            anyhow::ensure!(
                (url.starts_with("https://") || url.starts_with("http://"))
                    && !url.chars().any(|c| c.is_control() || c.is_whitespace()),
                "WEB_SIGN_IN_URL={url:?} is not an http(s) URL"
            );
        }
        Ok(Some(WebApp {
            dir: PathBuf::from(dir),
            sign_in_url,
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the app has been built into its directory.
    pub fn is_built(&self) -> bool {
        self.dir.join("index.html").is_file()
    }
}

// Another method on these paths is a 404, as on a path nobody serves, not a 405.
async fn not_found() -> ApiError {
    ApiError::NotFound
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(config).map(|route| route.fallback(not_found)))
        .route_layer(middleware::from_fn(security_headers))
}

fn pages() -> Router<AppState> {
    Router::new()
        .route("/docs", get(docs).fallback(not_found))
        .route("/docs/openapi.json", get(docs_document).fallback(not_found))
        .route("/", get(file).fallback(not_found))
        .route("/{*path}", get(file).fallback(not_found))
        .route_layer(middleware::from_fn(security_headers))
}

/// What the app reads at start.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WebConfig {
    /// Whether `POST /dev/token` signs anyone in (`todo-local` only).
    dev_sign_in: bool,
    /// The identity provider's sign-in page, which sends a person back with
    /// `#access_token=<JWT>` (`WEB_SIGN_IN_URL`).
    #[schema(required)]
    sign_in_url: Option<String>,
}

/// The web app's settings
///
/// What the web app reads at start: how people sign in where it runs.
#[utoipa::path(
    get,
    path = "/config.json",
    operation_id = "webConfig",
    security(()),
    responses(
        (status = 200, description = "The settings", body = WebConfig),
        (status = 404, description = "This server has no web app"),
    ),
)]
async fn config(
    web: Option<Extension<WebApp>>,
    dev: Option<Extension<DevSignIn>>,
) -> Result<Response, ApiError> {
    let Some(Extension(web)) = web else {
        return Err(ApiError::NotFound);
    };
    let config = WebConfig {
        dev_sign_in: dev.is_some(),
        sign_in_url: web.sign_in_url,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(config)).into_response())
}

/// The API's docs page: `docs.html` of the build (`web/docs.html`, which renders
/// `/docs/openapi.json`).
async fn docs(web: Option<Extension<WebApp>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(Extension(web)) = web else {
        return Err(ApiError::NotFound);
    };
    let page = web.dir.join("docs.html");
    if !page.is_file() {
        return Ok(not_built(&web));
    }
    send(&page, REVALIDATE, &headers).await
}

/// The whole API's OpenAPI document, for the docs page: a function's own
/// `/openapi.json` documents only its routes, and the page shows every function's.
/// `todo-local` holds it (`ApiDocument`); the `web` function serves the copy its image
/// wrote beside the app when it was built (`docs/openapi.json`, from `todo-local openapi
/// --functions`), so that its binary need not link every function to describe them.
async fn docs_document(
    document: Option<Extension<ApiDocument>>,
    web: Option<Extension<WebApp>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(Extension(document)) = document {
        let json = document.json();
        return Ok((
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, REVALIDATE),
            ],
            json.to_string(),
        )
            .into_response());
    }
    let Some(Extension(web)) = web else {
        return Err(ApiError::NotFound);
    };
    let copy = web.dir.join(DOCUMENT_COPY);
    if !copy.is_file() {
        return Err(ApiError::NotFound);
    }
    send(&copy, REVALIDATE, &headers).await
}

async fn file(
    web: Option<Extension<WebApp>>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let Some(Extension(web)) = web else {
        return Err(ApiError::NotFound);
    };
    let segments = app_path(request.uri().path()).ok_or(ApiError::NotFound)?;
    if !web.is_built() {
        return Ok(not_built(&web));
    }
    if !segments.is_empty() {
        let path = segments
            .iter()
            .fold(web.dir.clone(), |path, segment| path.join(segment));
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
            let cache = if segments.len() > 1 && segments[0] == HASHED_DIR {
                IMMUTABLE
            } else {
                REVALIDATE
            };
            return send(&path, cache, &headers).await;
        }
        if segments.last().is_some_and(|s| s.contains('.')) {
            return Err(ApiError::NotFound);
        }
    }
    send(&web.dir.join("index.html"), REVALIDATE, &headers).await
}

/// The segments of a path the app may answer, or `None` when it is not the app's: under
/// the API's or the sidecar's prefixes, or with a segment that is not a plain file name
/// (empty, a dot file, `..`, or characters a build never names a file with).
fn app_path(path: &str) -> Option<Vec<&str>> {
    let path = path.strip_prefix('/')?;
    if path.is_empty() {
        return Some(Vec::new());
    }
    let segments: Vec<&str> = path.split('/').collect();
    let plain = |s: &&str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.len() <= 255
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-~@".contains(&b))
    };
    if segments.len() > 16 || !segments.iter().all(plain) || NOT_THE_APPS.contains(&segments[0]) {
        return None;
    }
    Some(segments)
}

/// A file with its type, caching and `ETag` (its size and modification time, as static
/// file servers do), or 304 when the client has that version.
async fn send(path: &Path, cache: &'static str, request: &HeaderMap) -> Result<Response, ApiError> {
    let metadata = tokio::fs::metadata(path).await.map_err(internal)?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    let etag = format!("\"{:x}-{:x}\"", metadata.len(), modified.as_nanos());
    let etag = HeaderValue::from_str(&etag).expect("hex digits and quotes");
    let cache = HeaderValue::from_static(cache);
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if unchanged {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    let body = tokio::fs::read(path).await.map_err(internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response())
}

fn internal(e: std::io::Error) -> ApiError {
    ApiError::Internal(anyhow::Error::new(e).context("reading the web app's files"))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What `/` shows before the app is built: how to build it (the API works regardless).
fn not_built(web: &WebApp) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Todo: web app not \
         built</title><h1>The web app is not built</h1><p>There is no <code>index.html</code> \
         in <code>{}</code>. <code>scripts/run.sh</code> builds it when Node.js 20 or newer \
         is installed; or run <code>npm --prefix web ci &amp;&amp; npm --prefix web run \
         build</code>. The API works without it.</p></html>",
        html_escape(&web.dir.display().to_string())
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The headers every answer of the app carries.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_outside_the_api_are_the_apps() {
        assert_eq!(app_path("/"), Some(vec![]));
        assert_eq!(app_path("/chat"), Some(vec!["chat"]));
        assert_eq!(
            app_path("/assets/index-3f9a.js"),
            Some(vec!["assets", "index-3f9a.js"])
        );
        for path in [
            "/api/alice/tasks",
            "/api",
            "/mcp",
            "/dapr/subscribe",
            "/events/audit",
            "/job/reminder-1",
            "/reminder-cron",
            "/healthz",
            "/../etc/passwd",
            "/assets/../../secret",
            "/.env",
            "/assets/.hidden",
            "//etc",
            "/a//b",
            "/a%2F..",
            "/x\\y",
            "relative",
        ] {
            assert_eq!(app_path(path), None, "{path}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("assets/a-1.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("icon.svg")), "image/svg+xml");
        assert_eq!(
            content_type(Path::new("LICENSE")),
            "application/octet-stream"
        );
    }

    #[test]
    fn the_sign_in_url_must_be_http() {
        let env = |url: &'static str| {
            move |k: &str| match k {
                "WEB_DIR" => Some("/srv/web".to_owned()),
                "WEB_SIGN_IN_URL" => Some(url.to_owned()),
                _ => None,
            }
        };
        let web = WebApp::from_lookup(env("https://id.example/login"), None)
            .unwrap()
            .unwrap();
        assert_eq!(web.sign_in_url.as_deref(), Some("https://id.example/login"));
        assert!(WebApp::from_lookup(env("javascript:alert(1)"), None).is_err());
        assert!(WebApp::from_lookup(env("https://id.example/a b"), None).is_err());
        assert!(WebApp::from_lookup(|_| None, None).unwrap().is_none());
    }

    #[test]
    fn the_sign_in_url_counts_with_the_default_directory_too() {
        let env = |k: &str| (k == "WEB_SIGN_IN_URL").then(|| "https://id.example/login".to_owned());
        let web = WebApp::from_lookup(env, Some("web/dist")).unwrap().unwrap();
        assert_eq!(web.dir(), Path::new("web/dist"));
        assert_eq!(web.sign_in_url.as_deref(), Some("https://id.example/login"));
    }
}
