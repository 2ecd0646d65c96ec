//! What building the OpenAPI document leaves in the logs: nothing. Every function builds
//! its own document when it starts, so a warning there is a false alarm at each cold start (its
//! 503 example's "dependency unavailable" was logged as if the database were down). Alone
//! in its test binary, for the reason given in request_logs.rs.

mod common;

use shared::http::ApiDocument;

#[test]
fn building_the_api_document_logs_no_warning() {
    let sink = common::LogSink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    let document = tracing::subscriber::with_default(subscriber, || {
        // A warning logged here must reach the sink (the capture works)...
        tracing::warn!("probe");
        ApiDocument::of(shared::handlers::ALL).json()
    });
    // ...and the document does carry the 503 example that used to be logged.
    assert!(
        document.contains("service_unavailable"),
        "no 503 example in the document"
    );
    let logged = sink.text();
    assert_eq!(logged.matches("WARN").count(), 1, "{logged}");
    assert!(logged.contains("probe"), "{logged}");
    assert!(!logged.contains("dependency unavailable"), "{logged}");
}
