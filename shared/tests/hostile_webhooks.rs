//! Hostile webhook URLs (issue 16, item 3): every spelling of a private or special-purpose
//! address is refused at registration with the API's error JSON, a URL that only grows past
//! the database's limit once normalised is a 422 (not a 500), and a delivery connects only to
//! the addresses that were checked, whatever proxy the environment names.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use common::{assert_error, Receiver, TestApp};
use serde_json::json;
use shared::config::Secret;
use shared::store::WebhookTarget;
use shared::webhooks::{Webhooks, MAX_URL_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn registration_refuses_private_addresses_in_any_spelling() {
    let app = TestApp::spawn().await; // no allow-list
    let user = TestApp::user();
    let base = format!("/api/{user}/webhooks");
    for url in [
        "http://[::127.0.0.1]/hook",
        "http://[::169.254.169.254]/latest/meta-data",
        "http://[::ffff:0:127.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[2001:0::1]/hook",
        "http://[fec0::1]/hook",
        "http://[100::1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://192.88.99.1/hook",
        "http://2130706433/hook",
        "http://0x7f.0.0.1/hook",
    ] {
        let (s, err) = app
            .call(&user, "POST", &base, Some(json!({ "url": url })))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {err}");
        assert_error(&err, "validation_failed", Some("url"));
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("not a public address"), "{url}: {message}");
    }
    let (_, list) = app.call(&user, "GET", &base, None).await;
    assert_eq!(list, json!([]), "nothing was registered");
}

#[tokio::test]
async fn a_url_too_long_once_normalised_or_with_control_characters_is_a_422() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let base = format!("/api/{user}/webhooks");
    // 420 characters as sent, 2420 as stored ("ü" is "%C3%BC").
    let long = format!("http://93.184.216.34/{}", "ü".repeat(400));
    assert!(long.chars().count() < MAX_URL_LEN);
    let (s, err) = app
        .call(&user, "POST", &base, Some(json!({ "url": long })))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_error(&err, "validation_failed", Some("url"));
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("once normalised"));

    for url in [
        "http://93.184.216.34/a\u{0}b",
        "http://93.184.216.34/a\nb",
        "http://93.1\t84.216.34/",
    ] {
        let (s, err) = app
            .call(&user, "POST", &base, Some(json!({ "url": url })))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url:?}: {err}");
        assert_error(&err, "validation_failed", Some("url"));
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("control characters"));
    }
}

/// A "proxy" on loopback that counts the connections it gets and answers each with 200.
async fn proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    (port, hits)
}

#[tokio::test]
async fn delivery_never_goes_through_a_proxy_from_the_environment() {
    let (proxy_port, proxied) = proxy().await;
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    // This test binary's other tests deliver nothing, so the environment is this test's.
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(var, &proxy_url);
    }
    for var in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(var);
    }
    let receiver = Receiver::default();
    let url = receiver.start().await; // http://127.0.0.1:<port>/hook
    let by_name = url.replace("127.0.0.1", "localhost");
    let webhooks = Webhooks::new(["127.0.0.1".to_owned(), "localhost".to_owned()]);
    for url in [url, by_name] {
        let target = WebhookTarget {
            id: uuid::Uuid::new_v4(),
            url: url.clone(),
            secret: Secret::new("a-secret-of-some-length"),
        };
        let sent = webhooks
            .deliver(&target, uuid::Uuid::new_v4(), "reminder.due", b"{}")
            .await;
        assert!(sent.delivered(), "{url}: {sent:?}");
    }
    assert_eq!(
        receiver.seen().len(),
        2,
        "both reached the receiver directly"
    );
    assert_eq!(proxied.load(Ordering::SeqCst), 0, "none went to the proxy");
}
