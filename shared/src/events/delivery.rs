//! Deliveries to a function's sidecar routes made in-process, as daprd makes them over
//! HTTP: what the in-process bus of `todo-local` and the direct Kafka subscriber share. The
//! answers are read as daprd reads them ([`read_reply`]).

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::subscription::{read_reply, Delivery, MAX_DELIVERY_BYTES};

/// One bulk delivery's events at most this many bytes in all (a delivery's limit, less
/// room for the entries' wrapping); more go in several deliveries.
pub const DELIVERY_BYTES: usize = MAX_DELIVERY_BYTES - 64 * 1024;

/// An event to deliver: its partition key and its CloudEvent (JSON).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub key: &'a [u8],
    pub event: &'a [u8],
}

/// Delivers `records[i]` for each of `indices` to `route`, in order, as bulk deliveries of
/// at most [`DELIVERY_BYTES`]; a status for each. A record no delivery can carry (not JSON,
/// or too large) is dropped without one (the route would refuse it too). Once a key's
/// record asks for redelivery, that key's later records are not delivered and ask for it
/// too, so none overtakes it.
pub async fn deliver_bulk(
    app: &Router,
    route: &str,
    records: &[Record<'_>],
    indices: &[usize],
) -> Vec<Delivery> {
    let mut statuses = vec![Delivery::Retry; indices.len()];
    let mut held: HashSet<&[u8]> = HashSet::new();
    let mut entries: Vec<(usize, &[u8])> = Vec::new();
    let mut bytes = 0;
    for n in 0..=indices.len() {
        let next = indices.get(n).map(|&i| records[i]);
        let full =
            next.is_some_and(|r| !entries.is_empty() && bytes + r.event.len() > DELIVERY_BYTES);
        if next.is_none() || full {
            let answers = post(app, route, &entries).await;
            for ((position, _), status) in entries.drain(..).zip(answers) {
                statuses[position] = status;
                if status == Delivery::Retry {
                    held.insert(records[indices[position]].key);
                }
            }
            bytes = 0;
        }
        let Some(record) = next else { break };
        if held.contains(record.key) {
            // stays Retry
        } else if let Some(reason) = undeliverable(record.event) {
            tracing::warn!(route, reason, "an event no route can take; dropped");
            metrics::counter!("events_consumed_total", "outcome" => "drop").increment(1);
            statuses[n] = Delivery::Drop;
        } else {
            entries.push((n, record.event));
            bytes += record.event.len();
        }
    }
    statuses
}

/// Delivers one CloudEvent (whose id is `id`) to `route`, as daprd does for a
/// subscription without bulk.
pub async fn deliver_one(app: &Router, route: &str, id: &str, event: &[u8]) -> Delivery {
    let request = Request::post(route)
        .header(header::CONTENT_TYPE, "application/cloudevents+json")
        .body(Body::from(event.to_vec()))
        .expect("a valid request");
    answer(app, route, request, &[id.to_owned()]).await[0]
}

/// Why no delivery could carry `event`, if so: the route would refuse it whatever it held.
fn undeliverable(event: &[u8]) -> Option<&'static str> {
    if event.len() > DELIVERY_BYTES {
        Some("larger than a delivery may be")
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(event).is_err() {
        Some("not JSON")
    } else {
        None
    }
}

/// One bulk delivery of `entries` (their position, their event) to `route`, as daprd
/// sends it; a status for each, in order.
async fn post(app: &Router, route: &str, entries: &[(usize, &[u8])]) -> Vec<Delivery> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut body =
        Vec::with_capacity(entries.iter().map(|(_, p)| p.len() + 32).sum::<usize>() + 16);
    body.extend_from_slice(br#"{"entries":["#);
    for (n, (position, event)) in entries.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(format!(r#"{{"entryId":"{position}","event":"#).as_bytes());
        body.extend_from_slice(event);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    let request = Request::post(route)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a valid request");
    let ids: Vec<String> = entries
        .iter()
        .map(|(position, _)| position.to_string())
        .collect();
    answer(app, route, request, &ids).await
}

/// Sends `request` to the app and reads its answer for the delivery's entries (`ids`).
async fn answer(
    app: &Router,
    route: &str,
    request: Request<Body>,
    ids: &[String],
) -> Vec<Delivery> {
    let response = match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    match response.into_body().collect().await {
        Ok(body) => {
            if !status.is_success() {
                tracing::warn!(route, %status, "the route failed a delivery");
            }
            read_reply(status, &body.to_bytes(), ids)
        }
        Err(e) => {
            tracing::warn!(route, error = %e, "reading the route's answer failed");
            vec![Delivery::Retry; ids.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_no_delivery_can_carry_is_named() {
        assert_eq!(undeliverable(br#"{"specversion":"1.0"}"#), None);
        assert_eq!(undeliverable(b"not json"), Some("not JSON"));
        assert_eq!(undeliverable(b""), Some("not JSON"));
        let mut huge = vec![b'"'];
        huge.resize(DELIVERY_BYTES + 1, b'a');
        huge.push(b'"');
        assert_eq!(undeliverable(&huge), Some("larger than a delivery may be"));
    }
}
