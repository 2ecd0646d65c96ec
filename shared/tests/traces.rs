//! OTLP export: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, a function's spans reach the
//! collector over OTLP/HTTP (protobuf), named by the service. The collector here is a
//! loopback listener that records what it is sent (its own test binary, since the
//! tracing setup is once per process).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn spans_are_exported_to_the_configured_otlp_endpoint() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel::<(String, Vec<u8>)>();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 65536];
            // Read the head, then the body its Content-Length announces.
            let (head, body_start) = loop {
                let n = stream.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
                if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break (String::from_utf8_lossy(&request[..i]).into_owned(), i + 4);
                }
                assert!(n > 0, "connection closed mid-head");
            };
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while request.len() < body_start + length {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "connection closed mid-body");
                request.extend_from_slice(&buf[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            let _ = tx.send((head, request[body_start..].to_vec()));
        }
    });

    // Set before the tracing setup reads them (this test binary's only test).
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    std::env::remove_var("OTEL_SERVICE_NAME");
    shared::telemetry::init(shared::config::LogFormat::Json, "off", "traces-test");
    tracing::info_span!("exported-span").in_scope(|| {});
    shared::telemetry::flush_traces();

    let (head, body) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the collector got the spans");
    let first = head.lines().next().unwrap();
    assert!(first.starts_with("POST /v1/traces "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-protobuf"),
        "{head}"
    );
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"exported-span"), "the span's name is in the export");
    assert!(has(b"traces-test"), "the service's name is in the export");
}
