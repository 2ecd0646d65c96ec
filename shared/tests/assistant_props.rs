//! The built-in assistant's parser on any input: it never panics, and what it returns is
//! always something the tools accept (a valid title, tags, priority, recurrence, reminder,
//! list query), whatever the sentence, the time or the time zone.

use chrono::{DateTime, Datelike, Utc};
use proptest::prelude::*;
use serde_json::Value;

use shared::assistant::{describe, parse, Command, Context, Target};
use shared::domain::list::ListQuery;
use shared::domain::{
    parse_reminder_minutes, parse_timestamp, Description, Priority, Recurrence, TagName, Timezone,
    Title,
};

/// Words the parser knows, so that random sentences reach deep into it.
const VOCABULARY: &[&str] = &[
    "add",
    "new",
    "task",
    "todo:",
    "remind",
    "me",
    "to",
    "about",
    "every",
    "each",
    "other",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "hour",
    "hours",
    "minutes",
    "weekday",
    "monday",
    "thu",
    "sun",
    "and",
    "&",
    ",",
    "on",
    "the",
    "1st",
    "15th",
    "31st",
    "last",
    "of",
    "at",
    "by",
    "due",
    "in",
    "a",
    "an",
    "half",
    "3",
    "0",
    "12",
    "25",
    "1000",
    "99999",
    "5pm",
    "12am",
    "9:30",
    "17:00",
    "24:00",
    "noon",
    "tonight",
    "today",
    "tomorrow",
    "next",
    "this",
    "weekend",
    "evening",
    "morning",
    "dec",
    "december",
    "may",
    "feb",
    "29",
    "30",
    "2026-12-05",
    "2027-03-28T02:30",
    "9999-12-31T23:59:59Z",
    "0000-01-01",
    "p1",
    "p4",
    "urgent",
    "high",
    "priority",
    "#home",
    "#",
    "##",
    "#a,b",
    "before",
    "earlier",
    "\"",
    "\u{201C}",
    "//",
    "show",
    "list",
    "find",
    "search",
    "what's",
    "overdue",
    "completed",
    "all",
    "page",
    "top",
    "done",
    "complete",
    "with",
    "mark",
    "as",
    "not",
    "reopen",
    "undo",
    "delete",
    "remove",
    "it",
    "move",
    "reschedule",
    "rename",
    "change",
    "help",
    "please",
    "thanks",
    "is",
    "\u{202E}",
    "\u{200B}",
    "\u{0}",
    "\n",
    "é",
    "日本",
    "🎉",
];

fn sentence() -> impl Strategy<Value = String> {
    prop_oneof![
        // any text: unicode, control characters, up to 4,000 characters
        "(?s).{0,4000}",
        proptest::collection::vec(any::<char>(), 0..4000).prop_map(|c| c.into_iter().collect()),
        // sentences of the parser's own words
        proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..40)
            .prop_map(|w| w.join(" ")),
        proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..800)
            .prop_map(|w| w.join(" ")),
        // the parser's words among long and odd ones
        proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(VOCABULARY).prop_map(str::to_owned),
                "[#a-z\u{e9}\u{200b},]{1,300}",
                "\\PC{1,20}",
            ],
            0..60
        )
        .prop_map(|w| w.join(" ")),
    ]
}

fn context() -> impl Strategy<Value = Context> {
    let near = (1_700_000_000i64..2_100_000_000).boxed();
    // every instant chrono can hold (about 262,000 years either side of 1970)
    let any_time = (-8_200_000_000_000i64..8_200_000_000_000).boxed();
    (
        prop_oneof![3 => near, 1 => any_time],
        0u32..1_000_000_000,
        0..chrono_tz::TZ_VARIANTS.len(),
    )
        .prop_filter_map("a time chrono can hold", |(secs, nanos, tz)| {
            Some(Context {
                now: DateTime::<Utc>::from_timestamp(secs, nanos)?,
                timezone: chrono_tz::TZ_VARIANTS[tz],
            })
        })
}

/// An instant the API can read (RFC 3339 has four-digit years).
fn ordinary(context: &Context) -> bool {
    (1..=9000).contains(&context.now.year())
}

fn check(command: &Command, context: &Context) {
    match command {
        Command::Add { arguments } => {
            let text = |key: &str| arguments.get(key).and_then(Value::as_str);
            Title::parse(text("title").unwrap()).unwrap();
            if let Some(d) = text("description") {
                Description::parse(d).unwrap();
            }
            if let Some(p) = text("priority") {
                Priority::parse(p).unwrap();
            }
            for tag in arguments
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                TagName::parse(tag.as_str().unwrap()).unwrap();
            }
            if let Some(rule) = text("recurrence") {
                Recurrence::parse(rule).unwrap();
            }
            if let Some(tz) = text("timezone") {
                Timezone::parse(tz).unwrap();
            }
            if let Some(minutes) = arguments.get("reminder_minutes") {
                parse_reminder_minutes(minutes.as_i64().unwrap()).unwrap();
                assert!(text("due_at").is_some());
            }
            if ordinary(context) {
                if let Some(due) = text("due_at") {
                    let due = parse_timestamp("due_at", due).unwrap();
                    assert!(text("timezone").is_some());
                    // within a few years of now, or a date the sentence named
                    assert!(due.year() <= 9999);
                }
            }
            assert!(arguments
                .as_object()
                .unwrap()
                .values()
                .all(|v| !v.is_null()));
        }
        Command::List { arguments, what } => {
            assert!(!what.is_empty());
            if ordinary(context) {
                let pairs: Vec<(String, String)> = arguments
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), value)
                    })
                    .collect();
                ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
            }
        }
        Command::Complete(target) | Command::Reopen(target) | Command::Delete(target) => {
            check_target(target)
        }
        Command::Reschedule { target, .. } => check_target(target),
        Command::Rename { target, title, .. } => {
            check_target(target);
            Title::parse(title).unwrap();
        }
        Command::Help => {}
        Command::NotUnderstood {
            understood,
            example,
        } => {
            assert!(!understood.is_empty() && !example.is_empty());
            assert!(understood.chars().count() <= 300, "{understood}");
        }
    }
}

fn check_target(target: &Target) {
    match target {
        Target::Number(n) => assert!(*n >= 1),
        Target::Words(words) => {
            assert!(!words.trim().is_empty());
            assert!(words.chars().count() <= 200);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_and_describe_never_panic(message in sentence(), context in context()) {
        let command = parse(&message, &context);
        let text = describe(&command, &context);
        prop_assert!(!text.is_empty());
        check(&command, &context);
    }

    #[test]
    fn a_quick_add_always_gives_valid_tool_arguments(
        words in proptest::collection::vec(proptest::sample::select(VOCABULARY), 1..30),
        context in context(),
    ) {
        let command = parse(&format!("add {}", words.join(" ")), &context);
        prop_assert!(
            matches!(command, Command::Add { .. } | Command::NotUnderstood { .. }),
            "{command:?}"
        );
        check(&command, &context);
    }
}
