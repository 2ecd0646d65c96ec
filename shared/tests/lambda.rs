//! The Lambda path of `shared::harness::run` (`lambda_http::run(app)`): an API Gateway HTTP
//! API (v2) event is deserialized into `LambdaRequest`, converted into a `lambda_http::Request`
//! and answered by the same router.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt as _;
use lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::{json, Value};

/// An API Gateway HTTP API (payload format 2.0) event.
fn apigw_v2_event(
    method: &str,
    path: &str,
    query: &str,
    token: &str,
    body: Option<(&str, bool)>,
) -> Value {
    let mut headers = json!({
        "authorization": format!("Bearer {token}"),
        "host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "user-agent": "integration-test",
        "x-forwarded-proto": "https",
    });
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "integration-test"
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2026:19:03:58 +0000",
            "timeEpoch": 1_773_342_238_000_i64
        },
        "body": body.map(|(b, _)| b),
        "isBase64Encoded": body.is_some_and(|(_, b64)| b64),
    })
}

fn lambda_request(event: Value) -> lambda_http::Request {
    let request: LambdaRequest = serde_json::from_value(event).expect("an API Gateway v2 event");
    assert!(
        matches!(request, LambdaRequest::ApiGatewayV2(_)),
        "parsed as an HTTP API (v2) event"
    );
    request.into()
}

async fn body_json(body: axum::body::Body) -> Value {
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
}

#[tokio::test]
async fn create_and_get_through_an_api_gateway_v2_event() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let token = app.token(&user);

    let create = apigw_v2_event(
        "POST",
        &format!("/api/{user}/tasks"),
        "",
        &token,
        Some((
            r#"{"title":"from lambda","tags":["Cloud"],"priority":"urgent"}"#,
            false,
        )),
    );
    let response = app
        .router
        .clone()
        .oneshot(lambda_request(create))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let task = body_json(response.into_body()).await;
    assert_eq!(
        (&task["title"], &task["tags"], &task["priority"]),
        (&json!("from lambda"), &json!(["cloud"]), &json!("P1"))
    );
    let id = task["id"].as_str().unwrap();

    let get = apigw_v2_event("GET", &format!("/api/{user}/tasks/{id}"), "", &token, None);
    let response = app
        .router
        .clone()
        .oneshot(lambda_request(get))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response.into_body()).await, task);

    // The raw query string reaches the list parser.
    let list = apigw_v2_event(
        "GET",
        &format!("/api/{user}/tasks"),
        "tag=cloud&priority=P1%2CP2&search=lambda",
        &token,
        None,
    );
    let response = app
        .router
        .clone()
        .oneshot(lambda_request(list))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = body_json(response.into_body()).await;
    assert_eq!(page["total_count"], 1);
    assert_eq!(page["items"][0]["id"], task["id"]);
}

/// The whole Lambda adapter, as `lambda_http::run` uses it: event in, API Gateway v2
/// response JSON out (statusCode, headers, body).
#[tokio::test]
async fn the_lambda_adapter_answers_api_gateway_v2_responses() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let token = app.token(&user);
    let invoke = |event: Value| {
        let router = app.router.clone();
        async move {
            let payload: LambdaRequest = serde_json::from_value(event).unwrap();
            let response = Adapter::from(router)
                .oneshot(LambdaEvent::new(payload, Context::default()))
                .await
                .expect("the router is infallible");
            serde_json::to_value(&response).unwrap()
        }
    };

    // A base64-encoded body, as API Gateway sends for binary media types.
    let encoded = base64_encode(br#"{"title":"encoded body"}"#);
    let created = invoke(apigw_v2_event(
        "POST",
        &format!("/api/{user}/tasks"),
        "",
        &token,
        Some((&encoded, true)),
    ))
    .await;
    assert_eq!(created["statusCode"], 201, "{created}");
    assert_eq!(created["isBase64Encoded"], false, "JSON answers are text");
    assert!(created["headers"]["content-type"]
        .as_str()
        .unwrap()
        .starts_with("application/json"));
    let task: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    assert_eq!(task["title"], "encoded body");

    // Errors keep their status and JSON shape through the adapter.
    let missing = invoke(apigw_v2_event(
        "GET",
        &format!("/api/{user}/tasks/{}", uuid::Uuid::new_v4()),
        "",
        &token,
        None,
    ))
    .await;
    assert_eq!(missing["statusCode"], 404);
    let err: Value = serde_json::from_str(missing["body"].as_str().unwrap()).unwrap();
    common::assert_error(&err, "not_found", None);

    let forbidden = invoke(apigw_v2_event(
        "GET",
        &format!("/api/{}/tasks", TestApp::user()),
        "",
        &token,
        None,
    ))
    .await;
    assert_eq!(forbidden["statusCode"], 403);

    let deleted = invoke(apigw_v2_event(
        "DELETE",
        &format!("/api/{user}/tasks/{}", task["id"].as_str().unwrap()),
        "",
        &token,
        None,
    ))
    .await;
    assert_eq!(deleted["statusCode"], 204);
    let (status, _) = app.get(&user, task["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}
