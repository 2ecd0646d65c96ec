//! What a request leaves in the logs. Alone in its test binary: tracing decides once per
//! callsite whether anyone wants it, and another test running the same router code on
//! another thread, with no subscriber, could have it decided "no" for the subscriber
//! this test installs on its own thread.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;

#[test]
fn request_logs_never_carry_the_query_string() {
    // The access token of an EventSource stream travels in the query; the request span
    // records the path only.
    let sink = common::LogSink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let app = TestApp::on(common::Db::dead());
            let (status, _, _) = app
                .send(
                    Request::get("/api/alice/stream?access_token=very-secret-token")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        });
    });
    let logged = sink.text();
    assert!(logged.contains("/api/alice/stream"), "{logged}");
    assert!(!logged.contains("very-secret-token"), "{logged}");
}
