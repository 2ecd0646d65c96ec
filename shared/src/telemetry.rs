//! Tracing setup: JSON lines in containers, human-readable on a terminal; and the
//! process's Prometheus metrics (`metrics`), which each function serves at `GET /metrics`.
//!
//! Field values can come from users (a token's subject, a tag), so neither format lets one
//! break a log line: JSON escapes by itself, and the human-readable format escapes every
//! control character (`\n` is written as `\n`, an escape sequence as `\u{1b}`).

use std::fmt::Write as _;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use tracing_subscriber::field::{MakeExt, RecordFields};
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    // `try_init`: a second call (tests, the local runner) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().fmt_fields(EscapedFields).try_init(),
    };
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
        handle
    })
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
