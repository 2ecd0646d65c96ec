//! Every client error answers 4xx in the one error shape `{"error":{"code","message","field"}}`,
//! naming the offending field where there is one.

mod common;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use common::{assert_error, TestApp};
use serde_json::{json, Value};

fn assert_json(headers: &HeaderMap) {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        ct.as_deref()
            .is_some_and(|c| c.starts_with("application/json")),
        "content-type {ct:?}"
    );
}

/// POSTs `raw` as a create body with `content_type`.
async fn post_raw(
    app: &TestApp,
    user: &str,
    content_type: Option<&str>,
    raw: impl Into<Body>,
) -> (StatusCode, HeaderMap, Value) {
    let mut builder = Request::post(format!("/api/{user}/tasks"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.token(user)));
    if let Some(ct) = content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    app.send(builder.body(raw.into()).unwrap()).await
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for raw in [
        "{",
        "{\"title\": }",
        "title=x",
        "",
        "{\"title\": \"x\",}",
        "{'title': 'x'}",
    ] {
        let (status, headers, body) = post_raw(&app, &user, Some("application/json"), raw).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw:?}: {body}");
        assert_error(&body, "bad_request", None);
        assert_json(&headers);
    }
    assert_eq!(app.list(&user, "").await["total_count"], 0);
}

#[tokio::test]
async fn trailing_data_after_the_json_value_is_400() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for raw in [
        r#"{"title": "x"} trailing"#,
        r#"{"title": "x"}{"title": "y"}"#,
    ] {
        let (status, _, body) = post_raw(&app, &user, Some("application/json"), raw).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw:?}: {body}");
        assert_error(&body, "bad_request", None);
    }
    assert_eq!(
        app.list(&user, "").await["total_count"],
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn create_validation_errors_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let due = "2030-01-01T00:00:00Z";
    let cases: Vec<(Value, &str)> = vec![
        // unknown fields
        (json!({"title": "x", "colour": "red"}), "colour"),
        (json!({"title": "x", "due_date": due}), "due_date"),
        (json!({"title": "x", "id": uuid::Uuid::new_v4()}), "id"),
        // wrong types
        (json!({"title": 5}), "title"),
        (json!({"title": ["x"]}), "title"),
        (json!({"title": "x", "description": 5}), "description"),
        (json!({"title": "x", "tags": "work"}), "tags"),
        (json!({"title": "x", "tags": [1]}), "tags[0]"),
        (json!({"title": "x", "due_at": 5}), "due_at"),
        (
            json!({"title": "x", "due_at": due, "reminder_minutes": "ten"}),
            "reminder_minutes",
        ),
        (
            json!({"title": "x", "due_at": due, "reminder_minutes": 1.5}),
            "reminder_minutes",
        ),
        (json!({"title": "x", "completed": "no"}), "completed"),
        // title
        (json!({}), "title"),
        (json!({"description": "no title"}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(501)}), "title"),
        (json!({"title": "é".repeat(501)}), "title"),
        // description
        (
            json!({"title": "x", "description": "d".repeat(10_001)}),
            "description",
        ),
        // due_at
        (json!({"title": "x", "due_at": "next week"}), "due_at"),
        (json!({"title": "x", "due_at": "2030-01-01"}), "due_at"),
        (
            json!({"title": "x", "due_at": "2030-02-30T00:00:00Z"}),
            "due_at",
        ),
        (json!({"title": "x", "due_at": ""}), "due_at"),
        // priority
        (json!({"title": "x", "priority": "P5"}), "priority"),
        (json!({"title": "x", "priority": "P0"}), "priority"),
        (json!({"title": "x", "priority": "critical"}), "priority"),
        (json!({"title": "x", "priority": ""}), "priority"),
        (json!({"title": "x", "priority": 0}), "priority"),
        (json!({"title": "x", "priority": 5}), "priority"),
        (json!({"title": "x", "priority": true}), "priority"),
        (json!({"title": "x", "priority": ["P1"]}), "priority"),
        // reminder
        (
            json!({"title": "x", "reminder_minutes": 10}),
            "reminder_minutes",
        ),
        (
            json!({"title": "x", "due_at": due, "reminder_minutes": -1}),
            "reminder_minutes",
        ),
        (
            json!({"title": "x", "due_at": due, "reminder_minutes": 525_601}),
            "reminder_minutes",
        ),
        // recurrence
        (
            json!({"title": "x", "recurrence": "sometimes"}),
            "recurrence",
        ),
        (
            json!({"title": "x", "recurrence": "every 0 days"}),
            "recurrence",
        ),
        (
            json!({"title": "x", "recurrence": "every blursday"}),
            "recurrence",
        ),
        (
            json!({"title": "x", "recurrence": "FREQ=HOURLY"}),
            "recurrence",
        ),
        (
            json!({"title": "x", "recurrence": "RRULE:FREQ=DAILY;BYMONTHDAY=40"}),
            "recurrence",
        ),
        (json!({"title": "x", "recurrence": ""}), "recurrence"),
        // timezone
        (
            json!({"title": "x", "timezone": "Nowhere/Else"}),
            "timezone",
        ),
        (json!({"title": "x", "timezone": ""}), "timezone"),
        // tags
        (json!({"title": "x", "tags": [""]}), "tags"),
        (json!({"title": "x", "tags": ["a,b"]}), "tags"),
    ];
    for (input, field) in cases {
        let (status, headers, body) =
            post_raw(&app, &user, Some("application/json"), input.to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{input}: {body}");
        assert_error(&body, "validation_failed", Some(field));
        assert_json(&headers);
    }
    assert_eq!(
        app.list(&user, "").await["total_count"],
        0,
        "nothing was created"
    );
}

/// A task is a JSON object: an array (which serde would read positionally), a string, a
/// number or null is refused as a whole, naming the body.
#[tokio::test]
async fn the_body_must_be_a_json_object() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for input in [
        json!([]),
        json!(["Buy milk"]),
        json!(["Buy milk", "from the shop"]),
        json!("x"),
        json!(5),
        json!(null),
    ] {
        let (status, _, body) =
            post_raw(&app, &user, Some("application/json"), input.to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{input}: {body}");
        assert_error(&body, "validation_failed", Some("body"));
    }
    assert_eq!(
        app.list(&user, "").await["total_count"],
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn list_query_errors_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for (query, field) in [
        ("page_size=101", "page_size"),
        ("sort_by=colour", "sort_by"),
        ("sort_by=id", "sort_by"),
        ("sort_by=title%3Bdrop%20table%20tasks", "sort_by"),
        ("colour=red", "colour"),
        ("due_before=yesterday", "due_before"),
        ("overdue=yes", "overdue"),
    ] {
        let (status, body) = app
            .call(&user, "GET", &format!("/api/{user}/tasks?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "?{query}: {body}");
        assert_error(&body, "bad_request", Some(field));
    }
}

#[tokio::test]
async fn content_type_must_be_json() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let body = r#"{"title": "x"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
        // JSON is UTF-8 (RFC 8259): a body said to be in another charset is not read as one.
        Some("application/json; charset=latin1"),
        Some("application/json; charset=\"utf-16\""),
    ] {
        let (status, headers, err) = post_raw(&app, &user, ct, body).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}: {err}");
        assert_error(&err, "unsupported_media_type", None);
        assert_json(&headers);
    }
    // JSON with parameters or a +json suffix is fine.
    for ct in [
        "application/json; charset=utf-8",
        "application/json; charset=\"UTF-8\"",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let (status, _, task) = post_raw(&app, &user, Some(ct), body).await;
        assert_eq!(status, StatusCode::CREATED, "{ct}: {task}");
    }
    // A compressed body is not read as if it were plain.
    let token = format!("Bearer {}", app.token(&user));
    for (encoding, expected) in [
        ("gzip", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("identity", StatusCode::CREATED),
    ] {
        let request = Request::post(format!("/api/{user}/tasks"))
            .header(header::AUTHORIZATION, &token)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_ENCODING, encoding)
            .body(Body::from(body))
            .unwrap();
        let (status, _, answer) = app.send(request).await;
        assert_eq!(status, expected, "{encoding}: {answer}");
    }
    // Update checks it too.
    let task = app.create(&user, json!({"title": "t"})).await;
    let request = Request::patch(format!(
        "/api/{user}/tasks/{}",
        task["id"].as_str().unwrap()
    ))
    .header(
        header::AUTHORIZATION,
        format!("Bearer {}", app.token(&user)),
    )
    .body(Body::from(r#"{"title": "y"}"#))
    .unwrap();
    let (status, _, err) = app.send(request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&err, "unsupported_media_type", None);
    // Completion's body is optional, but one that is there must be JSON.
    let complete = |content_type: Option<&'static str>, raw: &'static str| {
        let mut builder = Request::patch(format!(
            "/api/{user}/tasks/{}/complete",
            task["id"].as_str().unwrap()
        ))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.token(&user)),
        );
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(raw)).unwrap()
    };
    for (content_type, raw, expected) in [
        (
            Some("text/plain"),
            r#"{"completed": true}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "completed=true",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            None,
            r#"{"completed": true}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (Some("text/plain"), "", StatusCode::OK),
        (
            Some("application/json"),
            r#"{"completed": true}"#,
            StatusCode::OK,
        ),
    ] {
        let (status, _, answer) = app.send(complete(content_type, raw)).await;
        assert_eq!(status, expected, "{content_type:?} {raw}: {answer}");
    }
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_on_every_endpoint_with_a_body() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "t"})).await;
    let id = task["id"].as_str().unwrap();
    let big = json!({"title": "x", "description": "d".repeat(70 * 1024)}).to_string();
    let token = format!("Bearer {}", app.token(&user));
    for (method, path) in [
        ("POST", format!("/api/{user}/tasks")),
        ("PUT", format!("/api/{user}/tasks/{id}")),
        ("PATCH", format!("/api/{user}/tasks/{id}")),
        ("PATCH", format!("/api/{user}/tasks/{id}/complete")),
    ] {
        for with_length in [true, false] {
            let mut builder = Request::builder()
                .method(method)
                .uri(&path)
                .header(header::AUTHORIZATION, &token)
                .header(header::CONTENT_TYPE, "application/json");
            if with_length {
                builder = builder.header(header::CONTENT_LENGTH, big.len());
            }
            let response = tower::ServiceExt::oneshot(
                app.router.clone(),
                builder.body(Body::from(big.clone())).unwrap(),
            )
            .await
            .unwrap();
            let status = response.status();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{method} {path}: 413 body is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            assert_eq!(
                status,
                StatusCode::PAYLOAD_TOO_LARGE,
                "{method} {path}: {body}"
            );
            assert_error(&body, "payload_too_large", None);
        }
    }
    let (_, unchanged) = app.get(&user, id).await;
    assert_eq!(unchanged, task);
    // Just under the limit is read (and then validated: the description is too long).
    let near = json!({"title": "x", "description": "d".repeat(60 * 1024)}).to_string();
    let (status, _, err) = post_raw(&app, &user, Some("application/json"), near).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&err, "validation_failed", Some("description"));
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let id = uuid::Uuid::new_v4();
    for (method, path) in [
        ("GET", "/".to_owned()),
        ("GET", "/nope".to_owned()),
        ("GET", "/api".to_owned()),
        ("GET", format!("/api/{user}")),
        ("GET", format!("/api/{user}/task")),
        ("GET", format!("/api/{user}/tasks/{id}/extra")),
        ("POST", format!("/api/{user}/tasks/{id}/complete/now")),
        ("GET", format!("/v1/{user}/tasks")),
    ] {
        let (status, err) = app.call(&user, method, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {err}");
        assert_error(&err, "not_found", None);
    }
    // Without a token too: an unknown route is not an auth question.
    let (status, err) = app.request("GET", "/nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&err, "not_found", None);
}

#[tokio::test]
async fn wrong_methods_are_405_json() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let id = uuid::Uuid::new_v4();
    for (method, path) in [
        ("DELETE", format!("/api/{user}/tasks")),
        ("PUT", format!("/api/{user}/tasks")),
        ("PATCH", format!("/api/{user}/tasks")),
        ("POST", format!("/api/{user}/tasks/{id}")),
        ("GET", format!("/api/{user}/tasks/{id}/complete")),
        ("DELETE", format!("/api/{user}/tasks/{id}/complete")),
        ("POST", "/healthz".to_owned()),
        ("DELETE", "/readyz".to_owned()),
    ] {
        let (status, headers, err) = app
            .send(
                Request::builder()
                    .method(method)
                    .uri(&path)
                    .header(
                        header::AUTHORIZATION,
                        format!("Bearer {}", app.token(&user)),
                    )
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {err}"
        );
        assert_error(&err, "method_not_allowed", None);
        assert_json(&headers);
    }
}

#[tokio::test]
async fn every_route_refuses_a_query_parameter_it_does_not_take() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let doc = serde_json::to_value(shared::http::document(shared::handlers::ALL)).unwrap();
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{user_id}", &user)
            .replace("{id}", &uuid::Uuid::new_v4().to_string());
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let (status, body) = app
                .call(&user, &method, &format!("{path}?page=1&colour=red"), None)
                .await;
            let takes_page = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "page" && p["in"] == "query");
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {body}");
            let responses = &operation["responses"];
            assert!(
                responses["400"].is_object() || responses["4XX"].is_object(),
                "{method} {template} does not document its 400"
            );
            assert_error(
                &body,
                "bad_request",
                Some(if takes_page { "colour" } else { "page" }),
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} operations");

    // What a route takes is named; a route that takes none says so.
    let (_, body) = app
        .call(&user, "GET", &format!("/api/{user}/tags?page=2"), None)
        .await;
    assert_eq!(
        body["error"]["message"],
        r#"unknown query parameter "page": this route takes none"#
    );
    let (_, body) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/conversations?sort=new"),
            None,
        )
        .await;
    assert_eq!(
        body["error"]["message"],
        r#"unknown query parameter "sort": this route takes page, page_size"#
    );
    // What it takes still passes, under the other names its document gives too.
    let (status, body) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/tasks?q=milk&limit=5&sort=title"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/conversations?page=2&page_size=5"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
