//! What a command does, in a short English sentence: for the reply, and for the web app's
//! quick-add preview ("Add “pay rent”, P1, #home, due Tue 1 Dec 09:00, repeating every
//! month on the 1st, reminder 1 hour before").

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use super::add::quote;
use super::repeat;
use super::{Command, Context, Target};

/// A short English description of what was understood.
pub fn describe(command: &Command, context: &Context) -> String {
    match command {
        Command::Add { arguments } => format!("Add {}", task_summary(arguments, context)),
        Command::List { what, .. } => format!("Show {what}"),
        Command::Complete(t) => format!("Complete {}", target(t)),
        Command::Reopen(t) => format!("Reopen {}", target(t)),
        Command::Delete(t) => format!("Delete {}", target(t)),
        Command::Reschedule {
            target: t, due_at, ..
        } => {
            format!("Move {} to {}", target(t), when(*due_at, context))
        }
        Command::Rename {
            target: t, title, ..
        } => {
            format!("Rename {} to {}", target(t), quote(title))
        }
        Command::Help => "Show what I can do".into(),
        Command::NotUnderstood {
            understood,
            example,
        } => format!("Not understood ({understood}); try \u{201C}{example}\u{201D}"),
    }
}

fn target(t: &Target) -> String {
    match t {
        Target::Number(n) => format!("task {n}"),
        Target::Words(words) => quote(words),
    }
}

/// A local time for a person: "Tue 1 Dec 09:00", with the year when it is not this year's.
fn when(t: DateTime<Utc>, context: &Context) -> String {
    let local = t.with_timezone(&context.timezone);
    let this_year = context.now.with_timezone(&context.timezone).year();
    if local.year() == this_year {
        local.format("%a %-d %b %H:%M").to_string()
    } else {
        local.format("%a %-d %b %Y %H:%M").to_string()
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// "1 hour before", "at the due time".
fn reminder(minutes: i64) -> String {
    let amount = match minutes {
        0 => return "reminder at the due time".into(),
        m if m % 10_080 == 0 => plural(m / 10_080, "week"),
        m if m % 1440 == 0 => plural(m / 1440, "day"),
        m if m % 60 == 0 => plural(m / 60, "hour"),
        m => plural(m, "minute"),
    };
    format!("reminder {amount} before")
}

/// What a task's fields say (an `add_task`'s arguments, or a task as the tools answer it):
/// "P1", "#home", "due Tue 1 Dec 09:00", "repeating every month on the 1st", "reminder 1
/// hour before".
fn details(task: &Value, context: &Context) -> Vec<String> {
    let text = |key: &str| task.get(key).and_then(Value::as_str);
    let mut parts = Vec::new();
    if let Some(p) = text("priority") {
        parts.push(p.to_owned());
    }
    if let Some(tags) = task.get("tags").and_then(Value::as_array) {
        let tags: Vec<String> = tags
            .iter()
            .filter_map(Value::as_str)
            .map(|t| format!("#{t}"))
            .collect();
        if !tags.is_empty() {
            parts.push(tags.join(" "));
        }
    }
    if let Some(due) = text("due_at").and_then(|d| DateTime::parse_from_rfc3339(d).ok()) {
        parts.push(format!("due {}", when(due.with_timezone(&Utc), context)));
    }
    if let Some(rule) = text("recurrence") {
        // An UNTIL's day is the task's, in its own time zone.
        let tz = text("timezone")
            .and_then(|name| name.parse().ok())
            .unwrap_or(context.timezone);
        parts.push(format!("repeating {}", repeat::describe(rule, tz)));
    }
    if let Some(minutes) = task.get("reminder_minutes").and_then(Value::as_i64) {
        parts.push(reminder(minutes));
    }
    parts
}

/// An `add_task`'s arguments in words: "“pay rent”, P1, #home, due Tue 1 Dec 09:00, …".
pub(super) fn task_summary(arguments: &Value, context: &Context) -> String {
    let title = arguments.get("title").and_then(Value::as_str);
    let mut parts = vec![title.map_or_else(|| "a task".to_owned(), quote)];
    parts.extend(details(arguments, context));
    if arguments
        .get("description")
        .and_then(Value::as_str)
        .is_some()
    {
        parts.push("with a description".into());
    }
    parts.join(", ")
}

/// A task as the chat shows it: “pay rent” (P1, #home, due Tue 1 Dec 09:00, repeating
/// every month on the 1st, done); the default priority, P3, goes unsaid.
pub fn task_line(task: &Value, context: &Context) -> String {
    let mut parts: Vec<String> = details(task, context)
        .into_iter()
        .filter(|p| p != "P3")
        .collect();
    if task.get("completed") == Some(&Value::Bool(true)) {
        parts.push("done".into());
    }
    let title = quote(
        task.get("title")
            .and_then(Value::as_str)
            .unwrap_or("(untitled)"),
    );
    if parts.is_empty() {
        title
    } else {
        format!("{title} ({})", parts.join(", "))
    }
}
