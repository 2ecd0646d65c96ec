//! Every auth rule on every endpoint: 401 for a missing or bad token, 403 for a token of
//! another user, 404 for another user's task or a non-UUID id.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{assert_error, TestApp};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use shared::config::{Secret, SidecarAccess};

/// Every endpoint as (method, path, body) for `user` and task `id`.
fn endpoints(user: &str, id: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        (
            "POST",
            format!("/api/{user}/tasks"),
            Some(json!({"title": "x"})),
        ),
        ("GET", format!("/api/{user}/tasks"), None),
        ("GET", format!("/api/{user}/tasks/{id}"), None),
        (
            "PUT",
            format!("/api/{user}/tasks/{id}"),
            Some(json!({"title": "hijacked"})),
        ),
        (
            "PATCH",
            format!("/api/{user}/tasks/{id}"),
            Some(json!({"title": "hijacked"})),
        ),
        ("DELETE", format!("/api/{user}/tasks/{id}"), None),
        ("PATCH", format!("/api/{user}/tasks/{id}/complete"), None),
        ("POST", format!("/api/{user}/tasks/{id}/complete"), None),
    ]
}

fn request(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    match body {
        Some(json) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

fn sign(claims: Value, secret: &[u8], alg: Algorithm) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The task must be exactly as it was: nothing another request did reached it.
async fn assert_untouched(app: &TestApp, user: &str, task: &Value) {
    let (status, got) = app.get(user, task["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the task still exists");
    assert_eq!(&got, task, "the task is unchanged");
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "mine"})).await;
    let id = task["id"].as_str().unwrap();
    let valid = app.token(&user);
    let other_secret = common::SECRET.iter().rev().copied().collect::<Vec<u8>>();

    let signature_tampered = {
        let (signed, signature) = valid.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        format!("{signed}.{first}{}", &signature[1..])
    };
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","typ":"JWT"}"#),
        base64_url(&json!({"sub": user, "exp": now() + 3600}).to_string())
    );

    let bad: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty header", Some(String::new())),
        ("scheme only", Some("Bearer".into())),
        ("scheme and blanks", Some("Bearer    ".into())),
        ("token without scheme", Some(valid.clone())),
        ("wrong scheme", Some(format!("Basic {valid}"))),
        ("basic auth", Some("Basic dXNlcjpwYXNz".into())),
        ("token scheme", Some(format!("Token {valid}"))),
        ("garbage token", Some("Bearer not.a.jwt".into())),
        ("not a jwt", Some("Bearer abc".into())),
        (
            "bad signature",
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"sub": user, "exp": now() + 3600}),
                    &other_secret,
                    Algorithm::HS256
                )
            )),
        ),
        (
            "tampered signature",
            Some(format!("Bearer {signature_tampered}")),
        ),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        (
            "other algorithm",
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"sub": user, "exp": now() + 3600}),
                    common::SECRET,
                    Algorithm::HS512
                )
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                app.auth.issue(&user, chrono::Duration::hours(-1))
            )),
        ),
        (
            "expired beyond leeway",
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"sub": user, "exp": now() - 120}),
                    common::SECRET,
                    Algorithm::HS256
                )
            )),
        ),
        (
            "no exp",
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": user}), common::SECRET, Algorithm::HS256)
            )),
        ),
        (
            "no sub",
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"exp": now() + 3600}),
                    common::SECRET,
                    Algorithm::HS256
                )
            )),
        ),
        (
            "empty sub",
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"sub": "", "exp": now() + 3600}),
                    common::SECRET,
                    Algorithm::HS256
                )
            )),
        ),
    ];

    for (method, path, body) in endpoints(&user, id) {
        for (why, authorization) in &bad {
            let (status, headers, err) = app
                .send(request(method, &path, authorization.as_deref(), &body))
                .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{why}: {method} {path}: {err}"
            );
            assert_error(&err, "unauthorized", None);
            assert_eq!(
                headers
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.to_str().unwrap()),
                Some("Bearer"),
                "{why}"
            );
        }
    }
    assert_untouched(&app, &user, &task).await;
    assert_eq!(
        app.list(&user, "").await["total_count"],
        1,
        "no unauthenticated create got through"
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let token = app.token(&user);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let (status, headers, body) = app
            .send(request(
                "GET",
                &format!("/api/{user}/tasks"),
                Some(&format!("{scheme} {token}")),
                &None,
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
        assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
    }
}

/// Two credentials would leave which one acts to the order of the headers.
#[tokio::test]
async fn two_authorization_headers_are_401() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let mut two = request(
        "GET",
        &format!("/api/{user}/tasks"),
        Some(&format!("Bearer {}", app.token(&user))),
        &None,
    );
    let other = format!("Bearer {}", app.token(&TestApp::user()));
    two.headers_mut()
        .append(header::AUTHORIZATION, other.parse().unwrap());
    let (status, _, body) = app.send(two).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("one Authorization header"));
}

#[tokio::test]
async fn a_token_for_another_user_is_403_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let (alice, mallory) = (TestApp::user(), TestApp::user());
    let task = app.create(&alice, json!({"title": "alice's"})).await;
    let mallory_token = format!("Bearer {}", app.token(&mallory));
    let ids = [
        task["id"].as_str().unwrap().to_owned(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
    ];
    for id in &ids {
        for (method, path, body) in endpoints(&alice, id) {
            let (status, _, err) = app
                .send(request(method, &path, Some(&mallory_token), &body))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {err}");
            assert_error(&err, "forbidden", None);
        }
    }
    assert_untouched(&app, &alice, &task).await;
    assert_eq!(app.list(&alice, "").await["total_count"], 1);
    assert_eq!(app.list(&mallory, "").await["total_count"], 0);
}

#[tokio::test]
async fn another_users_task_id_is_404_on_its_own_routes() {
    let app = TestApp::spawn().await;
    let (alice, mallory) = (TestApp::user(), TestApp::user());
    let task = app
        .create(&alice, json!({"title": "alice's", "tags": ["secret"]}))
        .await;
    let id = task["id"].as_str().unwrap();
    for (method, path, body) in endpoints(&mallory, id) {
        if path.ends_with("/tasks") {
            continue; // create and list name no task
        }
        let (status, err) = app.call(&mallory, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {err}");
        assert_error(&err, "not_found", None);
    }
    assert_untouched(&app, &alice, &task).await;
    // Mallory's list and search do not see it either.
    assert_eq!(app.list(&mallory, "search=alice").await["total_count"], 0);
    assert_eq!(app.list(&mallory, "tag=secret").await["total_count"], 0);
}

#[tokio::test]
async fn a_non_uuid_id_is_404() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for id in [
        "not-a-uuid",
        "1",
        "%20",
        "00000000-0000-0000-0000-0000000000zz",
    ] {
        for (method, path, body) in endpoints(&user, id) {
            if path.ends_with("/tasks") {
                continue;
            }
            let (status, err) = app.call(&user, method, &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {err}");
            assert_error(&err, "not_found", None);
        }
    }
}

/// Unpadded base64url, as JWTs use.
fn base64_url(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The sidecar routes of every function, each with a body that reaches its handler.
const SIDECAR_ROUTES: [(&str, &str); 8] = [
    ("POST", "/events/reminder-jobs"),
    ("POST", "/events/on-completed"),
    ("POST", "/events/audit"),
    ("POST", "/events/realtime"),
    ("POST", "/events/notify"),
    ("POST", "/job/reminder-00000000-0000-0000-0000-000000000000"),
    ("GET", "/dapr/subscribe"),
    ("POST", "/reminder-cron"),
];

async fn sidecar_call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let event = json!({"specversion": "1.0", "id": "1", "data": {"nope": 1}}).to_string();
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/cloudevents+json");
    if let Some(token) = token {
        request = request.header("dapr-api-token", token);
    }
    let (status, _, body) = app.send(request.body(Body::from(event)).unwrap()).await;
    (status, body)
}

/// Every function with `access` to their sidecar routes.
fn app_with(access: SidecarAccess, db: common::Db) -> TestApp {
    TestApp::with_state(
        db,
        std::sync::Arc::new(shared::events::publisher::NoPublisher),
        shared::handlers::ALL,
        |state| state.sidecar_access = std::sync::Arc::new(access),
    )
}

#[tokio::test]
async fn with_an_app_api_token_only_the_sidecar_reaches_its_routes() {
    let _turn = common::global_turn().await; // it ticks
    let app = app_with(
        SidecarAccess::Token(Secret::new("sidecar-token")),
        common::Db::open(2).await,
    );
    for (method, path) in SIDECAR_ROUTES {
        for token in [None, Some("wrong"), Some("sidecar-tokens"), Some("")] {
            let (status, body) = sidecar_call(&app, method, path, token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_error(&body, "unauthorized", None);
        }
        let (status, body) = sidecar_call(&app, method, path, Some("sidecar-token")).await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
    }
    // The public API and the probes do not need it.
    let user = TestApp::user();
    let (status, _) = app
        .call(&user, "GET", &format!("/api/{user}/tasks"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.request("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    // A path that is no route is still a 404, token or not.
    let (status, body) = sidecar_call(&app, "POST", "/events/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
}

#[tokio::test]
async fn without_a_token_the_sidecar_routes_are_closed_unless_opened_explicitly() {
    let _turn = common::global_turn().await; // it ticks
    let db = common::Db::open(2).await;
    let closed = app_with(SidecarAccess::Closed, db.clone());
    let open = app_with(SidecarAccess::Open, db);
    for (method, path) in SIDECAR_ROUTES {
        for token in [None, Some("anything")] {
            let (status, body) = sidecar_call(&closed, method, path, token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_error(&body, "unauthorized", None);
        }
        let (status, body) = sidecar_call(&open, method, path, None).await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
    }
}
