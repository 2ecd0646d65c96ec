//! Lists and searches: "what's due today", "show overdue", "show #work tasks", "list p1
//! tasks", "find dentist", "what's next". Filters combine ("completed p1 tasks tagged work
//! due this week"); every list is of pending tasks sorted by due date unless it says otherwise.

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use crate::domain::list::MAX_SEARCH_CHARS;
use crate::domain::TagName;

use super::add::quote;
use super::when::{self, next_monday, Now, Piece};
use super::words::{join_text, number, starts_with, trim_text, Tok};
use super::Command;

/// How many tasks "what's next" shows.
pub(super) const NEXT_PAGE_SIZE: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// "find ...", "search ...": the words left are the search.
    Search,
    /// "show ...", "list ...": the words left are a search too.
    Show,
    /// "what's ...", "do I have ...": every word must be understood.
    Question,
    /// No verb: a list only if every word is a filter ("overdue", "#work", "today").
    Bare,
}

const SEARCH: &[&str] = &[
    "search for",
    "search",
    "find me",
    "find",
    "look for",
    "look up",
    "lookup",
    "where is",
    "where's",
    "wheres",
];
const SHOW: &[&str] = &[
    "show me",
    "show",
    "list",
    "display",
    "view",
    "see",
    "get",
    "give me",
    "tell me",
    "let me see",
];
const QUESTION: &[&str] = &[
    "what's",
    "whats",
    "what is",
    "what are",
    "what do i have",
    "what have i got",
    "what do i need to do",
    "what should i do",
    "what must i do",
    "what else",
    "do i have",
    "have i got",
    "is there anything",
    "are there any",
    "is anything",
    "anything",
    "any",
    "how many",
];

/// Words that say nothing to a list ("show me my tasks").
const FILLER: &[&str] = &[
    "me",
    "my",
    "the",
    "a",
    "an",
    "of",
    "tasks",
    "task",
    "todos",
    "todo",
    "to-dos",
    "to-do",
    "items",
    "item",
    "things",
    "stuff",
    "list",
    "lists",
    "i",
    "i've",
    "ive",
    "have",
    "has",
    "do",
    "got",
    "are",
    "is",
    "on",
    "for",
    "that",
    "which",
    "there",
    "any",
    "anything",
    "please",
    "to",
    "in",
    "what",
    "what's",
    "whats",
    "need",
    "needs",
    "due",
    "left",
    "still",
    "now",
    "currently",
    "with",
    "you",
    "should",
    "must",
    "can",
    "more",
    "else",
    "it",
    "be",
    "been",
    "",
    "and",
    "or",
    "&",
    "ones",
    "one",
    "all",
];
/// Words that name what is listed; a sentence without a verb needs a filter or one of these.
const NOUNS: &[&str] = &["tasks", "todos", "to-dos", "items", "list", "things"];
/// Words at the ends of a search that are not part of it ("find the task about dentist").
const SEARCH_EDGES: &[&str] = &[
    "for",
    "me",
    "my",
    "the",
    "a",
    "an",
    "task",
    "tasks",
    "about",
    "called",
    "named",
    "matching",
    "containing",
    "with",
    "titled",
    "please",
    "any",
    "all",
    "",
    "due",
    "todos",
    "items",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Completed,
    All,
}

#[derive(Debug, Default)]
struct Filters {
    status: Option<Status>,
    priorities: Vec<u8>,
    tags: Vec<String>,
    overdue: bool,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    range: Option<String>,
    next: bool,
    sort: Option<(&'static str, &'static str, &'static str)>,
    page: Option<u32>,
    page_size: Option<u32>,
    search: Option<String>,
}

impl Filters {
    fn any(&self) -> bool {
        self.status.is_some()
            || !self.priorities.is_empty()
            || !self.tags.is_empty()
            || self.overdue
            || self.range.is_some()
            || self.next
            || self.sort.is_some()
            || self.page.is_some()
            || self.page_size.is_some()
    }
}

/// A day as a range: (the last instant before it starts, when the next day starts);
/// `due_after` is exclusive, so a task due at midnight is in it. Tasks keep their times to
/// the microsecond (`domain::truncate`), so the instant before is a microsecond before.
fn days(now: &Now, first: NaiveDate, end: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let after = now
        .start_of(first)?
        .checked_sub_signed(Duration::microseconds(1))?;
    Some((after, now.start_of(end)?))
}

fn day_label(now: &Now, day: NaiveDate) -> String {
    if day == now.today {
        "today".into()
    } else if Some(day) == now.plus_days(1) {
        "tomorrow".into()
    } else if day.year() == now.today.year() {
        day.format("%a %-d %b").to_string()
    } else {
        day.format("%a %-d %b %Y").to_string()
    }
}

/// A due-date range at `at`: "today", "this week", "next month", "friday", "before dec 5",
/// "in the next 3 days"; the words taken, the bounds and how to say it.
#[allow(clippy::type_complexity)]
fn range(
    toks: &[Tok],
    at: usize,
    now: &Now,
) -> Option<(usize, Option<DateTime<Utc>>, Option<DateTime<Utc>>, String)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let monday = now
        .today
        .checked_sub_days(Days::new(now.today.weekday().num_days_from_monday().into()))?;
    let first_of_month = now.today.with_day(1)?;
    let spans: [(&str, Option<NaiveDate>, Option<NaiveDate>); 5] = [
        ("this week", Some(monday), next_monday(now)),
        (
            "next week",
            next_monday(now),
            next_monday(now).and_then(|d| d.checked_add_days(Days::new(7))),
        ),
        (
            "this month",
            Some(first_of_month),
            first_of_month.checked_add_months(Months::new(1)),
        ),
        (
            "next month",
            first_of_month.checked_add_months(Months::new(1)),
            first_of_month.checked_add_months(Months::new(2)),
        ),
        (
            "this weekend",
            monday.checked_add_days(Days::new(5)),
            next_monday(now),
        ),
    ];
    for (phrase, first, end) in spans {
        if starts_with(toks, at, phrase) {
            let (after, before) = days(now, first?, end?)?;
            return Some((2, Some(after), Some(before), phrase.into()));
        }
    }
    let lead = ["in the next", "in the coming", "the next", "next", "coming"]
        .iter()
        .find(|p| starts_with(toks, at, p))
        .map(|p| p.split(' ').count());
    if let Some(lead) = lead {
        if let Some(n) = number(word(at + lead)).filter(|n| *n <= 1000) {
            if matches!(word(at + lead + 1), "days" | "day") {
                let (after, before) = days(now, now.today, now.plus_days(u64::from(n) + 1)?)?;
                let label = format!("in the next {n} day{}", if n == 1 { "" } else { "s" });
                return Some((lead + 2, Some(after), Some(before), label));
            }
        }
    }
    let (bound, skip) = match word(at) {
        "before" | "until" | "till" => (Some(true), 1),
        "after" | "from" => (Some(false), 1),
        _ => (None, 0),
    };
    let prev = if skip == 1 || at == 0 {
        word(at)
    } else {
        word(at - 1)
    };
    let (len, piece) = when::phrase(toks, at + skip, prev, now)?;
    let Piece::Date(day, _) = piece else {
        return None;
    };
    let next_day = day.checked_add_days(Days::new(1))?;
    let (after, before) = days(now, day, next_day)?;
    let label = day_label(now, day);
    Some(match bound {
        None => (len, Some(after), Some(before), label),
        Some(true) => (
            len + 1,
            None,
            Some(after.checked_add_signed(Duration::microseconds(1))?),
            format!("before {label}"),
        ),
        Some(false) => (
            len + 1,
            Some(before.checked_sub_signed(Duration::microseconds(1))?),
            None,
            format!("after {label}"),
        ),
    })
}

/// `p1`, `urgent`, `high priority`, `important` (P1 and P2): the levels and the words taken.
fn priorities(toks: &[Tok], at: usize) -> Option<(usize, Vec<u8>)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let level = |w: &str| match w {
        "p1" | "urgent" => Some(1),
        "p2" | "high" => Some(2),
        "p3" | "medium" => Some(3),
        "p4" | "low" => Some(4),
        _ => None,
    };
    let w = word(at);
    if w == "important" {
        return Some((1, vec![1, 2]));
    }
    if matches!(w, "priority" | "prio") {
        let next = word(at + 1);
        let n = match next {
            "1" | "2" | "3" | "4" => next.parse().ok(),
            _ => level(next),
        }?;
        return Some((2, vec![n]));
    }
    let n = level(w)?;
    let len = if matches!(word(at + 1), "priority" | "prio") {
        2
    } else {
        1
    };
    Some((len, vec![n]))
}

/// Sort phrases: the words, and `sort_by`, `sort_order`, how to say it.
const SORTS: &[(&str, (&str, &str, &str))] = &[
    ("sorted by priority", ("priority", "asc", "by priority")),
    ("sort by priority", ("priority", "asc", "by priority")),
    ("by priority", ("priority", "asc", "by priority")),
    ("by due date", ("due_at", "asc", "by due date")),
    ("by date", ("due_at", "asc", "by due date")),
    ("by title", ("title", "asc", "by title")),
    ("by name", ("title", "asc", "by title")),
    ("alphabetically", ("title", "asc", "by title")),
    ("newest first", ("created_at", "desc", "newest first")),
    ("most recent", ("created_at", "desc", "newest first")),
    ("recently added", ("created_at", "desc", "newest first")),
    ("newest", ("created_at", "desc", "newest first")),
    ("latest", ("created_at", "desc", "newest first")),
    ("oldest first", ("created_at", "asc", "oldest first")),
    ("oldest", ("created_at", "asc", "oldest first")),
    (
        "recently updated",
        ("updated_at", "desc", "recently changed first"),
    ),
    (
        "recently changed",
        ("updated_at", "desc", "recently changed first"),
    ),
];

/// The `list_tasks` command for a sentence, or `None` when it is not a list.
pub(super) fn command(toks: &[Tok], now: &Now) -> Option<Command> {
    let prefix = |phrases: &[&str]| {
        phrases
            .iter()
            .filter(|p| starts_with(toks, 0, p))
            .map(|p| p.split(' ').count())
            .max()
    };
    let (mode, skip) = if let Some(n) = prefix(SEARCH) {
        (Mode::Search, n)
    } else if let Some(n) = prefix(QUESTION) {
        (Mode::Question, n)
    } else if let Some(n) = prefix(SHOW) {
        (Mode::Show, n)
    } else {
        (Mode::Bare, 0)
    };
    let toks = &toks[skip..];
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let mut f = Filters::default();
    let mut left: Vec<usize> = Vec::new();
    let mut nouns = false;
    let mut i = 0;
    while i < toks.len() {
        let w = word(i);
        if let Some(tag) = w.strip_prefix('#').map(|t| t.trim_start_matches('#')) {
            if let Ok(name) = TagName::parse(tag) {
                f.tags.push(name.as_str().to_owned());
                i += 1;
                continue;
            }
        }
        if matches!(w, "tagged" | "tag" | "labelled" | "labeled" | "label") {
            let skip = usize::from(matches!(word(i + 1), "with" | "as"));
            let tag = word(i + 1 + skip);
            if let Ok(name) = TagName::parse(tag.trim_start_matches('#')) {
                if !tag.is_empty() && !FILLER.contains(&tag) {
                    f.tags.push(name.as_str().to_owned());
                    i += 2 + skip;
                    continue;
                }
            }
        }
        if let Some((len, levels)) = priorities(toks, i) {
            f.priorities.extend(levels);
            i += len;
            continue;
        }
        let status = match w {
            "completed" | "complete" | "done" | "finished" | "closed" | "ticked" => {
                Some(Status::Completed)
            }
            "pending" | "incomplete" | "unfinished" | "remaining" | "outstanding" | "active"
            | "undone" | "uncompleted" | "open" => Some(Status::Pending),
            "all" | "everything" | "every" if f.status.is_none() => Some(Status::All),
            _ => None,
        };
        if let Some(status) = status {
            if f.status.is_some_and(|s| s != status) && f.status != Some(Status::All) {
                return None;
            }
            f.status = Some(status);
            i += 1;
            continue;
        }
        if matches!(w, "overdue" | "late" | "missed") || starts_with(toks, i, "past due") {
            f.overdue = true;
            i += if w == "past" { 2 } else { 1 };
            continue;
        }
        if let Some((len, after, before, label)) = range(toks, i, now) {
            if f.range.is_some() {
                return None;
            }
            f.after = after;
            f.before = before;
            f.range = Some(label);
            i += len;
            continue;
        }
        if let Some((phrase, sort)) = SORTS.iter().find(|(p, _)| starts_with(toks, i, p)) {
            f.sort = Some(*sort);
            i += phrase.split(' ').count();
            continue;
        }
        if matches!(w, "next" | "upcoming") {
            f.next = true;
            i += 1;
            continue;
        }
        if starts_with(toks, i, "up next") || starts_with(toks, i, "coming up") {
            f.next = true;
            i += 2;
            continue;
        }
        if w == "page" {
            if let Some(n) = number(word(i + 1)).filter(|n| *n >= 1) {
                f.page = Some(n);
                i += 2;
                continue;
            }
        }
        if matches!(w, "top" | "first") {
            if let Some(n) = number(word(i + 1)).filter(|n| (1..=100).contains(n)) {
                f.page_size = Some(n);
                i += 2;
                continue;
            }
        }
        if mode != Mode::Search && FILLER.contains(&w) && !toks[i].quoted {
            nouns |= NOUNS.contains(&w);
            i += 1;
            continue;
        }
        left.push(i);
        i += 1;
    }
    if !left.is_empty() {
        match mode {
            Mode::Search | Mode::Show => {
                let mut words: Vec<Tok> = left.iter().map(|i| toks[*i].clone()).collect();
                while words.first().is_some_and(|t| t.is_any(SEARCH_EDGES)) {
                    words.remove(0);
                }
                while words.last().is_some_and(|t| t.is_any(SEARCH_EDGES)) {
                    words.pop();
                }
                let search = trim_text(&join_text(&words)).to_owned();
                if search.chars().count() > MAX_SEARCH_CHARS {
                    return Some(Command::NotUnderstood {
                        understood: format!("a search longer than {MAX_SEARCH_CHARS} characters"),
                        example: super::EXAMPLE_SEARCH,
                    });
                }
                f.search = (!search.is_empty()).then_some(search);
            }
            Mode::Question | Mode::Bare => return None,
        }
    }
    if mode == Mode::Bare && !f.any() && !nouns {
        return None;
    }
    if mode == Mode::Search && f.search.is_none() && !f.any() {
        return Some(Command::NotUnderstood {
            understood: "a search, but not what to look for".into(),
            example: super::EXAMPLE_SEARCH,
        });
    }
    Some(build(f))
}

fn build(mut f: Filters) -> Command {
    f.priorities.sort_unstable();
    f.priorities.dedup();
    f.tags.dedup();
    let status = f.status.unwrap_or(Status::Pending);
    let (sort_by, sort_order, sort_words) = f.sort.unwrap_or(match status {
        Status::Completed if f.range.is_none() => ("updated_at", "desc", ""),
        _ => ("due_at", "asc", ""),
    });
    let mut args = Map::new();
    if let Some(search) = &f.search {
        args.insert("search".into(), json!(search));
    }
    let status_word = match status {
        Status::Pending => "pending",
        Status::Completed => "completed",
        Status::All => "all",
    };
    args.insert("status".into(), json!(status_word));
    if !f.priorities.is_empty() {
        let p: Vec<String> = f.priorities.iter().map(|p| format!("P{p}")).collect();
        args.insert("priority".into(), json!(p.join(",")));
    }
    if !f.tags.is_empty() {
        args.insert("tag".into(), json!(f.tags.join(",")));
    }
    // A bound past year 9999 (or before year 0) bounds nothing, and RFC 3339 cannot say it.
    if let Some(before) = f.before.filter(super::writable) {
        args.insert("due_before".into(), json!(super::rfc3339(before)));
    }
    if let Some(after) = f.after.filter(super::writable) {
        args.insert("due_after".into(), json!(super::rfc3339(after)));
    }
    if f.overdue {
        args.insert("overdue".into(), json!(true));
    }
    args.insert("sort_by".into(), json!(sort_by));
    if sort_order != "asc" || sort_by == "created_at" || sort_by == "updated_at" {
        args.insert("sort_order".into(), json!(sort_order));
    }
    if let Some(page) = f.page {
        args.insert("page".into(), json!(page));
    }
    let page_size = f.page_size.or(f.next.then_some(NEXT_PAGE_SIZE));
    if let Some(size) = page_size {
        args.insert("page_size".into(), json!(size));
    }

    // What it shows, in words: "completed P1 tasks tagged #work matching “x” due today".
    let mut what = String::new();
    let plain = f.search.is_none()
        && f.priorities.is_empty()
        && f.tags.is_empty()
        && !f.overdue
        && f.range.is_none()
        && status == Status::Pending;
    match status {
        Status::All => what.push_str("all "),
        Status::Completed => what.push_str("completed "),
        Status::Pending if f.next => what.push_str("your next "),
        Status::Pending if plain => what.push_str("your "),
        Status::Pending => {}
    }
    if f.overdue {
        what.push_str("overdue ");
    }
    if !f.priorities.is_empty() {
        let p: Vec<String> = f.priorities.iter().map(|p| format!("P{p}")).collect();
        what.push_str(&p.join(" or "));
        what.push(' ');
    }
    what.push_str("tasks");
    if !f.tags.is_empty() {
        let t: Vec<String> = f.tags.iter().map(|t| format!("#{t}")).collect();
        what.push_str(" tagged ");
        what.push_str(&t.join(" or "));
    }
    if let Some(search) = &f.search {
        what.push_str(" matching ");
        what.push_str(&quote(&search.replace('"', "")));
    }
    if let Some(range) = &f.range {
        what.push_str(" due ");
        what.push_str(range);
    }
    if !sort_words.is_empty() {
        what.push(' ');
        what.push_str(sort_words);
    }
    if let Some(size) = f.page_size {
        what.push_str(&format!(", first {size}"));
    }
    if let Some(page) = f.page {
        what.push_str(&format!(", page {page}"));
    }
    Command::List {
        arguments: Value::Object(args),
        what,
    }
}
