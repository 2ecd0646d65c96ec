//! The web app's serving (`web` function, and `todo-local` at `/`), its `config.json`, and
//! `todo-local`'s development sign-in, which no function binary has.

mod common;

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::{Extension, Router};
use common::{assert_error, TestApp};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::handlers::dev_sign_in::DevSignIn;
use shared::handlers::web::{self, WebApp, CONTENT_SECURITY_POLICY};
use tower::ServiceExt;

const INDEX: &str = "<!doctype html><title>Todo</title><div id=app></div>";
const SCRIPT: &str = "console.log('app')";

/// A built app, as Vite leaves it: `index.html`, hashed files under `assets/`, others.
fn built_app() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("todo-web-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("assets/index-3f9a1c.js"), SCRIPT).unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
    dir
}

async fn get(
    router: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn assert_app_headers(headers: &HeaderMap) {
    assert_eq!(
        header(headers, "content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(header(headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(headers, "referrer-policy"), "no-referrer");
    assert_eq!(header(headers, "x-frame-options"), "DENY");
}

/// The `web` function as its binary serves it, with the app in `dir`.
async fn web_function(dir: &std::path::Path) -> TestApp {
    serving(&[("WEB_DIR", &dir.display().to_string())]).await
}

/// The `web` function set up as its binary does (`harness::run`), in the environment `env`.
async fn serving(env: &[(&str, &str)]) -> TestApp {
    let mut app = TestApp::with_state(
        common::Db::open(2).await,
        std::sync::Arc::new(shared::events::publisher::NoPublisher),
        &[&web::FUNCTION],
        |_| {},
    );
    let lookup = |k: &str| {
        env.iter()
            .chain(&[
                ("DATABASE_URL", "postgres://unused"),
                ("JWT_SECRET", "unused"),
            ])
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    };
    let config = shared::config::Config::from_lookup(lookup).unwrap();
    let state = app.state.clone().unwrap();
    app.router = (web::FUNCTION.setup)(&config, &lookup, &state, app.router).unwrap();
    app
}

#[tokio::test]
async fn the_web_function_serves_the_built_app_with_its_headers() {
    let dir = built_app();
    let app = web_function(&dir).await;

    let (status, headers, body) = get(&app.router, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, INDEX);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&headers, "cache-control"), "no-cache");
    assert_app_headers(&headers);
    let etag = header(&headers, "etag").to_owned();
    assert!(etag.starts_with('"'), "{etag}");

    // Revalidation: the same version is a 304 without a body.
    let (status, headers, body) = get(&app.router, "/", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&headers, "etag"), etag);

    // Hashed build output is cached for good.
    let (status, headers, body) = get(&app.router, "/assets/index-3f9a1c.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, SCRIPT);
    assert_eq!(
        header(&headers, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let (_, headers, _) = get(&app.router, "/favicon.svg", &[]).await;
    assert_eq!(header(&headers, "content-type"), "image/svg+xml");
    assert_eq!(header(&headers, "cache-control"), "no-cache");

    // The app's own routes open the app.
    for path in ["/chat", "/settings", "/tasks/5f1c"] {
        let (status, headers, body) = get(&app.router, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX, "{path}");
        assert_app_headers(&headers);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn what_is_not_a_file_of_the_app_is_a_json_404() {
    let dir = built_app();
    std::fs::write(dir.join(".env"), "SECRET=1").unwrap();
    let outside = dir.with_extension("outside");
    std::fs::write(&outside, "outside").unwrap();
    let app = web_function(&dir).await;
    let outside_name = outside.file_name().unwrap().to_str().unwrap();
    for path in [
        "/assets/missing-1234.js".to_owned(),
        "/missing.png".to_owned(),
        "/.env".to_owned(),
        format!("/../{outside_name}"),
        format!("/assets/../../{outside_name}"),
        "/assets/%2e%2e/index.html".to_owned(),
        "/api/alice/tasks/x/y".to_owned(),
        "/api".to_owned(),
        "/mcp/x".to_owned(),
    ] {
        let (status, _, body) = get(&app.router, &path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_error(&body, "not_found", None);
    }
    // Another method on the app's paths is a 404 too.
    for (method, path) in [("POST", "/"), ("DELETE", "/chat")] {
        let (status, body) = app.request(method, path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_error(&body, "not_found", None);
    }
    // todo-local serves no sidecar route: those paths stay 404s, whatever the method.
    let mut local = TestApp::local(|_| {}).await;
    local.router = local.router.layer(Extension(WebApp::new(&dir)));
    for (method, path) in [
        ("GET", "/dapr/subscribe"),
        ("POST", "/events/audit"),
        ("GET", "/events/audit"),
        ("POST", "/reminder-cron"),
        ("GET", "/job/reminder-1"),
    ] {
        let (status, body) = local.request(method, path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_error(&body, "not_found", None);
    }
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_file(outside).unwrap();
}

#[tokio::test]
async fn before_the_app_is_built_it_says_how_to_build_it() {
    let dir = std::env::temp_dir().join(format!("todo-web-none-{}", uuid::Uuid::new_v4()));
    let app = web_function(&dir).await;
    for path in ["/", "/chat"] {
        let (status, headers, body) = get(&app.router, path, &[]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(
            body.contains("not built") && body.contains("scripts/run.sh"),
            "{body}"
        );
        assert_app_headers(&headers);
    }
}

#[tokio::test]
async fn todo_local_serves_the_app_at_the_root_and_the_api_keeps_its_routes() {
    let dir = built_app();
    let mut app = TestApp::local(|_| {}).await;
    app.router = app.router.layer(Extension(WebApp::new(&dir)));
    let user = TestApp::user();

    let (status, _, body) = get(&app.router, "/", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, INDEX));
    app.create(&user, json!({"title": "still the API"})).await;
    assert_eq!(app.list(&user, "").await["total_count"], 1);
    let (status, _, body) = get(&app.router, "/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An API path nobody serves is the API's 404, not the app.
    let (status, body) = app
        .call(&user, "GET", &format!("/api/{user}/nothing"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn function_binaries_without_the_app_answer_404_as_before() {
    // Every function binary hosts nothing at `/` unless WEB_DIR is set (the web function).
    let app = TestApp::spawn().await;
    for path in ["/", "/chat", "/config.json"] {
        let (status, body) = app.request("GET", path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_error(&body, "not_found", None);
    }
}

#[tokio::test]
async fn config_says_how_people_sign_in() {
    let dir = built_app();
    let app = serving(&[
        ("WEB_DIR", &dir.display().to_string()),
        (
            "WEB_SIGN_IN_URL",
            "https://id.example/authorize?client_id=todo",
        ),
    ])
    .await;
    let (status, headers, body) = get(&app.router, "/config.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"dev_sign_in": false, "sign_in_url": "https://id.example/authorize?client_id=todo"})
    );

    let mut local = TestApp::local(|_| {}).await;
    local.router = local
        .router
        .layer(Extension(WebApp::new(&dir)))
        .layer(Extension(DevSignIn));
    let (_, _, body) = get(&local.router, "/config.json", &[]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"dev_sign_in": true, "sign_in_url": null})
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_development_sign_in_issues_a_token_for_the_name_given() {
    let mut app = TestApp::local(|_| {}).await;
    app.router = app.router.layer(Extension(DevSignIn));
    let user = TestApp::user();
    let (status, answer) = app
        .request("POST", "/dev/token", None, Some(json!({"user_id": user})))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["user_id"], user.as_str());
    let expires = common::time(&answer["expires_at"]).unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");
    let token = answer["token"].as_str().unwrap();
    let (status, page) = app
        .request("GET", &format!("/api/{user}/tasks"), Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The token is that user's only.
    let other = TestApp::user();
    let (status, _) = app
        .request("GET", &format!("/api/{other}/tasks"), Some(token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    for body in [
        json!({}),
        json!({"user_id": ""}),
        json!({"user_id": "a\u{7}b"}),
        json!({"user_id": "x".repeat(256)}),
    ] {
        let (status, error) = app.request("POST", "/dev/token", None, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_error(&error, "validation_failed", Some("user_id"));
    }
    let (status, error) = app
        .request(
            "POST",
            "/dev/token",
            None,
            Some(json!({"user_id": "a", "admin": true})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
}

#[tokio::test]
async fn the_development_sign_in_is_off_unless_todo_local_turns_it_on() {
    let app = TestApp::local(|_| {}).await;
    let (status, error) = app
        .request(
            "POST",
            "/dev/token",
            None,
            Some(json!({"user_id": "alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&error, "not_found", None);
}

#[tokio::test]
async fn no_function_binary_issues_tokens() {
    // Even with the switch on, no function binary has the route: each serves exactly what
    // `harness::run` serves for it.
    let db = common::Db::open(2).await;
    for function in shared::handlers::ALL {
        let state = shared::harness::state(
            db.store.clone(),
            shared::http::Authenticator::hs256(common::SECRET),
            std::sync::Arc::new(shared::events::publisher::NoPublisher),
        );
        let router = shared::http::app(&[function], state)
            .layer(Extension(DevSignIn))
            .layer(Extension(WebApp::new(built_app())));
        let response = router
            .oneshot(
                Request::post("/dev/token")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({"user_id": "alice"}).to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{} issues tokens",
            function.name
        );
    }
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_build_with_the_whole_apis_document() {
    const DOCS: &str = "<!doctype html><title>Todo API</title><div id=docs></div>";
    let dir = built_app();
    let app = web_function(&dir).await;

    // Built before docs.html existed: it says how to build it, as `/` does unbuilt.
    let (status, _, body) = get(&app.router, "/docs", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("not built"), "{body}");

    std::fs::write(dir.join("docs.html"), DOCS).unwrap();
    let (status, headers, body) = get(&app.router, "/docs", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, DOCS);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_app_headers(&headers);

    // The whole API's document is the copy the image writes beside the app; without one
    // there is none to show.
    let (status, _, body) = get(&app.router, "/docs/openapi.json", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let copy = dir.join(web::DOCUMENT_COPY);
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let document = shared::http::document(shared::handlers::ALL);
    std::fs::write(&copy, shared::http::openapi::to_json(&document, true)).unwrap();
    let (status, headers, body) = get(&app.router, "/docs/openapi.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_app_headers(&headers);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/{user_id}/tasks"]["post"].is_object());

    // Another method is a 404, as on the app's other pages.
    let response = app
        .router
        .clone()
        .oneshot(Request::post("/docs").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A page whose name is re-pointed at this machine (DNS rebinding) must not get a token:
/// its requests carry its own name as `Host`.
#[tokio::test]
async fn the_development_sign_in_answers_only_for_the_allowed_host_names() {
    let mut app = TestApp::local(|state| {
        state.mcp_allowed_hosts = vec!["localhost".to_string(), "todo.lan:8080".to_string()].into();
    })
    .await;
    app.router = app.router.layer(Extension(DevSignIn));
    let sign_in = |host: &str| {
        Request::post("/dev/token")
            .header("host", host)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"user_id":"alice"}"#))
            .unwrap()
    };
    for host in ["localhost:8080", "LOCALHOST", "todo.lan:8080"] {
        let (status, _, answer) = app.send(sign_in(host)).await;
        assert_eq!(status, StatusCode::OK, "{host}: {answer}");
    }
    for host in [
        "attacker.example",
        "attacker.example:8080",
        "todo.lan:9090",
        "todo.lan",
        "a b",
    ] {
        let (status, _, error) = app.send(sign_in(host)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}: {error}");
        assert_error(&error, "forbidden", None);
        assert!(error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MCP_ALLOWED_HOSTS"));
    }
}
