//! The built-in assistant's language: plain English commands, in the spirit of Todoist's
//! Quick Add, read into a [`Command`] whose tool arguments are ready for the MCP tools.
//! Pure: no I/O, no clock of its own (the [`Context`] says when and where), no store.
//!
//! - add: "add pay rent every month on the 1st at 9am p1 #home remind me 1 hour before",
//!   "remind me to call mom tomorrow at 6pm", "todo: buy milk", "new task …"; a sentence
//!   without such a verb is never added (it is [`Command::NotUnderstood`], saying what
//!   task it looked like);
//! - list and search: "what's due today", "show overdue", "show #work tasks", "list p1
//!   tasks", "find dentist", "what's next", "show completed tasks", "show all tasks";
//! - complete, reopen, delete: "done with pay rent", "complete 2", "mark 3 as done",
//!   "reopen 2", "undo pay rent", "delete dentist", "remove 3"; a number is a row of the
//!   last list shown, other words name the task by its title;
//! - reschedule and rename: "move dentist to friday 10am", "rename 3 to call the bank";
//! - help: "help", "what can you do".
//!
//! [`quick_add`] reads a sentence as a task to add with the verb optional ("pay rent every
//! month on the 1st p1 #home"): the web app's quick-add line and its preview.
//!
//! How it reads (the choices a person may want to know):
//! - **Times** are read in the context's time zone and sent in UTC, DST-correct (a time that
//!   falls in a DST gap moves past it; one that occurs twice is the first). A date without
//!   a time is due at 09:00 local ("tomorrow evening" 18:00, "tonight" 20:00, "afternoon"
//!   14:00); "today" once 09:00 has passed is 23:59, so the task is not overdue as soon as
//!   it is made. A time without a date is today when still ahead, else tomorrow; with a
//!   recurrence, the first day of the rule from today on ("every month on the 1st" is
//!   due on the next 1st). "in 2 hours" is exact (to the minute); "in 3 days" is a date.
//! - **Days**: "friday" is the next Friday after today (never today); "this friday" may be
//!   today; "next friday" and "next week" are in the week that starts next Monday ("next
//!   week" is that Monday); "next month" is its 1st; "dec 5" without a year is the next
//!   Dec 5 from today on. "5pm", "5 pm", "5:30pm" and "17:00" are times; "9:30" alone is a
//!   24-hour time; a bare hour is a time only after "at" ("at 7": 1-7 are afternoon, 8-12
//!   morning, unless "evening" says otherwise). Short day names ("fri", "sun") count only
//!   after "on", "next", "every", "by", ... so "buy sun cream" keeps its title.
//! - **Add** needs a verb ("add", "new task", "create", "schedule", "remind me (to)",
//!   "remember to", "todo:"). "remind me ..." also sets a reminder at the due time, unless
//!   the sentence says how long before ("remind me 1 hour before") or when ("remind me at
//!   8am": on the due date's day unless a day is said). The title is what no phrase took, as typed, less a
//!   leading "to"; words in "double quotes" are never read as a date or keyword (`add
//!   "friday drinks" tomorrow`); after `//` comes the description. A priority, tag or date
//!   said twice keeps the first and leaves the second in the title.
//! - **Lists** are of pending tasks sorted by due date unless the sentence says otherwise
//!   ("completed": most recently changed first; "all"/"everything": every status). A day
//!   is `due_after` one second before it starts and `due_before` the next day's start (the
//!   bounds are exclusive); "this week" is Monday to Sunday; "what's next" is the first 5.
//!   "due today" is today's tasks only: overdue ones are "show overdue".
//! - **Targets**: a number is a row of the last list shown ("complete 2", "#2", "the
//!   second one"); other words name the task by its title. "undo X" reopens X.
//! - **Nothing unclear is destructive**: a delete (or complete, reopen) needs one task:
//!   not "it", "all", "everything" or "2 and 3"; a delete that mentions part of a task ("remove
//!   the #home tag from 3", "delete the due date of 2") is refused, not read as deleting
//!   the task; verbs that could mean something else ("cancel", "close", "clear") are not
//!   commands.

mod add;
mod describe;
mod list;
mod repeat;
mod when;
mod words;

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::domain::Title;

use when::Now;
use words::{join_raw, match_phrase, ordinal, ordinal_word, starts_with, trim_text, Tok};

pub use describe::{describe, task_line};

/// Where and when a sentence is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    pub now: DateTime<Utc>,
    pub timezone: chrono_tz::Tz,
}

/// What a sentence asks for. Tool arguments are JSON objects ready for the MCP tools;
/// times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `add_task` arguments.
    Add {
        arguments: serde_json::Value,
    },
    /// `list_tasks` arguments; `what` says what they list, e.g. "tasks due today".
    List {
        arguments: serde_json::Value,
        what: String,
    },
    Complete(Target),
    Reopen(Target),
    Delete(Target),
    Reschedule {
        target: Target,
        /// Where the words alone put it (and a task without a due date).
        due_at: DateTime<Utc>,
        /// What stays of the task's own due date (`moved`).
        keep: Keep,
    },
    Rename {
        target: Target,
        title: String,
        /// The other readings of a sentence with several "to"s, as (a task's words, the new
        /// title): "rename talk to anna to talk to Anna and Ben". The one whose words are a
        /// task's whole title wins (the chat looks).
        or: Vec<(String, String)>,
    },
    Help,
    /// What was recognised ("nothing", "delete, but not which task"), and a sentence to try.
    NotUnderstood {
        understood: String,
        example: &'static str,
    },
}

impl Command {
    /// The same action on task `n` of the last list shown: the answer to "which one?"
    /// applied to the sentence that asked it. `None` for a command that names no task.
    pub fn on_number(self, n: usize) -> Option<Command> {
        let number = Target::Number(n);
        Some(match self {
            Command::Complete(_) => Command::Complete(number),
            Command::Reopen(_) => Command::Reopen(number),
            Command::Delete(_) => Command::Delete(number),
            Command::Reschedule { due_at, keep, .. } => Command::Reschedule {
                target: number,
                due_at,
                keep,
            },
            Command::Rename { title, .. } => Command::Rename {
                target: number,
                title,
                or: Vec::new(),
            },
            _ => return None,
        })
    }
}

/// A message that is only a row of a list ("2", "#2", "the second one", "number 2
/// please"): an answer to "which one?".
pub fn choice(message: &str) -> Option<usize> {
    match target(courtesy(&words::tokenize(message))) {
        Ok(Target::Number(n)) => Some(n),
        _ => None,
    }
}

/// Which task a command means: a number from the last list shown ("complete 2"), or words
/// of its title ("done with pay rent").
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Number(usize),
    Words(String),
}

const EXAMPLE_ADD: &str = "add buy milk tomorrow at 5pm #home p1";
const EXAMPLE_REMINDER: &str = "add pay rent tomorrow at 9am remind me 1 hour before";
const EXAMPLE_ENDS: &str = "add take pills every day at 8am until friday";
const EXAMPLE_SEARCH: &str = "find dentist";
const EXAMPLE_COMPLETE: &str = "complete 2";
const EXAMPLE_REOPEN: &str = "reopen 2";
const EXAMPLE_DELETE: &str = "delete 2";
const EXAMPLE_MOVE: &str = "move 2 to friday 10am";
const EXAMPLE_RENAME: &str = "rename 3 to call the bank";
const EXAMPLE_MARK: &str = "mark 3 as done";

/// The longest target the assistant looks up by its words (as long as a search can be).
const MAX_TARGET_CHARS: usize = crate::domain::list::MAX_SEARCH_CHARS;

/// `t` in RFC 3339, with its fraction of a second only when it has one (a day's range ends
/// a microsecond before midnight).
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Whether an instant can be sent as a task's time (`domain::in_writable_years`).
fn writable(t: &DateTime<Utc>) -> bool {
    crate::domain::in_writable_years(t)
}

fn not_understood(understood: impl Into<String>, example: &'static str) -> Command {
    Command::NotUnderstood {
        understood: understood.into(),
        example,
    }
}

/// Courtesies around a command ("please", "can you", "thanks"), removed before reading it.
const COURTESY_BEFORE: &[&str] = &[
    "please",
    "pls",
    "plz",
    "can you",
    "could you",
    "would you",
    "will you",
    "can u",
    "hey",
    "hi",
    "hello",
    "ok",
    "okay",
    "so",
    "now",
    "i want to",
    "i'd like to",
    "i would like to",
    "let's",
    "lets",
];
const COURTESY_AFTER: &[&str] = &["please", "pls", "thanks", "thank you", "thx", "for me", ""];
const GREETINGS: &[&str] = &["hi", "hello", "hey", "yo", "hiya", "howdy", "morning"];

const HELP: &[&str] = &[
    "help",
    "?",
    "what can you do",
    "what can i do",
    "what can i say",
    "what do you do",
    "what do you understand",
    "how does this work",
    "how does it work",
    "how do i use this",
    "how do i use you",
    "how do you work",
    "commands",
    "examples",
    "usage",
    "menu",
    "show help",
    "what are the commands",
    "who are you",
];

/// Verbs that add a task; `true` when the verb needs a colon ("todo: ...").
const ADD: &[(&str, bool)] = &[
    ("add a new task", false),
    ("add new task", false),
    ("add a task", false),
    ("add task", false),
    ("add", false),
    ("create a new task", false),
    ("create a task", false),
    ("create task", false),
    ("create", false),
    ("new task", false),
    ("remember to", false),
    ("don't forget to", false),
    ("dont forget to", false),
    ("schedule", false),
    ("task", true),
    ("todo", true),
    ("to-do", true),
    ("to do", true),
    ("new", true),
];
/// Where a task is added to, said at its end ("add milk to my list").
const ADD_WHERE: &[&str] = &[
    "to my todo list",
    "to my to-do list",
    "to my task list",
    "to my tasks",
    "to my list",
    "to the list",
    "to the todo list",
    "to my todos",
    "on my list",
    "to list",
];

const COMPLETE: &[&str] = &[
    "i'm done with",
    "im done with",
    "i am done with",
    "i'm finished with",
    "i am finished with",
    "done with",
    "finished with",
    "i've finished",
    "i have finished",
    "i finished",
    "i've completed",
    "i have completed",
    "i completed",
    "i've done",
    "i have done",
    "i did",
    "complete",
    "completed",
    "finish",
    "finished",
    "done",
    "check off",
    "tick off",
    "cross off",
];
const REOPEN: &[&str] = &[
    "reopen",
    "re-open",
    "re open",
    "undo",
    "uncomplete",
    "un-complete",
    "unfinish",
    "unmark",
    "mark as not done",
];
const DELETE: &[&str] = &[
    "delete",
    "remove",
    "trash",
    "erase",
    "del",
    "get rid of",
    "discard",
    "throw away",
];
const RESCHEDULE: &[&str] = &[
    "reschedule",
    "move",
    "postpone",
    "push back",
    "push",
    "defer",
    "delay",
    "snooze",
    "change the due date of",
    "change the due date for",
    "change due date of",
    "change the date of",
    "set the due date of",
    "set the due date for",
    "set due date of",
];
const RENAME: &[&str] = &[
    "rename",
    "retitle",
    "change the title of",
    "change title of",
    "change the name of",
    "change name of",
];
const CHANGE: &[&str] = &["change", "update", "edit"];

/// Words that say a task is done ("mark 3 as done", "pay rent is done").
const DONE_WORDS: &[&str] = &[
    "done",
    "complete",
    "completed",
    "finished",
    "checked",
    "ticked",
];
/// Words that say a task is not done ("mark 3 as not done").
const NOT_DONE: &[&str] = &[
    "not done",
    "undone",
    "not complete",
    "not completed",
    "incomplete",
    "uncompleted",
    "pending",
    "open",
    "todo",
    "to do",
    "not finished",
    "unfinished",
];

/// Reads one sentence.
/// What a move keeps of the task's own due date: its day when only a time was said ("to
/// 6pm"), its time of day when only a day was said ("to saturday").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Nothing,
    /// The task's day (unless it is past), at this local time.
    Day(NaiveTime),
    /// The task's local time of day, on this date.
    Time(NaiveDate),
}

/// Where a move puts a task due at `task_due`: what `keep` keeps of that due date, in the
/// user's time zone, or `due_at` (what the words alone say) for a task with no due date
/// or one due on a day already past.
pub fn moved(
    due_at: DateTime<Utc>,
    keep: Keep,
    task_due: Option<DateTime<Utc>>,
    context: &Context,
) -> DateTime<Utc> {
    let Some(task_due) = task_due else {
        return due_at;
    };
    let tz = context.timezone;
    let local_due = task_due.with_timezone(&tz);
    let today = context.now.with_timezone(&tz).date_naive();
    let kept = match keep {
        Keep::Nothing => None,
        Keep::Day(_) if local_due.date_naive() < today => None,
        Keep::Day(time) => when::local(tz, local_due.date_naive(), time),
        Keep::Time(date) => when::local(tz, date, local_due.time()),
    };
    kept.filter(writable).unwrap_or(due_at)
}

/// Whether `title` says each of `words` other than stop words: some word of the title
/// starts with it, or it starts with a word of the title ("calls" says "call"), in lower
/// case. Before acting on a task named by its words: the search that found it also looks
/// in descriptions and tags, and a person names a task by its title.
pub fn title_says(title: &str, words: &str) -> bool {
    let split = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let title = split(title);
    let wanted: Vec<String> = split(words)
        .into_iter()
        .filter(|w| !crate::domain::text::is_stop_word(w))
        .collect();
    !wanted.is_empty()
        && wanted.iter().all(|w| {
            title.iter().any(|t| {
                t.starts_with(w.as_str()) || (t.chars().count() >= 3 && w.starts_with(t.as_str()))
            })
        })
}

pub fn parse(message: &str, context: &Context) -> Command {
    let now = Now::new(context.now, context.timezone);
    let all = words::tokenize(message);
    let toks = courtesy(&all);
    if toks.is_empty() {
        return if all.iter().any(|t| t.is_any(GREETINGS)) {
            Command::Help
        } else {
            not_understood("nothing", EXAMPLE_ADD)
        };
    }
    let whole = |phrases: &[&str]| {
        phrases
            .iter()
            .any(|p| starts_with(toks, 0, p) && p.split(' ').count() == toks.len())
    };
    if whole(HELP) || toks[0].is("help") {
        return Command::Help;
    }
    if let Some((len, remind_me)) = add_verb(toks) {
        let rest = without_where(&toks[len..]);
        if rest.is_empty() {
            return not_understood("a new task, but not its title", EXAMPLE_ADD);
        }
        return add::command(rest, message, &now, remind_me);
    }
    if toks[0].is("mark") {
        return mark(&toks[1..]);
    }
    if toks[0].is_any(&["check", "tick", "cross"])
        && toks.len() > 2
        && toks[toks.len() - 1].is("off")
    {
        return with_target(
            "complete",
            &toks[1..toks.len() - 1],
            Command::Complete,
            EXAMPLE_COMPLETE,
        );
    }
    if let Some(len) = match_phrase(toks, 0, COMPLETE) {
        return with_target(
            "complete",
            &toks[len..],
            Command::Complete,
            EXAMPLE_COMPLETE,
        );
    }
    if let Some(len) = match_phrase(toks, 0, REOPEN) {
        return with_target("reopen", &toks[len..], Command::Reopen, EXAMPLE_REOPEN);
    }
    if let Some(len) = match_phrase(toks, 0, DELETE) {
        return delete(&toks[len..]);
    }
    if let Some(len) = match_phrase(toks, 0, RESCHEDULE) {
        return reschedule(&toks[len..], &now).unwrap_or_else(|| cannot_move(&toks[len..]));
    }
    if let Some(len) = match_phrase(toks, 0, RENAME) {
        return rename(&toks[len..]);
    }
    if let Some(len) = match_phrase(toks, 0, CHANGE) {
        return change(&toks[len..], &now);
    }
    if let Some(list) = list::command(toks, &now) {
        return list;
    }
    // "is the report done?" asks; it does not say so.
    let question = message.trim_end().ends_with('?')
        || toks[0].is_any(&[
            "is", "are", "was", "were", "did", "do", "does", "has", "have", "had",
        ]);
    if let Some(command) = done_at_end(toks).filter(|_| !question) {
        return command;
    }
    // No verb: if it reads as a task, say so, but do not add it.
    if let Command::Add { arguments } = add::command(toks, message, &now, false) {
        if add::draft(toks, message, &now, false).recognised() {
            return not_understood(
                format!(
                    "{}, but not what to do with it",
                    describe::task_summary(&arguments, context)
                ),
                EXAMPLE_ADD,
            );
        }
    }
    not_understood("nothing", EXAMPLE_ADD)
}

/// Reads one sentence as a task to add, Quick Add style: the add verb is optional ("pay
/// rent every month on the 1st p1 #home" is a task, and so is "add pay rent ..."). Answers
/// `Command::Add`, or `Command::NotUnderstood` saying why it is not a task that can be
/// added; never another command, so a preview of it can be saved as it is shown.
pub fn quick_add(message: &str, context: &Context) -> Command {
    let now = Now::new(context.now, context.timezone);
    let all = words::tokenize(message);
    let toks = courtesy(&all);
    let (toks, remind_me) = match add_verb(toks) {
        Some((len, remind_me)) => (without_where(&toks[len..]), remind_me),
        None => (without_where(toks), false),
    };
    if toks.is_empty() {
        return not_understood("nothing to add yet", EXAMPLE_ADD);
    }
    add::command(toks, message, &now, remind_me)
}

/// The words without courtesies at either end.
fn courtesy<'t, 'a>(toks: &'t [Tok<'a>]) -> &'t [Tok<'a>] {
    let mut toks = toks;
    while let Some(len) = match_phrase(toks, 0, COURTESY_BEFORE) {
        toks = &toks[len..];
    }
    loop {
        let end = COURTESY_AFTER.iter().find_map(|p| {
            let len = if p.is_empty() {
                1
            } else {
                p.split(' ').count()
            };
            let at = toks.len().checked_sub(len)?;
            let hit = if p.is_empty() {
                toks[at].is("")
            } else {
                starts_with(toks, at, p)
            };
            hit.then_some(at)
        });
        match end {
            Some(at) => toks = &toks[..at],
            None => return toks,
        }
    }
}

/// The verb that adds a task, if the sentence starts with one: its length in words, and
/// whether it was "remind me" (which asks for a reminder).
fn add_verb(toks: &[Tok]) -> Option<(usize, bool)> {
    if starts_with(toks, 0, "remind me") {
        // "remind me 1 hour before ..." is a reminder phrase; the task follows anyway.
        return Some((2, true));
    }
    ADD.iter()
        .filter(|(p, _)| starts_with(toks, 0, p))
        .filter(|(p, colon)| {
            let len = p.split(' ').count();
            !colon || toks[len - 1].raw.ends_with(':')
        })
        .map(|(p, _)| (p.split(' ').count(), false))
        .max()
}

/// The words without a trailing "to my list".
fn without_where<'t, 'a>(toks: &'t [Tok<'a>]) -> &'t [Tok<'a>] {
    for p in ADD_WHERE {
        let len = p.split(' ').count();
        if let Some(at) = toks.len().checked_sub(len) {
            if at > 0 && starts_with(toks, at, p) {
                return &toks[..at];
            }
        }
    }
    toks
}

/// Why the words do not name one task.
enum Vague {
    Missing,
    Pronoun(String),
    Several,
    TooLong,
}

/// Words around a task's number or title that are not part of it.
const TARGET_BEFORE: &[&str] = &[
    "the", "my", "task", "item", "todo", "number", "no", "#", "with",
];
const TARGET_AFTER: &[&str] = &[
    "task", "item", "one", "todo", "again", "off", "now", "today",
];
const PRONOUNS: &[&str] = &[
    "it",
    "that",
    "this",
    "them",
    "those",
    "these",
    "that one",
    "this one",
    "last one",
    "the last one",
    "same",
    "him",
    "her",
];
const SEVERAL: &[&str] = &["all", "everything", "every", "each", "both", "any", "tasks"];

/// A number in a target: "2", "#2", "2nd", "second".
fn row_number(word: &str) -> Option<usize> {
    let w = word.trim_start_matches('#');
    let w = w.strip_prefix("no.").unwrap_or(w);
    if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
        // A number too large to be a row is no row (0 is refused as "not which task").
        return Some(w.parse().unwrap_or(0));
    }
    ordinal(w).or_else(|| ordinal_word(w)).map(|n| n as usize)
}

/// Which task the words name.
fn target(toks: &[Tok]) -> Result<Target, Vague> {
    let mut toks = toks;
    while toks.first().is_some_and(|t| t.is_any(TARGET_BEFORE)) {
        toks = &toks[1..];
    }
    while toks.last().is_some_and(|t| t.is_any(TARGET_AFTER)) {
        toks = &toks[..toks.len() - 1];
    }
    let Some(first) = toks.first() else {
        return Err(Vague::Missing);
    };
    let text = trim_text(&join_raw(toks)).to_owned();
    if text.is_empty() {
        return Err(Vague::Missing);
    }
    if first.is_any(SEVERAL) {
        return Err(Vague::Several);
    }
    let lower = text.to_lowercase();
    if toks.iter().all(|t| !t.quoted) && PRONOUNS.contains(&lower.as_str()) {
        return Err(Vague::Pronoun(text));
    }
    let numbers: Vec<Option<usize>> = toks
        .iter()
        .filter(|t| !t.is_any(&["and", "&", "", "or"]))
        .map(|t| if t.quoted { None } else { row_number(&t.norm) })
        .collect();
    if numbers.iter().all(Option::is_some) {
        return match numbers[..] {
            [Some(n)] if n >= 1 => Ok(Target::Number(n)),
            [Some(_)] => Err(Vague::Missing),
            _ => Err(Vague::Several),
        };
    }
    if text.chars().count() > MAX_TARGET_CHARS {
        return Err(Vague::TooLong);
    }
    Ok(Target::Words(text))
}

fn vague(verb: &str, why: Vague, example: &'static str) -> Command {
    let understood = match why {
        Vague::Missing => format!("{verb}, but not which task"),
        Vague::Pronoun(word) => format!("{verb} {}, but not which task that is", add::quote(&word)),
        Vague::Several => format!("{verb} several tasks at once; I do one task at a time"),
        Vague::TooLong => format!("{verb}, but the task's words are too long to look up"),
    };
    not_understood(understood, example)
}

fn with_target(
    verb: &str,
    toks: &[Tok],
    make: fn(Target) -> Command,
    example: &'static str,
) -> Command {
    match target(toks) {
        Ok(t) => make(t),
        Err(why) => vague(verb, why, example),
    }
}

/// Words that, in a delete, mean part of a task rather than the task ("remove the #home tag
/// from 3", "delete the reminder of dentist").
const PART_OF_A_TASK: &[&str] = &[
    "from",
    "tag",
    "tags",
    "label",
    "labels",
    "reminder",
    "reminders",
    "due",
    "date",
    "deadline",
    "priority",
    "recurrence",
    "repeat",
    "repeating",
    "description",
    "note",
    "notes",
];

fn delete(toks: &[Tok]) -> Command {
    if toks.iter().any(|t| {
        t.is_any(PART_OF_A_TASK)
            || (!t.quoted
                && t.norm.starts_with('#')
                && t.norm.len() > 1
                && row_number(&t.norm).is_none())
    }) {
        return not_understood(
            "removing part of a task (a tag, a date, a reminder); I can only delete a whole task",
            EXAMPLE_DELETE,
        );
    }
    with_target("delete", toks, Command::Delete, EXAMPLE_DELETE)
}

/// "mark 3 as done", "mark pay rent complete", "mark 2 as not done".
fn mark(toks: &[Tok]) -> Command {
    for (k, t) in toks.iter().enumerate() {
        let state_at = if t.is("as") { k + 1 } else { k };
        if state_at >= toks.len() || k == 0 {
            continue;
        }
        let tail_len = toks.len() - state_at;
        let is = |list: &[&str]| {
            list.iter()
                .any(|p| p.split(' ').count() == tail_len && starts_with(toks, state_at, p))
        };
        if is(NOT_DONE) {
            return with_target("reopen", &toks[..k], Command::Reopen, EXAMPLE_REOPEN);
        }
        if is(DONE_WORDS) {
            return with_target("complete", &toks[..k], Command::Complete, EXAMPLE_COMPLETE);
        }
    }
    if let Some(len) = match_phrase(toks, 0, &["as not done", "not done", "as undone", "undone"]) {
        return with_target("reopen", &toks[len..], Command::Reopen, EXAMPLE_REOPEN);
    }
    if let Some(len) = match_phrase(toks, 0, &["as done", "done", "off", "complete"]) {
        return with_target(
            "complete",
            &toks[len..],
            Command::Complete,
            EXAMPLE_COMPLETE,
        );
    }
    let at = toks.iter().position(|t| t.is("as")).unwrap_or(toks.len());
    let what = match target(&toks[..at]) {
        Ok(Target::Number(n)) => format!("task {n}"),
        Ok(Target::Words(w)) => add::quote(&w),
        Err(_) => return not_understood("mark, but not which task or as what", EXAMPLE_MARK),
    };
    let understood = if at + 1 < toks.len() {
        format!(
            "mark {what} as {}, but I can only mark a task done or not done",
            add::quote(trim_text(&join_raw(&toks[at + 1..])))
        )
    } else {
        format!("mark {what}, but not as what")
    };
    not_understood(understood, EXAMPLE_MARK)
}

/// "pay rent is done", "2 done", "buy milk completed".
fn done_at_end(toks: &[Tok]) -> Option<Command> {
    let tails = [
        "is done",
        "is finished",
        "is complete",
        "is completed",
        "done",
        "finished",
        "completed",
    ];
    tails.iter().find_map(|tail| {
        let at = toks.len().checked_sub(tail.split(' ').count())?;
        (at > 0 && starts_with(toks, at, tail))
            .then(|| with_target("complete", &toks[..at], Command::Complete, EXAMPLE_COMPLETE))
    })
}

/// "move dentist to friday 10am": the target, then a when that takes all the words after it.
fn reschedule(toks: &[Tok], now: &Now) -> Option<Command> {
    // The when is at most a dozen words; its start is tried from the left so that the
    // target keeps words such as "go to gym" in "move go to gym to friday".
    let from = toks.len().saturating_sub(12).max(1);
    for k in from..toks.len() {
        let Some(when) = when::whole(&toks[k..], now) else {
            continue;
        };
        let Some(due_at) = when.resolve(now, None).filter(writable) else {
            return Some(not_understood(
                format!(
                    "move, but {} is not a date I can use",
                    trim_text(&join_raw(&toks[k..]))
                ),
                EXAMPLE_MOVE,
            ));
        };
        let keep = match (
            when.instant,
            when.date,
            when.clock.is_some() || when.part.is_some(),
        ) {
            (None, None, true) => Keep::Day(due_at.with_timezone(&now.tz).time()),
            (None, Some(date), false) => Keep::Time(date),
            _ => Keep::Nothing,
        };
        return Some(match target(&toks[..k]) {
            Ok(target) => Command::Reschedule {
                target,
                due_at,
                keep,
            },
            Err(why) => vague("move", why, EXAMPLE_MOVE),
        });
    }
    None
}

fn cannot_move(toks: &[Tok]) -> Command {
    let what = match target(toks) {
        Ok(Target::Number(n)) => format!("task {n}"),
        Ok(Target::Words(w)) => add::quote(&w),
        Err(_) => return not_understood("move, but not which task or to when", EXAMPLE_MOVE),
    };
    not_understood(format!("move {what}, but not to when"), EXAMPLE_MOVE)
}

/// "rename 3 to call the bank", "rename dentist as dentist (Dr. Who)".
fn rename(toks: &[Tok]) -> Command {
    let Some(k) = (1..toks.len().saturating_sub(1)).find(|&k| toks[k].is_any(&["to", "as"])) else {
        return match target(toks) {
            Ok(_) | Err(Vague::TooLong) => {
                not_understood("rename, but not the new title", EXAMPLE_RENAME)
            }
            Err(why) => vague("rename", why, EXAMPLE_RENAME),
        };
    };
    let title = trim_text(&join_raw(&toks[k + 1..])).to_owned();
    let title = match Title::parse(&title) {
        Ok(t) => t.as_str().to_owned(),
        Err(why) => return not_understood(format!("rename, but {}", why.message), EXAMPLE_RENAME),
    };
    let or = (k + 1..toks.len().saturating_sub(1))
        .filter(|&j| toks[j].is_any(&["to", "as"]))
        .filter_map(|j| {
            let Ok(Target::Words(words)) = target(&toks[..j]) else {
                return None;
            };
            let title = Title::parse(trim_text(&join_raw(&toks[j + 1..]))).ok()?;
            Some((words, title.as_str().to_owned()))
        })
        .collect();
    match target(&toks[..k]) {
        Ok(target) => Command::Rename { target, title, or },
        Err(why) => vague("rename", why, EXAMPLE_RENAME),
    }
}

/// "change 3 to friday" (a date: reschedule) or "change 3 to call the bank" (a title).
/// A new "title" that is only a priority or tags ("change 3 to p1") is not a title.
fn change(toks: &[Tok], now: &Now) -> Command {
    if let Some(command) = reschedule(toks, now) {
        return command;
    }
    if let Some(k) = (1..toks.len()).find(|&k| toks[k].is("to")) {
        let rest = &toks[k + 1..];
        let draft = add::draft(rest, "", now, false);
        if !rest.is_empty() && draft.title.is_empty() {
            return not_understood(
                "a change to a task's priority, tags or reminder, which I cannot make yet",
                EXAMPLE_RENAME,
            );
        }
    }
    rename(toks)
}
