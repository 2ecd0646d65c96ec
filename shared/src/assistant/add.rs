//! Quick Add: a task in one sentence ("pay rent every month on the 1st at 9am p1 #home
//! remind me 1 hour before"). Each word is tried, left to right, as the start of a tag, a
//! priority, a reminder, a recurrence or a date/time phrase; what no phrase took is the title.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use crate::domain::text::short;
use crate::domain::{
    parse_reminder_minutes, Description, Priority, Recurrence, TagName, Title,
    MAX_RECURRENCE_DEPTH, MAX_TAGS_PER_TASK,
};

use super::repeat::{self, End, Repeat};
use super::when::{self, Now, Piece, When};
use super::words::{join_raw, quantity, starts_with, trim_text, Tok, Unit};
use super::{Command, EXAMPLE_ADD, EXAMPLE_ENDS, EXAMPLE_REMINDER};

/// Words before a date or time that belong to it ("on friday", "at 5pm", "due tomorrow").
const BEFORE_WHEN: &[&str] = &["on", "at", "@", "by", "due", "for", "starting", "from"];
/// Words before a recurrence that belong to it ("repeating every week", "on the 1st of every month").
const BEFORE_REPEAT: &[&str] = &[
    "repeat",
    "repeats",
    "repeating",
    "recurring",
    "on",
    "starting",
];
/// Words left hanging once the phrases around them are taken ("call mom and [remind me ...]").
const DANGLING: &[&str] = &["and", "&", "+", "with", "also", "then", "-", "", "plus"];

/// A task as read from a sentence, before it is checked.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub title: String,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub when: When,
    pub repeat: Option<Repeat>,
    /// Where the recurrence ends ("5 times", "until friday").
    pub end: Option<End>,
    /// An end that cannot be used: said twice, or "until" a time rather than a day.
    pub bad_end: bool,
    /// Minutes before the due time.
    pub reminder: Option<u32>,
    /// "remind me" without an amount: at the due time.
    pub remind: bool,
    /// "remind me at 8am", "remind me on thursday": when to remind, in the due date's day
    /// when no day is said.
    pub remind_at: Option<When>,
    /// A tag that is not a valid tag name, and why.
    pub bad_tag: Option<(String, String)>,
}

impl Draft {
    /// Whether any phrase besides the title was recognised.
    pub fn recognised(&self) -> bool {
        self.priority.is_some()
            || !self.tags.is_empty()
            || !self.when.is_empty()
            || self.repeat.is_some()
            || self.reminder.is_some()
    }
}

/// `p1`, `priority 2`, `urgent`, `high priority`: the priority and the words taken.
fn priority(toks: &[Tok], at: usize) -> Option<(usize, Priority)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let level = |w: &str| match w {
        "p1" | "urgent" | "top" => Some(1),
        "p2" | "high" => Some(2),
        "p3" | "medium" | "normal" => Some(3),
        "p4" | "low" => Some(4),
        _ => None,
    };
    let w = word(at);
    let found = match w {
        "p1" | "p2" | "p3" | "p4" | "urgent" => Some((1, level(w)?)),
        "priority" | "prio" => {
            let next = word(at + 1);
            let n = match next {
                "1" | "2" | "3" | "4" => next.parse().ok(),
                _ => level(next),
            };
            n.map(|n| (2, n))
        }
        "high-priority" | "top-priority" => Some((1, if w == "top-priority" { 1 } else { 2 })),
        "low-priority" => Some((1, 4)),
        _ => match word(at + 1) {
            "priority" | "prio" => level(w).map(|n| (2, n)),
            _ => None,
        },
    }?;
    Some((found.0, Priority::from_level(found.1)?))
}

/// "remind me 1 hour before", "reminder 30 min before", "2 days in advance", "remind me the
/// day before", "remind me": minutes before the due time (`None` for "remind me" alone) and
/// the words taken. `led`: a sentence's "remind me" came just before `at`.
fn reminder(toks: &[Tok], at: usize, led: bool) -> Option<(usize, Option<u32>)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let lead = [
        "with a reminder",
        "with reminder",
        "remind me",
        "reminder",
        "remind",
        "alert me",
        "notify me",
    ]
    .iter()
    .find(|p| starts_with(toks, at, p))
    .map_or(0, |p| p.split(' ').count());
    let i = at + lead;
    // A count too large to read ("remind me 99999999 minutes before") is still a reminder,
    // one too far ahead, which the check of its minutes refuses with a reason; read as
    // words it would end up in the title.
    let too_large = || {
        let digits = toks.get(i)?.word();
        let unit = Unit::parse(toks.get(i + 1)?.word())?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some((
            u32::MAX,
            unit,
            2,
        ))
    };
    // "remind me the day before": one of the unit (after a reminder's words only: "the day
    // before the party" is a title).
    let the_unit = || {
        let unit = Unit::parse(word(i + 1)).filter(|_| (lead > 0 || led) && word(i) == "the")?;
        Some((1, unit, 2))
    };
    if let Some((n, unit, len)) = quantity(toks, i).or_else(too_large).or_else(the_unit) {
        let per = unit.minutes()?;
        let after = i + len;
        let tail = match word(after) {
            "before" | "earlier" | "ahead" | "prior" | "beforehand" => 1,
            "in" if word(after + 1) == "advance" => 2,
            _ => return None,
        };
        let minutes = n.saturating_mul(per);
        return Some((lead + len + tail, Some(minutes)));
    }
    // "remind me" alone (not "remind me to ...", which starts a task).
    (lead == 2 && word(at) == "remind" && !matches!(word(i), "to" | "about" | "that" | "of"))
        .then_some((2, None))
}

/// Reads a task from its words (the verb already removed; `remind_me`: it was "remind me").
pub(super) fn draft(toks: &[Tok], message: &str, now: &Now, remind_me: bool) -> Draft {
    let mut d = Draft::default();
    // Todoist's "//": what follows is the description, as typed.
    let toks = match toks.iter().position(|t| t.is("//")) {
        Some(k) => {
            let text = message.get(toks[k].start + 2..).unwrap_or("").trim();
            d.description = (!text.is_empty()).then(|| text.to_owned());
            &toks[..k]
        }
        None => toks,
    };
    let n = toks.len();
    let mut used = vec![false; n];
    // A phrase never reaches into quoted words.
    let mut next_quoted = vec![n; n + 1];
    for i in (0..n).rev() {
        next_quoted[i] = if toks[i].quoted {
            i
        } else {
            next_quoted[i + 1]
        };
    }
    // Where the recurrence phrase ended, and each end said after it: (at, words, the end,
    // whether only phrases came between the rule and it).
    let mut after_repeat = None;
    let mut ends: Vec<(usize, usize, Option<End>, bool)> = Vec::new();
    let mut i = 0;
    while i < n {
        if used[i] || toks[i].quoted {
            i += 1;
            continue;
        }
        let window = &toks[..next_quoted[i]];
        let prev = if i > 0 && !used[i - 1] {
            toks[i - 1].word()
        } else {
            ""
        };
        let w = toks[i].word();
        let mut before: &[&str] = &[];
        let mut taken = None;
        if let Some(tag) = w.strip_prefix('#').map(|t| t.trim_start_matches('#')) {
            if !tag.is_empty() {
                match TagName::parse(tag) {
                    Ok(name) => {
                        if !d.tags.iter().any(|t| t == name.as_str()) {
                            d.tags.push(name.as_str().to_owned());
                        }
                    }
                    Err(why) => d.bad_tag = Some((tag.to_owned(), why)),
                }
                taken = Some(1);
            }
        }
        if taken.is_none() && d.priority.is_none() {
            if let Some((len, p)) = priority(window, i) {
                d.priority = Some(p);
                taken = Some(len);
            }
        }
        let free = d.reminder.is_none() && !d.remind && d.remind_at.is_none();
        if taken.is_none() && free && starts_with(window, i, "remind me") {
            // "remind me at 8am", "remind me on thursday at 5pm", "remind me tomorrow"
            let mut at = When::default();
            let mut j = i + 2;
            loop {
                let skip = usize::from(window.get(j).is_some_and(|t| t.is("on")));
                match when::phrase(window, j + skip, "on", now) {
                    Some((len, piece)) if at.merge(piece) => j += skip + len,
                    _ => break,
                }
            }
            if !at.is_empty() {
                d.remind_at = Some(at);
                taken = Some(j - i);
            }
        }
        if taken.is_none() && free {
            if let Some((len, minutes)) = reminder(window, i, remind_me && i == 0) {
                d.reminder = minutes;
                d.remind = minutes.is_none();
                taken = Some(len);
            }
        }
        if taken.is_none() && d.repeat.is_none() {
            if let Some((len, rule, part)) = repeat::phrase(window, i) {
                d.repeat = Some(rule);
                after_repeat = Some(i + len);
                if let Some(part) = part {
                    d.when.merge(Piece::Part(part));
                }
                taken = Some(len);
                before = BEFORE_REPEAT;
            }
        }
        if let (None, Some(rule_end)) = (taken, after_repeat) {
            if let Some((len, end)) = repeat::end(window, i, now) {
                let adjacent = used[rule_end..i].iter().all(|u| *u);
                ends.push((i, len, end, adjacent));
                taken = Some(len);
            }
        }
        if taken.is_none() {
            if let Some((len, piece)) = when::phrase(window, i, prev, now) {
                if d.when.merge(piece) {
                    taken = Some(len);
                    before = BEFORE_WHEN;
                }
            }
        }
        match taken {
            Some(len) => {
                used[i..i + len].iter_mut().for_each(|u| *u = true);
                // "due on friday": up to two joining words before the phrase
                let mut j = i;
                while j > 0 && i - j < 2 && !used[j - 1] && toks[j - 1].is_any(before) {
                    j -= 1;
                    used[j] = true;
                }
                i += len;
            }
            None => i += 1,
        }
    }
    // Away from the rule ("every day take pills 3 times daily"), an end must close the
    // sentence, with nothing but other phrases after it; else its words are the title's.
    let mut kept = Vec::new();
    for &(at, len, end, adjacent) in ends.iter().rev() {
        let closes = !used[at + len..].contains(&false) && kept.is_empty();
        if adjacent || closes {
            kept.push(end);
        } else {
            used[at..at + len].iter_mut().for_each(|u| *u = false);
        }
    }
    match kept.as_slice() {
        [] => {}
        [Some(end)] => d.end = Some(*end),
        // "every day 5 times until friday", "every day until 5pm"
        _ => d.bad_end = true,
    }
    d.title = title(toks, &used);
    d
}

/// The words no phrase took, with joining words left hanging at the end removed.
fn title(toks: &[Tok], used: &[bool]) -> String {
    let mut keep: Vec<usize> = (0..toks.len()).filter(|i| !used[*i]).collect();
    while let Some(&last) = keep.last() {
        let hanging = toks[last].is_any(DANGLING)
            && (last + 1 == toks.len() || used[last + 1])
            && (last + 1 < toks.len() || keep.len() > 1);
        if !hanging {
            break;
        }
        keep.pop();
    }
    let words: Vec<Tok> = keep.iter().map(|i| toks[*i].clone()).collect();
    trim_text(&join_raw(&words)).to_owned()
}

/// Removes a leading "to" ("remind me to call mom"), and after "remind me" also "about" or
/// "that".
pub(super) fn strip_lead(title: &str, remind: bool) -> String {
    let mut t = title.trim();
    let leads: &[&str] = if remind {
        &["to ", "about ", "that "]
    } else {
        &["to "]
    };
    for lead in leads {
        if t.len() > lead.len()
            && t.is_char_boundary(lead.len())
            && t[..lead.len()].eq_ignore_ascii_case(lead)
        {
            t = t[lead.len()..].trim_start();
            break;
        }
    }
    t.to_owned()
}

fn not_understood(understood: String, example: &'static str) -> Command {
    Command::NotUnderstood {
        understood,
        example,
    }
}

/// A short quote of a title for a reply: “pay rent”.
pub(super) fn quote(text: &str) -> String {
    format!("\u{201C}{}\u{201D}", short(text, 60))
}

/// The `add_task` command for a sentence after its verb, or what was understood of it.
/// `remind_me`: the sentence began "remind me (to)", which asks for a reminder at the due
/// time unless it says how long before.
pub(super) fn command(toks: &[Tok], message: &str, now: &Now, remind_me: bool) -> Command {
    let mut d = draft(toks, message, now, remind_me);
    d.title = strip_lead(&d.title, remind_me);
    if let Some((tag, why)) = d.bad_tag {
        return not_understood(
            format!(
                "a task tagged #{}, but {}",
                short(&tag, 30),
                short(&why, 120)
            ),
            EXAMPLE_ADD,
        );
    }
    if d.tags.len() > MAX_TAGS_PER_TASK {
        return not_understood(
            format!("a task with more than {MAX_TAGS_PER_TASK} tags"),
            EXAMPLE_ADD,
        );
    }
    // "every hour", "every 3 hours", "hourly": the grammar repeats at most daily.
    let sub_daily = |t: &Tok| t.is_any(&["hour", "hours", "minute", "minutes", "min", "mins"]);
    let too_often = toks.iter().enumerate().any(|(i, t)| {
        let next = |k: usize| toks.get(i + k);
        t.is("hourly")
            || (t.is_any(&["every", "each"])
                && (next(1).is_some_and(sub_daily)
                    || (next(1).is_some_and(|n| super::words::number(n.word()).is_some())
                        && next(2).is_some_and(sub_daily))))
    });
    if too_often {
        return not_understood(
            "a task that repeats more often than once a day; the most often is every day".into(),
            EXAMPLE_ADD,
        );
    }
    if d.title.is_empty() {
        return not_understood("a new task, but not its title".into(), EXAMPLE_ADD);
    }
    let title = match Title::parse(&d.title) {
        Ok(title) => title,
        Err(why) => return not_understood(format!("a task, but {}", why.message), EXAMPLE_ADD),
    };
    if let Some(description) = &d.description {
        if let Err(why) = Description::parse(description) {
            return not_understood(format!("a task, but {}", why.message), EXAMPLE_ADD);
        }
    }
    let filter = d
        .repeat
        .clone()
        .map(|r| move |day: NaiveDate| r.falls_on(day));
    let due = d
        .when
        .resolve(
            now,
            filter.as_ref().map(|f| f as &dyn Fn(NaiveDate) -> bool),
        )
        .filter(super::writable);
    if due.is_none() && !d.when.is_empty() {
        return not_understood(
            format!("a task {}, but not a date I can use", quote(title.as_str())),
            EXAMPLE_ADD,
        );
    }
    let ends = |why: &str| {
        not_understood(
            format!("a task {} that repeats, {why}", quote(title.as_str())),
            EXAMPLE_ENDS,
        )
    };
    const UNUSABLE: &str = "but not an end I can use (one, and a day or a number of times)";
    if d.bad_end {
        return ends(UNUSABLE);
    }
    let recurrence = match (&d.repeat, d.end, due) {
        (Some(rule), Some(end), Some(due)) => {
            let Some(text) = rule.ending(end, now.tz, due) else {
                return ends("until a date too far ahead");
            };
            let Ok(rule) = Recurrence::parse(&text) else {
                return ends(UNUSABLE);
            };
            if rule.check_count().is_err() {
                return ends(&format!(
                    "more than {} times; a series stops after its first task and {} more",
                    MAX_RECURRENCE_DEPTH + 1,
                    MAX_RECURRENCE_DEPTH
                ));
            }
            // An end the rule reaches before its second date ("every month until dec 20"
            // from 1 December) would leave a task that never repeats.
            if rule.check_start(now.tz, due).is_err() {
                return ends("but ends before it repeats once");
            }
            Some(text)
        }
        (rule, _, _) => rule.as_ref().map(Repeat::rule),
    };
    let at = match (d.remind_at, due) {
        (Some(mut at), Some(due)) => {
            if at.date.is_none() && at.instant.is_none() {
                at.date = Some(due.with_timezone(&now.tz).date_naive());
            }
            let minutes = at
                .resolve(now, None)
                .map(|at| due.signed_duration_since(at).num_minutes());
            match minutes.and_then(|m| u32::try_from(m).ok()) {
                Some(m) => Some(m),
                None => {
                    return not_understood(
                        format!(
                            "a task {} with a reminder after it is due",
                            quote(title.as_str())
                        ),
                        EXAMPLE_REMINDER,
                    )
                }
            }
        }
        (Some(_), None) => {
            return not_understood(
                format!(
                    "a task {} with a reminder, but no due date for it",
                    quote(title.as_str())
                ),
                EXAMPLE_REMINDER,
            )
        }
        (None, _) => None,
    };
    let reminder = match (d.reminder.or(at), d.remind || remind_me) {
        (Some(minutes), _) => Some(minutes),
        (None, true) if due.is_some() => Some(0),
        (None, _) => None,
    };
    if let Some(minutes) = reminder {
        if due.is_none() && d.reminder.is_some() {
            return not_understood(
                format!(
                    "a task {} with a reminder, but no due date to remind you before",
                    quote(title.as_str())
                ),
                EXAMPLE_REMINDER,
            );
        }
        if let Err(why) = parse_reminder_minutes(minutes.into()) {
            return not_understood(format!("a task, but {}", why.message), EXAMPLE_REMINDER);
        }
    }
    let mut args = Map::new();
    args.insert("title".into(), json!(title.as_str()));
    if let Some(description) = d.description {
        args.insert("description".into(), json!(description));
    }
    if let Some(p) = d.priority {
        args.insert("priority".into(), json!(p.to_string()));
    }
    if !d.tags.is_empty() {
        args.insert("tags".into(), json!(d.tags));
    }
    if let Some(due) = due {
        args.insert("due_at".into(), json!(super::rfc3339(due)));
    }
    if let Some(minutes) = reminder {
        args.insert("reminder_minutes".into(), json!(minutes));
    }
    if let Some(rule) = recurrence {
        args.insert("recurrence".into(), json!(rule));
    }
    if due.is_some() || d.repeat.is_some() {
        args.insert("timezone".into(), json!(now.tz.name()));
    }
    Command::Add {
        arguments: Value::Object(args),
    }
}
