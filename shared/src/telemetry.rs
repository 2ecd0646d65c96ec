//! Tracing setup: JSON lines in containers, human-readable on a terminal; OpenTelemetry
//! traces; and the process's Prometheus metrics (`metrics`), which each function serves at
//! `GET /metrics`.
//!
//! Traces: every span at info level and above is an OpenTelemetry span too. A request
//! continues the W3C `traceparent` it comes with (daprd passes one on), the events a
//! change writes carry the trace on (`traceparent`, written into the outbox row and the
//! CloudEvent), and a consumer continues it, so a create, its event, `audit` and
//! `on-completed` form one trace. The spans go to an OTLP collector (HTTP/protobuf) when
//! the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, named by
//! `OTEL_SERVICE_NAME` or else the function; without it the trace ids still travel.
//!
//! Field values can come from users (a token's subject, a tag), so neither format lets one
//! break a log line: JSON escapes by itself, and the human-readable format escapes every
//! control character (`\n` is written as `\n`, an escape sequence as `\u{1b}`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use tracing_subscriber::field::{MakeExt, RecordFields};
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::{fmt, EnvFilter, Registry};

use crate::config::LogFormat;

/// Installs the logging and tracing of the process (`service`: the function's name, for
/// the traces). A second call (tests, the local runner) keeps the first setup.
pub fn init(format: LogFormat, level: &str, service: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Json => fmt::layer()
            .with_target(true)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => fmt::layer()
            .with_target(true)
            .compact()
            .fmt_fields(EscapedFields)
            .with_filter(filter)
            .boxed(),
    };
    let provider = tracer_provider(service);
    let traces = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("todo"))
        // Spans only (events stay in the logs), whatever the log level.
        .with_filter(LevelFilter::INFO);
    if Registry::default()
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok()
    {
        let _ = PROVIDER.set(provider);
    }
}

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The tracer provider: exporting over OTLP when an endpoint is configured, else only
/// making the trace ids that the events carry on.
fn tracer_provider(service: &str) -> SdkTracerProvider {
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    if !configured {
        return builder.build();
    }
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => builder.with_batch_exporter(exporter).build(),
        Err(e) => {
            eprintln!("warning: OTLP trace export is off: {e}");
            builder.build()
        }
    }
}

/// Sends the spans not yet exported (at shutdown).
pub fn flush_traces() {
    if let Some(provider) = PROVIDER.get() {
        if let Err(e) = provider.force_flush() {
            tracing::warn!(error = %e, "could not export the last traces");
        }
    }
}

/// The W3C `traceparent` of the current span (for the events it writes); `None` outside
/// a traced span.
pub fn traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` continue the trace of `traceparent` (as sent by a caller or carried by an
/// event); a missing or malformed one leaves the span a trace of its own.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(context);
}

/// The process's metrics recorder, installed by the first call (the `metrics` macros record
/// nothing before that, so the HTTP router calls this when it is built). Every `*_seconds`
/// metric is a histogram with these buckets.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Should something else have installed a recorder first, it keeps its place.
        let _ = metrics::set_global_recorder(recorder);
        keep_up(handle.clone());
        handle
    })
}

/// Drains the recorder's histogram samples into their buckets now and then, for as long as
/// the process lives. A recorder built without the crate's HTTP listener leaves this to its
/// owner: only a scrape or an upkeep drains the raw samples, so where nothing scrapes
/// `/metrics` (a laptop's `todo-local`) the heap would grow with every request served.
fn keep_up(handle: PrometheusHandle) {
    const EVERY: Duration = Duration::from_secs(5);
    // A thread, not a task: the first caller's runtime may be a test's, dropped long before
    // the process ends.
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(EVERY);
            handle.run_upkeep();
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the metrics upkeep thread; histograms grow until scraped");
    }
}

/// The human-readable fields, `name=value` separated by spaces (the message bare), with
/// every control character escaped.
struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let escaped = debug_fn(|writer, field, value| {
            let mut text = String::new();
            write!(text, "{value:?}")?;
            let text = escape_controls(&text);
            if field.name() == "message" {
                write!(writer, "{text}")
            } else {
                write!(writer, "{}={text}", field.name())
            }
        })
        .delimited(" ");
        escaped.format_fields(writer, fields)
    }
}

/// `text` with each control character written as its escape (`\n`, `\t`, `\u{1b}`).
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_metrics_recorder_comes_with_its_upkeep() {
        metrics();
        let threads = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .expect("Linux lists a process's threads")
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        };
        // A new thread names itself once it runs; until then it shows its parent's name.
        let mut names = threads();
        for _ in 0..100 {
            if names.iter().any(|name| name == "metrics-upkeep") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
            names = threads();
        }
        panic!("no upkeep thread among {names:?}: histogram samples would pile up unscraped");
    }

    #[test]
    fn user_text_cannot_break_a_pretty_log_line() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = fmt()
            .compact()
            .with_ansi(false)
            .fmt_fields(EscapedFields)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // Tests on other threads may have met these callsites first, with no
            // subscriber to want them: ask again, now that this one is in place.
            tracing::callsite::rebuild_interest_cache();
            let user_id = "alice\nINFO forged: admin logged in\u{1b}[2J";
            let span = tracing::info_span!("request", user_id = %user_id);
            let _entered = span.enter();
            tracing::info!(tag = %"home\r\nx", debug = ?"a\nb", "stream opened");
        });
        let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "one line: {out:?}");
        assert!(
            out.contains(r"user_id=alice\nINFO forged: admin logged in\u{1b}[2J"),
            "{out}"
        );
        assert!(out.contains(r"tag=home\r\nx"), "{out}");
        assert!(out.contains(r#"debug="a\nb""#), "{out}");
        assert!(out.contains("stream opened"), "{out}");
    }

    #[test]
    fn plain_text_is_kept() {
        assert_eq!(escape_controls("a b é"), "a b é");
        assert_eq!(escape_controls("a\u{0}b"), r"a\u{0}b");
    }
}
