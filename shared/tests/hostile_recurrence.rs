//! Hostile recurrence rules (issue 16, item 7): a rule that can never produce an occurrence,
//! or that RFC 5545 does not allow, is refused with the API's error JSON; a series ends
//! cleanly at the end of year 9999 (what an RFC 3339 timestamp can say) instead of producing
//! a date the API itself would refuse.

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use common::{assert_error, TestApp};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;
use shared::domain::Recurrence;

#[tokio::test]
async fn rules_that_never_happen_or_that_rfc_5545_forbids_are_a_422() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for (rule, says) in [
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be at least 1"),
        (
            "FREQ=WEEKLY;BYDAY=+1MO",
            "only with FREQ=MONTHLY or FREQ=YEARLY",
        ),
        ("FREQ=MONTHLY;BYDAY=+6MO", "out of range"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be at least 1"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never happens"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "never happens"),
        ("FREQ=MONTHLY;BYSETPOS=-1", "BYSETPOS picks among"),
        (
            "FREQ=DAILY;UNTIL=20271231",
            "UNTIL must be a UTC date and time",
        ),
        ("every 0 weeks", "a number from 1 to 1000"),
    ] {
        let (s, err) = app
            .call(
                &user,
                "POST",
                &format!("/api/{user}/tasks"),
                Some(json!({"title": "t", "due_at": "2026-12-01T09:00:00Z", "recurrence": rule})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{rule}: {err}");
        assert_error(&err, "validation_failed", Some("recurrence"));
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{rule}: {message}");
    }
}

fn instant(from_year: i32, to_year: i32) -> impl Strategy<Value = DateTime<Utc>> {
    let lo = Utc
        .with_ymd_and_hms(from_year, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let hi = Utc
        .with_ymd_and_hms(to_year, 12, 31, 23, 59, 59)
        .unwrap()
        .timestamp();
    (lo..=hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

/// Rules of every kind, including rare ones and numbered weekdays.
const RULES: &[&str] = &[
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "every weekday",
    "every 3 days",
    "every 1000 years",
    "every 7 months",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYDAY=5MO",
    "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=YEARLY;BYMONTH=4",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=YEARLY;BYWEEKNO=53;BYDAY=TH",
    "FREQ=DAILY;COUNT=3",
    "FREQ=WEEKLY;BYDAY=SA;COUNT=1",
    "FREQ=DAILY;UNTIL=99991231T235959Z",
    "FREQ=DAILY;UNTIL=20300101T000000Z",
];

const ZONES: &[chrono_tz::Tz] = &[
    chrono_tz::UTC,
    chrono_tz::Pacific::Kiritimati, // UTC+14: local dates reach year 10000
    chrono_tz::Pacific::Pago_Pago,  // UTC-11
    chrono_tz::America::New_York,
    chrono_tz::Australia::Lord_Howe,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Near the end of the range: the next date is never past year 9999 (the series ends
    /// instead), nothing panics, and `check_start` refuses exactly the series that would end
    /// at their first task.
    #[test]
    fn a_series_never_goes_past_year_9999(
        rule in select(RULES),
        tz in select(ZONES),
        due in prop_oneof![instant(9990, 9999), instant(9999, 9999), instant(2000, 2100)],
        late in 0i64..(3 * 366 * 86_400),
    ) {
        let rule = Recurrence::parse(rule).unwrap();
        let completed = (due + chrono::Duration::seconds(late)).min(
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        );
        if let Some(next) = rule.next_due(tz, due, Some(due), completed) {
            prop_assert!(next.year() <= 9999, "{next}");
            prop_assert!(next > due && next > completed);
        }
        let next = rule.next_due(tz, due, Some(due), due);
        prop_assert_eq!(rule.check_start(tz, due).is_ok(), next.is_some());
    }
}
