//! Recurrence in words ("every month on the 1st", "every monday and thursday", "every
//! other week", "the first monday of every month", "daily ... until friday") turned into the
//! project's recurrence grammar (`daily`, `every 2 weeks`, `every monday,thursday`,
//! `FREQ=MONTHLY;BYMONTHDAY=1`, `FREQ=MONTHLY;BYDAY=1MO`, ...), and back into words.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;

use super::when::{self, weekday, Now, Part, Piece};
use super::words::{number, ordinal, ordinal_word, quantity, starts_with, Tok, Unit};
use crate::domain::Recurrence;

/// The longest interval the grammar takes ("every 1000 days").
const MAX_INTERVAL: u32 = 1000;

/// A recurrence as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Repeat {
    Daily(u32),
    /// Every N weeks, on these days (none: on the due date's weekday).
    Weekly(u32, Vec<Weekday>),
    /// Monday to Friday.
    Weekdays,
    /// Every N months, on this day of the month (-1: the last), or on the due date's day.
    Monthly(u32, Option<i32>),
    /// Every N months on the nth weekday (1 to 5, or -1: the last).
    MonthlyNth(u32, i32, Weekday),
    Yearly(u32),
}

/// Where a series ends, as said after its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// "5 times": the occurrences in all, the first task's included.
    Times(u32),
    /// "for 3 weeks": the occurrences within that span from the first due date.
    For(u32, Unit),
    /// "until friday", "through dec 20": the last local day an occurrence may fall on.
    Until(NaiveDate),
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn day_code(day: Weekday) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][day.num_days_from_monday() as usize]
}

impl Repeat {
    /// The rule in the grammar `Recurrence::parse` accepts: in words where it has them,
    /// else as RFC 5545 (`rrule`).
    pub fn rule(&self) -> String {
        match self {
            Repeat::Daily(1) => "daily".into(),
            Repeat::Daily(n) => format!("every {n} days"),
            Repeat::Weekly(1, days) if days.is_empty() => "weekly".into(),
            Repeat::Weekly(n, days) if days.is_empty() => format!("every {n} weeks"),
            Repeat::Weekly(1, days) => format!(
                "every {}",
                days.iter()
                    .map(|d| day_name(*d))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Repeat::Weekdays => "every weekday".into(),
            Repeat::Monthly(1, None) => "monthly".into(),
            Repeat::Monthly(n, None) => format!("every {n} months"),
            Repeat::Yearly(1) => "yearly".into(),
            Repeat::Yearly(n) => format!("every {n} years"),
            Repeat::Weekly(..) | Repeat::Monthly(_, Some(_)) | Repeat::MonthlyNth(..) => {
                self.rrule()
            }
        }
    }

    /// The rule ending where `end` says, for a series whose first due date is `due` (in
    /// `tz`): an RFC 5545 rule, the one form that can say COUNT or UNTIL. `None` when the
    /// end cannot be placed (a date out of range).
    pub fn ending(&self, end: End, tz: Tz, due: DateTime<Utc>) -> Option<String> {
        let limit = match end {
            End::Times(n) => format!("COUNT={n}"),
            End::For(n, unit) => match self.count_within(n, unit) {
                Some(count) => format!("COUNT={count}"),
                None => until(span_end(tz, due, n, unit)?)?,
            },
            End::Until(day) => until(when::local(tz, day.succ_opt()?, chrono::NaiveTime::MIN)?)?,
        };
        Some(format!("{};{limit}", self.rrule()))
    }

    /// The rule as RFC 5545 (`FREQ=...`): for the rules the words cannot say, and for
    /// adding an end to any.
    fn rrule(&self) -> String {
        match self {
            Repeat::Daily(n) => format!("FREQ=DAILY{}", interval(*n)),
            Repeat::Weekly(n, days) if days.is_empty() => format!("FREQ=WEEKLY{}", interval(*n)),
            Repeat::Weekly(n, days) => format!(
                "FREQ=WEEKLY{};BYDAY={}",
                interval(*n),
                days.iter()
                    .map(|d| day_code(*d))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Repeat::Weekdays => "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR".into(),
            Repeat::Monthly(n, None) => format!("FREQ=MONTHLY{}", interval(*n)),
            // "on the 31st" means the month's last day where it is shorter (RFC 5545 would
            // skip such a month): the last of the 28th up to that day.
            Repeat::Monthly(n, Some(d)) if *d > 28 => {
                let days: Vec<String> = (28..=*d).map(|d| d.to_string()).collect();
                format!(
                    "FREQ=MONTHLY{};BYMONTHDAY={};BYSETPOS=-1",
                    interval(*n),
                    days.join(",")
                )
            }
            Repeat::Monthly(n, Some(d)) => format!("FREQ=MONTHLY{};BYMONTHDAY={d}", interval(*n)),
            Repeat::MonthlyNth(n, nth, day) => {
                format!("FREQ=MONTHLY{};BYDAY={nth}{}", interval(*n), day_code(*day))
            }
            Repeat::Yearly(n) => format!("FREQ=YEARLY{}", interval(*n)),
        }
    }

    /// How many occurrences "for N units" holds, where that is exact: whole periods of the
    /// rule ("every monday and thursday for 3 weeks": 6). `None` where it depends on the
    /// calendar ("every day for 2 months").
    fn count_within(&self, n: u32, unit: Unit) -> Option<u32> {
        let (every, per, period) = match self {
            Repeat::Daily(k) => (*k, 1, Unit::Day),
            Repeat::Weekly(k, days) => (*k, days.len().max(1) as u32, Unit::Week),
            Repeat::Weekdays => (1, 5, Unit::Week),
            Repeat::Monthly(k, _) | Repeat::MonthlyNth(k, ..) => (*k, 1, Unit::Month),
            Repeat::Yearly(k) => (*k, 1, Unit::Year),
        };
        let periods = match (unit, period) {
            (a, b) if a == b => n,
            (Unit::Week, Unit::Day) => n.checked_mul(7)?,
            (Unit::Year, Unit::Month) => n.checked_mul(12)?,
            _ => return None,
        };
        (periods % every == 0).then(|| (periods / every).checked_mul(per))?
    }

    /// Whether the rule has an occurrence on `date` (for the first due date when the
    /// sentence names no date).
    pub fn falls_on(&self, date: NaiveDate) -> bool {
        match self {
            Repeat::Weekly(_, days) if !days.is_empty() => days.contains(&date.weekday()),
            Repeat::Weekdays => date.weekday().num_days_from_monday() < 5,
            Repeat::Monthly(_, Some(-1)) => last_of_month(date),
            Repeat::Monthly(_, Some(d)) => {
                i64::from(date.day()) == i64::from(*d)
                    || (*d > 28 && last_of_month(date) && i64::from(date.day()) < i64::from(*d))
            }
            Repeat::MonthlyNth(_, nth, day) => {
                date.weekday() == *day
                    && if *nth < 0 {
                        date.checked_add_days(Days::new(7))
                            .is_none_or(|d| d.month() != date.month())
                    } else {
                        i64::from((date.day() - 1) / 7 + 1) == i64::from(*nth)
                    }
            }
            _ => true,
        }
    }
}

/// `;INTERVAL=n` for a rule's text, nothing for 1.
fn interval(n: u32) -> String {
    if n == 1 {
        String::new()
    } else {
        format!(";INTERVAL={n}")
    }
}

/// `UNTIL=...` for a series that ends before `end`: the second before it, in UTC; `None`
/// past the last year a due date can have.
fn until(end: DateTime<Utc>) -> Option<String> {
    let last = end - TimeDelta::seconds(1);
    (last.year() <= Recurrence::LAST_YEAR)
        .then(|| format!("UNTIL={}", last.format("%Y%m%dT%H%M%SZ")))
}

/// The end of "for N units" from `due`, counted on the wall clock of `tz`: the start of the
/// day N units later, so that UNTIL falls at the end of the series' last day (what a reply
/// names), as for "until friday". Occurrences fall at the due time of day, so no other
/// date is gained or lost.
fn span_end(tz: Tz, due: DateTime<Utc>, n: u32, unit: Unit) -> Option<DateTime<Utc>> {
    let start = due.with_timezone(&tz).naive_local();
    let end: NaiveDateTime = match unit {
        Unit::Day => start.checked_add_days(Days::new(n.into()))?,
        Unit::Week => start.checked_add_days(Days::new(u64::from(n) * 7))?,
        Unit::Month => start.checked_add_months(Months::new(n))?,
        Unit::Year => start.checked_add_months(Months::new(n.checked_mul(12)?))?,
        Unit::Minute | Unit::Hour => return None,
    };
    when::local(tz, end.date(), chrono::NaiveTime::MIN)
}

/// A list of weekday names from `at` ("monday and thursday", "mon, wed & fri"): the days
/// (sorted, once each) and the words taken.
fn day_list(toks: &[Tok], at: usize) -> Option<(usize, Vec<Weekday>)> {
    let mut days = Vec::new();
    let mut i = at;
    let mut taken = at;
    while let Some(t) = toks.get(i) {
        if let Some(day) = weekday(t.word(), true, true) {
            days.push(day);
            i += 1;
            taken = i;
        } else if !days.is_empty() && t.is_any(&["and", "&"]) {
            i += 1;
        } else {
            break;
        }
    }
    if days.is_empty() {
        return None;
    }
    days.sort_by_key(|d| d.num_days_from_monday());
    days.dedup();
    Some((taken - at, days))
}

/// "first" or "1st" up to "fifth" or "5th", or "last" (-1): which of a month's weekdays.
fn nth(word: &str) -> Option<i32> {
    if word == "last" {
        return Some(-1);
    }
    ordinal(word)
        .or_else(|| ordinal_word(word))
        .filter(|n| (1..=5).contains(n))
        .and_then(|n| i32::try_from(n).ok())
}

/// "the first monday", "the last friday": the weekday of the month at `at`, and the words taken.
fn nth_weekday(toks: &[Tok], at: usize) -> Option<(usize, i32, Weekday)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let the = usize::from(word(at) == "the");
    let n = nth(word(at + the))?;
    let day = weekday(word(at + the + 1), true, false)?;
    Some((the + 2, n, day))
}

/// "on the 1st", "on the 15th day", "on the last day", "on the first monday": the day of
/// the month after a phrase repeating every `every` months, the rule, and the words taken.
fn month_day_suffix(toks: &[Tok], at: usize, every: u32) -> Option<(usize, Repeat)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    if !starts_with(toks, at, "on the") {
        return None;
    }
    if word(at + 2) == "last" && word(at + 3) == "day" {
        return Some((4, Repeat::Monthly(every, Some(-1))));
    }
    if let Some((len, n, day)) = nth_weekday(toks, at + 1) {
        return Some((1 + len, Repeat::MonthlyNth(every, n, day)));
    }
    let n = ordinal(word(at + 2))
        .or_else(|| {
            let w = word(at + 2);
            (w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit()))
                .then(|| w.parse().ok())
                .flatten()
        })
        .filter(|n| (1..=31).contains(n))?;
    let len = if word(at + 3) == "day" { 4 } else { 3 };
    Some((len, Repeat::Monthly(every, Some(n as i32))))
}

/// "of the month", "of every month", "of each month" after a day of the month.
fn of_month(toks: &[Tok], at: usize) -> Option<usize> {
    [
        "of the month",
        "of every month",
        "of each month",
        "of month",
    ]
    .iter()
    .find(|p| starts_with(toks, at, p))
    .map(|p| p.split(' ').count())
}

/// A frequency unit and an interval, then what may follow it: "on the 1st" for months,
/// "on monday" for weeks.
fn with_unit(toks: &[Tok], at: usize, n: u32, unit: Unit) -> Option<(usize, Repeat)> {
    if !(1..=MAX_INTERVAL).contains(&n) {
        return None;
    }
    Some(match unit {
        Unit::Day => (0, Repeat::Daily(n)),
        Unit::Week => match toks
            .get(at)
            .filter(|t| t.is("on"))
            .and(day_list(toks, at + 1))
        {
            Some((len, days)) => (len + 1, Repeat::Weekly(n, days)),
            None => (0, Repeat::Weekly(n, vec![])),
        },
        Unit::Month => month_day_suffix(toks, at, n).unwrap_or((0, Repeat::Monthly(n, None))),
        Unit::Year => (0, Repeat::Yearly(n)),
        Unit::Minute | Unit::Hour => return None,
    })
}

/// The recurrence phrase at `at`, if any: the words it took, the rule, and a part of the
/// day it implies ("every morning").
pub(super) fn phrase(toks: &[Tok], at: usize) -> Option<(usize, Repeat, Option<Part>)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let w = word(at);
    let simple = match w {
        "daily" | "everyday" => Some(Unit::Day),
        "weekly" => Some(Unit::Week),
        "monthly" => Some(Unit::Month),
        "yearly" | "annually" => Some(Unit::Year),
        _ => None,
    };
    // "the monthly report", "my weekly review": a word of the title, not a rule.
    let determiner = at
        .checked_sub(1)
        .and_then(|i| toks.get(i))
        .is_some_and(|t| {
            t.is_any(&[
                "the", "a", "an", "my", "our", "your", "his", "her", "their", "this", "that",
            ])
        });
    // "weekly review every friday": the explicit "every ..." later is the rule.
    let explicit_later = || {
        (at + 1..toks.len())
            .any(|j| toks[j].is_any(&["every", "each"]) && phrase(toks, j).is_some())
    };
    if let Some(unit) = simple.filter(|_| !determiner && !explicit_later()) {
        let (len, rule) = with_unit(toks, at + 1, 1, unit)?;
        return Some((len + 1, rule, None));
    }
    if matches!(w, "fortnightly" | "biweekly") {
        return Some((1, Repeat::Weekly(2, vec![]), None));
    }
    // "the 1st of every month", "first of each month", "the last day of every month" (an
    // "on" before is the caller's)
    let the = usize::from(w == "the");
    let every_month = |from: usize| {
        ["of every month", "of each month"]
            .iter()
            .any(|p| starts_with(toks, from, p))
    };
    if let Some((len, n, day)) = nth_weekday(toks, at).filter(|(len, ..)| every_month(at + len)) {
        return Some((len + 3, Repeat::MonthlyNth(1, n, day), None));
    }
    if starts_with(toks, at + the, "last day") && every_month(at + the + 2) {
        return Some((the + 5, Repeat::Monthly(1, Some(-1)), None));
    }
    let day = word(at + the);
    if let Some(n) = ordinal(day)
        .or_else(|| ordinal_word(day))
        .filter(|n| (1..=31).contains(n))
    {
        if every_month(at + the + 1) {
            return Some((the + 4, Repeat::Monthly(1, Some(n as i32)), None));
        }
        return None;
    }
    if !matches!(w, "every" | "each") {
        return None;
    }
    let i = at + 1;
    let next = word(i);
    let unit_word = |s: &str| Unit::parse(s).filter(|u| !matches!(u, Unit::Minute | Unit::Hour));
    let (len, rule, part) = if let Some(unit) = unit_word(next).filter(|_| !next.ends_with('s')) {
        let (len, rule) = with_unit(toks, i + 1, 1, unit)?;
        (1 + len, rule, None)
    } else if let Some((len, rule)) =
        nth(next)
            .zip(weekday(word(i + 1), true, false))
            .and_then(|(n, day)| {
                // "every second tuesday" alone is every other one (below).
                let of = of_month(toks, i + 2);
                (n != 2 || of.is_some())
                    .then(|| (2 + of.unwrap_or(0), Repeat::MonthlyNth(1, n, day)))
            })
    {
        // "every first monday", "every last friday of the month", "every 2nd tuesday of
        // each month"
        (len, rule, None)
    } else if let Some((len, days)) = matches!(next, "other" | "second" | "2nd")
        .then(|| day_list(toks, i + 1))
        .flatten()
    {
        // "every other monday", "every second tuesday": every two weeks on that day.
        (1 + len, Repeat::Weekly(2, days), None)
    } else if next == "other" {
        let unit = unit_word(word(i + 1)).filter(|_| !word(i + 1).ends_with('s'))?;
        let (len, rule) = with_unit(toks, i + 2, 2, unit)?;
        (2 + len, rule, None)
    } else if let Some(n) = number(next).filter(|_| !matches!(next, "a" | "an")) {
        let unit = unit_word(word(i + 1))?;
        let (len, rule) = with_unit(toks, i + 2, n, unit)?;
        (2 + len, rule, None)
    } else if matches!(next, "weekday" | "weekdays" | "workday" | "workdays") {
        (1, Repeat::Weekdays, None)
    } else if ["work day", "working day", "business day"]
        .iter()
        .any(|p| starts_with(toks, i, p))
    {
        (2, Repeat::Weekdays, None)
    } else if next == "weekend" {
        (1, Repeat::Weekly(1, vec![Weekday::Sat, Weekday::Sun]), None)
    } else if let Some((len, days)) = day_list(toks, i) {
        // "every sunday evening": the part of the day sets the time.
        let after = word(i + len);
        match Part::parse(after).filter(|_| after != "tonight") {
            Some(part) => (len + 1, Repeat::Weekly(1, days), Some(part)),
            None => (len, Repeat::Weekly(1, days), None),
        }
    } else if let Some(part) = Part::parse(next).filter(|_| next != "tonight") {
        (1, Repeat::Daily(1), Some(part))
    } else if let Some(n) = ordinal(next).filter(|n| (1..=31).contains(n)) {
        let len = 1 + of_month(toks, i + 1).unwrap_or(0);
        (len, Repeat::Monthly(1, Some(n as i32)), None)
    } else if starts_with(toks, i, "last day of the month") {
        (5, Repeat::Monthly(1, Some(-1)), None)
    } else {
        return None;
    };
    // "every week on monday" is "every monday"; one day a week is plain weekly days.
    let rule = match rule {
        Repeat::Weekly(1, days) if days.len() == 7 => Repeat::Daily(1),
        Repeat::Weekly(1, days)
            if days.len() == 5 && days.iter().all(|d| d.num_days_from_monday() < 5) =>
        {
            Repeat::Weekdays
        }
        rule => rule,
    };
    Some((1 + len, rule, part))
}

/// Words after "N times" that make it how often within a period ("3 times a day", "twice
/// per week"), not how many in all.
const PER: &[&str] = &[
    "a", "an", "per", "each", "every", "daily", "weekly", "monthly", "yearly", "hourly",
];

/// Where a series ends, said after its rule ("5 times", "twice", "for 3 weeks", "until friday",
/// "till dec 20", "through the end of the month"), and the words taken; `Some((len, None))`
/// for an end that is no day ("until 5pm").
pub(super) fn end(toks: &[Tok], at: usize, now: &Now) -> Option<(usize, Option<End>)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let lead = usize::from(word(at) == "for");
    let count = word(at + lead);
    if let Some(n) = number(count).filter(|_| !matches!(count, "a" | "an")) {
        if word(at + lead + 1) == "times" && !PER.contains(&word(at + lead + 2)) {
            return Some((lead + 2, Some(End::Times(n))));
        }
    }
    if count == "twice" && !PER.contains(&word(at + lead + 1)) {
        return Some((lead + 1, Some(End::Times(2))));
    }
    if lead == 1 {
        let (n, unit, len) = quantity(toks, at + 1)?;
        return (!matches!(unit, Unit::Minute | Unit::Hour))
            .then_some((1 + len, Some(End::For(n, unit))));
    }
    if !matches!(word(at), "until" | "till" | "til" | "through" | "thru") {
        return None;
    }
    let the = usize::from(word(at + 1) == "the" && word(at + 2) == "end");
    let (len, piece) = when::phrase(toks, at + 1 + the, word(at), now)?;
    let day = match piece {
        // "until monday morning", "until friday 5pm": to the end of that day.
        Piece::Date(day, _) | Piece::DateClock(day, _) => Some(End::Until(day)),
        Piece::Clock(_) | Piece::Instant(_) | Piece::Part(_) => None,
    };
    Some((1 + the + len, day))
}

/// "1st", "2nd", "23rd", "11th".
pub(super) fn ordinal_suffix(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn capitalised(day: &str) -> String {
    let mut chars = day.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "Monday", "Monday and Thursday", "Monday, Wednesday and Friday".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn last_of_month(date: NaiveDate) -> bool {
    date.succ_opt().is_none_or(|next| next.day() == 1)
}

/// A rule in words, for a reply: "every month on the 1st", "every Monday and Thursday",
/// "every day until 20 Dec 2026" (the end as a date in `tz`). A rule it does not know comes
/// back as written.
pub(super) fn describe(rule: &str, tz: Tz) -> String {
    let lower = rule.trim().to_ascii_lowercase();
    match lower.as_str() {
        "daily" => return "every day".into(),
        "weekly" => return "every week".into(),
        "monthly" => return "every month".into(),
        "yearly" | "annually" => return "every year".into(),
        _ => {}
    }
    if let Some(rest) = lower.strip_prefix("every ") {
        let names: Option<Vec<String>> = rest
            .split([',', ' '])
            .filter(|w| !w.is_empty() && *w != "and")
            .map(|w| weekday(w, true, true).map(|d| capitalised(day_name(d))))
            .collect();
        return match names {
            Some(names) if !names.is_empty() => format!("every {}", join_and(&names)),
            _ => format!("every {rest}"),
        };
    }
    describe_rrule(&lower, tz).unwrap_or_else(|| format!("by the rule {}", rule.trim()))
}

/// A BYDAY entry in words: "Monday", or with its number in a month "the first Monday".
fn byday_words(code: &str) -> Option<String> {
    let (n, code) = code.split_at(code.len().checked_sub(2)?);
    let i = ["mo", "tu", "we", "th", "fr", "sa", "su"]
        .iter()
        .position(|c| *c == code)?;
    let name = capitalised(day_name(WEEKDAYS[i]));
    Some(match n {
        "" => name,
        "-1" => format!("the last {name}"),
        _ => {
            let n: usize = n.strip_prefix('+').unwrap_or(n).parse().ok()?;
            let word = ["first", "second", "third", "fourth", "fifth"].get(n.checked_sub(1)?)?;
            format!("the {word} {name}")
        }
    })
}

fn describe_rrule(rule: &str, tz: Tz) -> Option<String> {
    let rule = rule.strip_prefix("rrule:").unwrap_or(rule);
    let (mut unit, mut interval, mut days, mut month_day) = (None, 1u32, vec![], None);
    let (mut last_of, mut last_set) = (false, false);
    let mut end = None;
    for part in rule.split(';') {
        let (key, value) = part.split_once('=')?;
        match key {
            "freq" => {
                unit = Some(match value {
                    "daily" => "day",
                    "weekly" => "week",
                    "monthly" => "month",
                    "yearly" => "year",
                    _ => return None,
                })
            }
            "interval" => interval = value.parse().ok()?,
            "byday" => {
                days = value
                    .split(',')
                    .map(byday_words)
                    .collect::<Option<Vec<_>>>()?
            }
            // "28,29,30,31" with BYSETPOS=-1: the 31st, or the month's last day (`Repeat::rule`).
            "bymonthday" => {
                let listed: Vec<i64> = value
                    .split(',')
                    .map(|d| d.parse().ok())
                    .collect::<Option<_>>()?;
                if listed.len() > 1 && !listed.iter().copied().eq(28..28 + listed.len() as i64) {
                    return None;
                }
                month_day = listed.last().copied();
                last_of = listed.len() > 1;
            }
            "bysetpos" if value == "-1" => last_set = true,
            "count" => {
                end = Some(match value.parse::<u32>().ok()? {
                    1 => ", once".to_owned(),
                    n => format!(", {n} times"),
                })
            }
            "until" => {
                let at = NaiveDateTime::parse_from_str(value, "%Y%m%dt%H%M%Sz").ok()?;
                let day = at.and_utc().with_timezone(&tz).format("%-d %b %Y");
                end = Some(format!(" until {day}"));
            }
            _ => return None,
        }
    }
    let unit = unit?;
    if last_of != last_set {
        return None;
    }
    let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
    let mut text = if interval == 1 && unit == "week" && days.iter().eq(weekdays.iter()) {
        days.clear();
        "every weekday".to_owned()
    } else if interval == 1 {
        format!("every {unit}")
    } else {
        format!("every {interval} {unit}s")
    };
    if !days.is_empty() {
        text.push_str(&format!(" on {}", join_and(&days)));
    }
    match month_day {
        Some(-1) => text.push_str(" on the last day"),
        Some(d) if d > 0 && last_of => text.push_str(&format!(
            " on the {} (the last day in a shorter month)",
            ordinal_suffix(d)
        )),
        Some(d) if d > 0 => text.push_str(&format!(" on the {}", ordinal_suffix(d))),
        Some(_) => return None,
        None => {}
    }
    text.push_str(end.as_deref().unwrap_or(""));
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::super::words::tokenize;
    use super::*;

    fn rule(text: &str) -> Option<(String, usize)> {
        let toks = tokenize(text);
        phrase(&toks, 0).map(|(len, r, _)| (r.rule(), len))
    }

    #[test]
    fn phrases_become_the_grammar() {
        for (text, expected) in [
            ("every day", "daily"),
            ("daily", "daily"),
            ("every week", "weekly"),
            ("weekly", "weekly"),
            ("every monday", "every monday"),
            ("every weekday", "every weekday"),
            ("every 2 weeks", "every 2 weeks"),
            ("every other week", "every 2 weeks"),
            ("every other monday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
            ("every second tuesday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
            ("every 2nd tuesday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
            ("every month on the 1st", "FREQ=MONTHLY;BYMONTHDAY=1"),
            (
                "every month on the 31st",
                "FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1",
            ),
            (
                "every month on the 29th",
                "FREQ=MONTHLY;BYMONTHDAY=28,29;BYSETPOS=-1",
            ),
            ("monthly on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15"),
            (
                "every 2 months on the 15th",
                "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15",
            ),
            ("every month", "monthly"),
            ("every year", "yearly"),
            ("every monday and thursday", "every monday,thursday"),
            ("every thu, mon", "every monday,thursday"),
            (
                "every 2 weeks on tuesday",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            ),
            ("every 1st", "FREQ=MONTHLY;BYMONTHDAY=1"),
            ("the 1st of every month", "FREQ=MONTHLY;BYMONTHDAY=1"),
            ("every last day of the month", "FREQ=MONTHLY;BYMONTHDAY=-1"),
            ("every weekend", "every saturday,sunday"),
            ("every 3 days", "every 3 days"),
            ("every mon tue wed thu fri", "every weekday"),
            ("the first monday of every month", "FREQ=MONTHLY;BYDAY=1MO"),
            ("last friday of each month", "FREQ=MONTHLY;BYDAY=-1FR"),
            ("every first monday", "FREQ=MONTHLY;BYDAY=1MO"),
            ("every last friday of the month", "FREQ=MONTHLY;BYDAY=-1FR"),
            ("every 2nd tuesday of the month", "FREQ=MONTHLY;BYDAY=2TU"),
            ("every third thursday", "FREQ=MONTHLY;BYDAY=3TH"),
            ("every month on the last friday", "FREQ=MONTHLY;BYDAY=-1FR"),
            (
                "every 2 months on the first monday",
                "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO",
            ),
        ] {
            let (got, len) = rule(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(got, expected, "{text}");
            assert_eq!(len, tokenize(text).len(), "{text}");
            crate::domain::Recurrence::parse(&got).unwrap();
        }
    }

    #[test]
    fn not_a_recurrence() {
        for text in [
            "every hour",
            "every 0 days",
            "every 1001 days",
            "every",
            "every one",
            "every sixth monday",
        ] {
            assert_eq!(rule(text), None, "{text}");
        }
    }

    #[test]
    fn a_weekday_of_the_month_falls_on_its_week() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let first_monday = Repeat::MonthlyNth(1, 1, Weekday::Mon);
        let last_thursday = Repeat::MonthlyNth(1, -1, Weekday::Thu);
        let fifth_tuesday = Repeat::MonthlyNth(1, 5, Weekday::Tue);
        assert!(first_monday.falls_on(day(7)));
        assert!(!first_monday.falls_on(day(14)) && !first_monday.falls_on(day(1)));
        assert!(last_thursday.falls_on(day(31)) && !last_thursday.falls_on(day(24)));
        assert!(fifth_tuesday.falls_on(day(29)) && !fifth_tuesday.falls_on(day(22)));
    }

    #[test]
    fn an_end_is_read_after_the_rule() {
        let now = Now::new("2026-11-30T10:00:00Z".parse().unwrap(), chrono_tz::UTC);
        let end_of = |text: &str| end(&tokenize(text), 0, &now);
        let friday = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(end_of("5 times"), Some((2, Some(End::Times(5)))));
        assert_eq!(end_of("for ten times"), Some((3, Some(End::Times(10)))));
        assert_eq!(end_of("twice"), Some((1, Some(End::Times(2)))));
        assert_eq!(
            end_of("for 3 weeks"),
            Some((3, Some(End::For(3, Unit::Week))))
        );
        assert_eq!(
            end_of("for a month"),
            Some((3, Some(End::For(1, Unit::Month))))
        );
        assert_eq!(end_of("until friday"), Some((2, Some(End::Until(friday)))));
        assert_eq!(end_of("till dec 4"), Some((3, Some(End::Until(friday)))));
        assert_eq!(
            end_of("until friday evening"),
            Some((3, Some(End::Until(friday))))
        );
        let month_end = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(
            end_of("through the end of the month"),
            Some((6, Some(End::Until(month_end))))
        );
        // An end that is no day is still an end, one that cannot be used.
        assert_eq!(end_of("until 5pm"), Some((2, None)));
        for text in [
            "for 2 hours",
            "3 times a day",
            "2 times per week",
            "3 times daily",
            "twice a week",
            "until further notice",
            "for friday",
            "a times",
        ] {
            assert_eq!(end_of(text), None, "{text}");
        }
    }

    #[test]
    fn an_end_becomes_a_count_where_exact_and_else_an_until() {
        let due: DateTime<Utc> = "2026-12-01T09:00:00Z".parse().unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        let ending = |rule: Repeat, end: End| rule.ending(end, chrono_tz::UTC, due).unwrap();
        let mon_thu = Repeat::Weekly(1, vec![Weekday::Mon, Weekday::Thu]);
        for (got, expected) in [
            (
                ending(Repeat::Daily(1), End::Times(4)),
                "FREQ=DAILY;COUNT=4",
            ),
            (
                ending(Repeat::Daily(1), End::For(2, Unit::Week)),
                "FREQ=DAILY;COUNT=14",
            ),
            (
                ending(Repeat::Daily(2), End::For(10, Unit::Day)),
                "FREQ=DAILY;INTERVAL=2;COUNT=5",
            ),
            (
                ending(mon_thu, End::For(3, Unit::Week)),
                "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=6",
            ),
            (
                ending(Repeat::Weekdays, End::For(2, Unit::Week)),
                "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10",
            ),
            (
                ending(Repeat::Monthly(1, None), End::For(1, Unit::Year)),
                "FREQ=MONTHLY;COUNT=12",
            ),
            // Not a whole number of periods: to the end of the day before that many units
            // later.
            (
                ending(Repeat::Daily(1), End::For(2, Unit::Month)),
                "FREQ=DAILY;UNTIL=20270131T235959Z",
            ),
            (
                ending(Repeat::Weekly(2, vec![]), End::For(3, Unit::Week)),
                "FREQ=WEEKLY;INTERVAL=2;UNTIL=20261221T235959Z",
            ),
            (
                ending(Repeat::MonthlyNth(1, -1, Weekday::Fri), End::Times(3)),
                "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
            ),
            // Until a day: to its end in the user's time zone.
            (
                Repeat::Daily(1)
                    .ending(
                        End::Until(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()),
                        berlin,
                        due,
                    )
                    .unwrap(),
                "FREQ=DAILY;UNTIL=20261204T225959Z",
            ),
        ] {
            assert_eq!(got, expected);
            crate::domain::Recurrence::parse(&got).unwrap();
        }
    }

    #[test]
    fn rules_in_words() {
        for (rule, expected) in [
            ("daily", "every day"),
            ("every monday,thursday", "every Monday and Thursday"),
            ("every weekday", "every weekday"),
            ("every 2 weeks", "every 2 weeks"),
            ("FREQ=MONTHLY;BYMONTHDAY=1", "every month on the 1st"),
            (
                "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1",
                "every 2 months on the last day",
            ),
            (
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR",
                "every 2 weeks on Monday, Wednesday and Friday",
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1",
                "every month on the 31st (the last day in a shorter month)",
            ),
            (
                "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1",
                "by the rule FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1",
            ),
            ("FREQ=WEEKLY;COUNT=3", "every week, 3 times"),
            ("FREQ=DAILY;COUNT=1", "every day, once"),
            (
                "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10",
                "every weekday, 10 times",
            ),
            ("FREQ=MONTHLY;BYDAY=1MO", "every month on the first Monday"),
            (
                "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR",
                "every 2 months on the last Friday",
            ),
            (
                "FREQ=MONTHLY;BYDAY=-2FR",
                "by the rule FREQ=MONTHLY;BYDAY=-2FR",
            ),
            (
                "FREQ=DAILY;UNTIL=20261204T225959Z",
                "every day until 4 Dec 2026",
            ),
            (
                "FREQ=DAILY;UNTIL=20261204",
                "by the rule FREQ=DAILY;UNTIL=20261204",
            ),
        ] {
            assert_eq!(
                describe(rule, chrono_tz::Europe::Berlin),
                expected,
                "{rule}"
            );
        }
    }
}
