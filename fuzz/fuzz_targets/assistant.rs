//! Sentences sent to the built-in chat assistant: reading one never panics, gives the same
//! command each time, and what it would ask the tools for passes the tools' own checks.
#![no_main]

use chrono::{Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shared::assistant::{parse, Command, Context};
use shared::domain::{
    parse_reminder_minutes, parse_timestamp, Description, ListQuery, Priority, Recurrence,
    TagName, Timezone, Title,
};

// The first 4 bytes pick the time zone and the moment (2020 to about 2027); the rest is
// the sentence.
fuzz_target!(|data: &[u8]| {
    let Some((head, message)) = data.split_first_chunk::<4>() else {
        return;
    };
    let Ok(message) = std::str::from_utf8(message) else {
        return;
    };
    let zones = &chrono_tz::TZ_VARIANTS;
    let context = Context {
        timezone: zones[usize::from(u16::from_le_bytes([head[0], head[1]])) % zones.len()],
        now: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()
            + Duration::hours(i64::from(u16::from_le_bytes([head[2], head[3]]))),
    };
    let command = parse(message, &context);
    assert_eq!(parse(message, &context), command);
    match &command {
        Command::Add { arguments } => check_add(arguments),
        Command::List { arguments, .. } => check_list(arguments),
        _ => {}
    }
});

/// What `add_task` checks: every field the assistant fills passes the domain's rules.
fn check_add(arguments: &Value) {
    let text = |key: &str| arguments.get(key).and_then(Value::as_str);
    Title::parse(text("title").expect("a title")).unwrap();
    if let Some(d) = text("description") {
        Description::parse(d).unwrap();
    }
    if let Some(p) = text("priority") {
        Priority::parse(p).unwrap();
    }
    for tag in arguments.get("tags").and_then(Value::as_array).into_iter().flatten() {
        TagName::parse(tag.as_str().expect("a tag is text")).unwrap();
    }
    let tz = text("timezone").map(|t| Timezone::parse(t).unwrap());
    let due = text("due_at").map(|d| parse_timestamp("due_at", d).unwrap());
    if let Some(minutes) = arguments.get("reminder_minutes") {
        parse_reminder_minutes(minutes.as_i64().expect("minutes are a number")).unwrap();
    }
    if let Some(rule) = text("recurrence") {
        let rule = Recurrence::parse(rule).unwrap();
        if let (Some(due), Some(tz)) = (due, &tz) {
            rule.check_start(tz.tz(), due).unwrap();
        }
    }
}

/// What `list_tasks` checks: the arguments, as a query string, are a valid list query.
fn check_list(arguments: &Value) {
    let pairs: Vec<(String, String)> = arguments
        .as_object()
        .expect("list arguments are an object")
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect();
    ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
}
