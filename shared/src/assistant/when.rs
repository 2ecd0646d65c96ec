//! Dates and times in words ("tomorrow at 5pm", "next friday", "in 3 days", "on Dec 5",
//! "2026-12-05T17:00"), read in the user's time zone and resolved to an instant in UTC.
//!
//! Each phrase fills a slot of a [`When`] (a date, a clock time, a part of the day, or an
//! exact instant); [`When::resolve`] turns the slots into a due time:
//! - a date and a time: that local time (DST-correct; a time in a DST gap moves past it);
//! - a date alone: 09:00 local, or the part of the day's time ("tomorrow evening": 18:00);
//!   with a recurrence, the rule's first day from that date;
//!   "today" when 09:00 has passed: 23:59, so a task made today is not overdue at once;
//! - a time alone: today when still ahead, else tomorrow (with a recurrence: the first day
//!   of the rule from today on whose time is still ahead);
//! - "in 2 hours": exactly then (to the minute).

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Days, Duration, Months, NaiveDate, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

use super::words::{match_phrase, ordinal, quantity, starts_with, Tok, Unit};

/// The time a date without a time is due.
pub(super) const DEFAULT_HOUR: u32 = 9;

/// Where and when the message is read, with today's local date worked out once.
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub today: NaiveDate,
}

impl Now {
    pub fn new(now: DateTime<Utc>, tz: Tz) -> Now {
        Now {
            now,
            tz,
            today: now.with_timezone(&tz).date_naive(),
        }
    }

    /// `days` after today.
    pub fn plus_days(&self, days: u64) -> Option<NaiveDate> {
        self.today.checked_add_days(Days::new(days))
    }

    /// The first moment of a local day, as an instant.
    pub fn start_of(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        local(self.tz, day, NaiveTime::MIN)
    }
}

/// A local date and time in `tz` as an instant: the earlier one when the clock is turned
/// back (the time occurs twice), and the first valid time after a DST gap.
pub(super) fn local(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let wall = date.and_time(time);
    for step in 0..=12 {
        let t = wall.checked_add_signed(Duration::minutes(15 * step))?;
        match tz.from_local_datetime(&t) {
            LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => {
                return Some(d.with_timezone(&Utc))
            }
            LocalResult::None => continue,
        }
    }
    None
}

/// A part of the day, which sets a default time and says whether "at 7" is evening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Morning,
    Afternoon,
    Evening,
    Night,
}

impl Part {
    pub fn parse(word: &str) -> Option<Part> {
        Some(match word {
            "morning" => Part::Morning,
            "afternoon" => Part::Afternoon,
            "evening" => Part::Evening,
            "night" | "tonight" => Part::Night,
            _ => return None,
        })
    }

    fn default_time(self) -> NaiveTime {
        let hour = match self {
            Part::Morning => 9,
            Part::Afternoon => 14,
            Part::Evening => 18,
            Part::Night => 20,
        };
        NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
    /// A 24-hour clock ("17:00", "09:30").
    H24,
    /// "at 5", "3:30": afternoon for 1 to 7, morning for 8 to 11, unless a part of the day
    /// says.
    Guess,
}

/// A time of day as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Clock {
    hour: u32,
    minute: u32,
    meridiem: Meridiem,
}

impl Clock {
    fn time(self, part: Option<Part>) -> Option<NaiveTime> {
        let Clock { hour, minute, .. } = self;
        let pm = |h: u32| if h == 12 { 12 } else { h + 12 };
        let hour = match self.meridiem {
            Meridiem::Am => hour % 12,
            Meridiem::Pm => pm(hour),
            Meridiem::H24 => hour,
            Meridiem::Guess if hour == 0 || hour > 12 => hour,
            Meridiem::Guess => match part {
                Some(Part::Afternoon | Part::Evening | Part::Night) => pm(hour),
                Some(Part::Morning) => hour % 12,
                None if (1..=7).contains(&hour) => pm(hour),
                None => hour,
            },
        };
        NaiveTime::from_hms_opt(hour, minute, 0)
    }
}

/// One recognised phrase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Piece {
    Date(NaiveDate, Option<Part>),
    Clock(Clock),
    DateClock(NaiveDate, Clock),
    Instant(DateTime<Utc>),
    Part(Part),
}

/// What a sentence said about when.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct When {
    pub date: Option<NaiveDate>,
    pub clock: Option<Clock>,
    pub part: Option<Part>,
    pub instant: Option<DateTime<Utc>>,
}

impl When {
    pub fn is_empty(&self) -> bool {
        *self == When::default()
    }

    /// Adds a phrase; false (and nothing changed) when it says again what is already said.
    pub fn merge(&mut self, piece: Piece) -> bool {
        let mut next = *self;
        let free = |slot: bool| !slot;
        let ok = match piece {
            Piece::Date(d, part) => {
                let ok = free(next.date.is_some()) && (part.is_none() || next.part.is_none());
                next.date = Some(d);
                next.part = part.or(next.part);
                ok
            }
            Piece::Clock(c) => {
                let ok = free(next.clock.is_some());
                next.clock = Some(c);
                ok
            }
            Piece::DateClock(d, c) => {
                let ok = free(next.date.is_some()) && free(next.clock.is_some());
                next.date = Some(d);
                next.clock = Some(c);
                ok
            }
            Piece::Instant(t) => {
                let ok = next.is_empty();
                next.instant = Some(t);
                ok
            }
            Piece::Part(p) => {
                let ok = free(next.part.is_some());
                next.part = Some(p);
                ok
            }
        } && next
            .instant
            .is_none_or(|_| matches!(piece, Piece::Instant(_)));
        if ok {
            *self = next;
        }
        ok
    }

    /// The due time, or `None` when nothing was said (or the date is out of range). `rule`
    /// is the recurrence's day filter: for a time without a date, and to move a date onto
    /// the rule's days.
    pub fn resolve(
        &self,
        now: &Now,
        rule: Option<&dyn Fn(NaiveDate) -> bool>,
    ) -> Option<DateTime<Utc>> {
        if let Some(instant) = self.instant {
            return Some(instant);
        }
        let default = NaiveTime::from_hms_opt(DEFAULT_HOUR, 0, 0)?;
        let time = match self.clock {
            Some(clock) => Some(clock.time(self.part)?),
            None => self.part.map(Part::default_time),
        };
        // The first day from `from` that is on the rule, with the time (when one is said)
        // still ahead.
        let first_day = |from: NaiveDate,
                         rule: Option<&dyn Fn(NaiveDate) -> bool>,
                         time: Option<NaiveTime>| {
            (0..=400u64)
                .map_while(|k| from.checked_add_days(Days::new(k)))
                .filter(|d| rule.is_none_or(|r| r(*d)))
                .find(|d| time.is_none_or(|t| local(now.tz, *d, t).is_some_and(|at| at > now.now)))
        };
        // A date off the rule's days, or past ("every monday starting dec 1" on 5 December),
        // starts the series on the rule's first day from it that is still ahead.
        let date = match (self.date, rule) {
            (Some(date), Some(rule)) => first_day(date.max(now.today), Some(rule), time),
            (date, _) => date,
        };
        match (date, time) {
            (Some(date), Some(time)) => local(now.tz, date, time),
            (Some(date), None) => {
                let at = local(now.tz, date, default)?;
                if date == now.today && at <= now.now {
                    local(now.tz, date, NaiveTime::from_hms_opt(23, 59, 0)?)
                } else {
                    Some(at)
                }
            }
            (None, time) if time.is_some() || rule.is_some() => {
                let time = time.unwrap_or(default);
                local(now.tz, first_day(now.today, rule, Some(time))?, time)
            }
            (None, _) => None,
        }
    }
}

const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

pub(super) fn month(word: &str) -> Option<u32> {
    MONTHS
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, m)| *m)
}

/// Words after which a short weekday name ("fri", "sun") is read as a day: elsewhere "sun"
/// and "sat" are too likely to be part of a title.
const BEFORE_SHORT_DAY: &[&str] = &[
    "on", "next", "this", "every", "each", "by", "due", "until", "till", "to", "before", "after",
    "and", "from", "starting", "&",
];

/// Short weekday names that are no other word, read as a day anywhere ("dentist tue at 2").
const PLAIN_SHORT_DAYS: &[&str] = &["tue", "tues", "thu", "thur", "thurs", "fri"];

/// A weekday name: full ("friday", also "fridays" when `plural`), or short ("fri") when `short`.
pub(super) fn weekday(word: &str, short: bool, plural: bool) -> Option<Weekday> {
    let word = if plural {
        word.strip_suffix('s').unwrap_or(word)
    } else {
        word
    };
    let full = match word {
        "monday" => Some(Weekday::Mon),
        "tuesday" => Some(Weekday::Tue),
        "wednesday" => Some(Weekday::Wed),
        "thursday" => Some(Weekday::Thu),
        "friday" => Some(Weekday::Fri),
        "saturday" => Some(Weekday::Sat),
        "sunday" => Some(Weekday::Sun),
        _ => None,
    };
    full.or_else(|| {
        short.then_some(())?;
        Some(match word {
            "mon" => Weekday::Mon,
            "tue" | "tues" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" | "thur" | "thurs" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => return None,
        })
    })
}

/// The next `day` after today (1 to 7 days ahead).
fn next_weekday(now: &Now, day: Weekday) -> Option<NaiveDate> {
    let ahead = (day.num_days_from_monday() + 7 - now.today.weekday().num_days_from_monday()) % 7;
    now.plus_days(if ahead == 0 { 7 } else { ahead as u64 })
}

/// `day` from today on (0 to 6 days ahead).
fn this_weekday(now: &Now, day: Weekday) -> Option<NaiveDate> {
    let ahead = (day.num_days_from_monday() + 7 - now.today.weekday().num_days_from_monday()) % 7;
    now.plus_days(ahead as u64)
}

/// Monday of next week.
pub(super) fn next_monday(now: &Now) -> Option<NaiveDate> {
    now.plus_days(7 - now.today.weekday().num_days_from_monday() as u64)
}

/// `day` in next week (the week from next Monday).
fn weekday_next_week(now: &Now, day: Weekday) -> Option<NaiveDate> {
    next_monday(now)?.checked_add_days(Days::new(day.num_days_from_monday() as u64))
}

/// A day of the month: "5", "5th".
fn day_of_month(word: &str) -> Option<u32> {
    let n = if word.len() <= 2 && !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        word.parse().ok()?
    } else {
        ordinal(word)?
    };
    (1..=31).contains(&n).then_some(n)
}

/// `month`/`day` in `year`, or (no year given) the next such date from today on; `began`:
/// or the last one, when nearer ("starting dec 3" on 5 December).
fn month_day(now: &Now, month: u32, day: u32, year: Option<i32>, began: bool) -> Option<NaiveDate> {
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => {
            let y = now.today.year();
            let next = (y..=y.checked_add(8)?)
                .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
                .find(|d| *d >= now.today)?;
            let last = NaiveDate::from_ymd_opt(y, month, day).filter(|d| *d < now.today);
            Some(match last {
                Some(last) if began && now.today - last < next - now.today => last,
                _ => next,
            })
        }
    }
}

/// A four-digit year.
fn year(word: &str) -> Option<i32> {
    (word.len() == 4 && word.bytes().all(|b| b.is_ascii_digit()))
        .then(|| word.parse().ok())
        .flatten()
        .filter(|y| *y >= 1000)
}

/// The next date from today on that is the `day`th of a month.
fn next_day_of_month(now: &Now, day: u32) -> Option<NaiveDate> {
    let first = now.today.with_day(1)?;
    (0..=12u32)
        .map_while(|k| first.checked_add_months(Months::new(k)))
        .filter_map(|m| m.with_day(day))
        .find(|d| *d >= now.today)
}

/// A month and a day in either order, an optional year after: "dec 5", "december 5th,
/// 2027", "5 december", "the 5th of december", "december the 5th"; or "the 5th" alone
/// (the next 5th of a month). Returns the date and the words it took.
fn calendar_date(toks: &[Tok], at: usize, now: &Now, began: bool) -> Option<(usize, NaiveDate)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let mut i = at;
    let the = word(i) == "the";
    if the {
        i += 1;
    }
    let (month_no, day) = if let Some(m) = month(word(i)) {
        if the {
            return None;
        }
        i += 1;
        if word(i) == "the" {
            i += 1;
        }
        let d = day_of_month(word(i))?;
        i += 1;
        (m, d)
    } else {
        let d = day_of_month(word(i))?;
        let bare = word(i).bytes().all(|b| b.is_ascii_digit());
        i += 1;
        let of = word(i) == "of";
        if let Some(m) = month(word(i + usize::from(of))) {
            i += 1 + usize::from(of);
            (m, d)
        } else if the && !bare {
            // "the 5th": the next 5th; "the 5th of every month" is a recurrence.
            if of {
                return None;
            }
            return Some((i - at, next_day_of_month(now, d)?));
        } else {
            return None;
        }
    };
    // "dec 1 1002 times": a count, not a year.
    let y = year(word(i)).filter(|_| word(i + 1) != "times");
    if y.is_some() {
        i += 1;
    }
    Some((i - at, month_day(now, month_no, day, y, began)?))
}

/// An ISO 8601 date or date-time: "2026-12-05", "2026-12-05T17:00", "2026-12-05T17:00:00Z".
fn iso(word: &str) -> Option<Piece> {
    if word.len() < 10 || !word.is_char_boundary(10) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&word[..10], "%Y-%m-%d").ok()?;
    let rest = &word[10..];
    if rest.is_empty() {
        return Some(Piece::Date(date, None));
    }
    let rest = rest.strip_prefix(['t', 'T'])?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&word.to_ascii_uppercase()) {
        return Some(Piece::Instant(t.with_timezone(&Utc)));
    }
    let time = NaiveTime::parse_from_str(rest, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(rest, "%H:%M"))
        .ok()?;
    Some(Piece::DateClock(
        date,
        Clock {
            hour: time.hour(),
            minute: time.minute(),
            meridiem: Meridiem::H24,
        },
    ))
}

/// "5pm", "5:30pm", "5.30am", "17:00", "9": hour, minute and the am/pm it carries.
fn clock_word(word: &str) -> Option<(u32, u32, Option<Meridiem>, bool)> {
    let (digits, meridiem) = if let Some(d) = word.strip_suffix("am").or(word.strip_suffix("a.m")) {
        (d, Some(Meridiem::Am))
    } else if let Some(d) = word.strip_suffix("pm").or(word.strip_suffix("p.m")) {
        (d, Some(Meridiem::Pm))
    } else {
        (word, None)
    };
    // "5.30" is a time only with am or pm ("5.30pm"); alone it is more likely an amount.
    let split = if meridiem.is_some() {
        digits.split_once([':', '.'])
    } else {
        digits.split_once(':')
    };
    let (h, m, has_minutes) = match split {
        Some((h, m)) => (h, m, true),
        None => (digits, "0", false),
    };
    let all_digits =
        |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || !all_digits(m) || (has_minutes && m.len() != 2) {
        return None;
    }
    let (hour, minute): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if minute > 59 {
        return None;
    }
    match meridiem {
        Some(_) if !(1..=12).contains(&hour) => None,
        None if hour > 23 => None,
        _ => Some((hour, minute, meridiem, has_minutes)),
    }
}

/// A time of day at `at`: "5pm", "5 pm", "17:00", "noon", "at 5", "5 o'clock".
fn clock(toks: &[Tok], at: usize, prev: &str) -> Option<(usize, Clock)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let w = word(at);
    if matches!(w, "noon" | "midday") {
        return Some((
            1,
            Clock {
                hour: 12,
                minute: 0,
                meridiem: Meridiem::H24,
            },
        ));
    }
    // "at 5" and "@ 5": the hour after the "at" (which the caller then takes too).
    if matches!(w, "at" | "@") {
        let (len, c) = clock(toks, at + 1, "at")?;
        return Some((len + 1, c));
    }
    let (hour, minute, meridiem, has_minutes) = clock_word(w)?;
    if meridiem.is_some() {
        return Some((
            1,
            Clock {
                hour,
                minute,
                meridiem: meridiem?,
            },
        ));
    }
    let next = word(at + 1);
    let after = match next {
        "am" | "a.m" => Some(Meridiem::Am),
        "pm" | "p.m" => Some(Meridiem::Pm),
        _ => None,
    };
    if let Some(m) = after.filter(|_| (1..=12).contains(&hour)) {
        return Some((
            2,
            Clock {
                hour,
                minute,
                meridiem: m,
            },
        ));
    }
    if has_minutes {
        // "3:30" reads as "at 3" does (afternoon); "03:30" and "15:30" are 24-hour.
        let meridiem = if w.starts_with('0') || hour == 0 || hour > 12 {
            Meridiem::H24
        } else {
            Meridiem::Guess
        };
        return Some((
            1,
            Clock {
                hour,
                minute,
                meridiem,
            },
        ));
    }
    let meridiem = if hour > 12 || hour == 0 {
        Meridiem::H24
    } else {
        Meridiem::Guess
    };
    if next == "o'clock" {
        return Some((
            2,
            Clock {
                hour,
                minute,
                meridiem,
            },
        ));
    }
    // A bare number is a time only after "at": "buy 5 apples" has none.
    matches!(prev, "at" | "@").then_some((
        1,
        Clock {
            hour,
            minute,
            meridiem,
        },
    ))
}

/// A date phrase at `at` without a time: "today", "tomorrow", "friday", "next week",
/// "in 3 days", "dec 5", "the 5th", "2026-12-05".
fn date(toks: &[Tok], at: usize, prev: &str, now: &Now) -> Option<(usize, NaiveDate)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let w = word(at);
    let one = |d: Option<NaiveDate>| d.map(|d| (1, d));
    match w {
        "today" => return Some((1, now.today)),
        "tomorrow" | "tmrw" | "tmr" | "tomorow" | "tommorow" | "tommorrow" => {
            return one(now.plus_days(1))
        }
        _ => {}
    }
    if starts_with(toks, at, "the day after tomorrow") {
        return now.plus_days(2).map(|d| (4, d));
    }
    if starts_with(toks, at, "day after tomorrow") {
        return now.plus_days(2).map(|d| (3, d));
    }
    let short = BEFORE_SHORT_DAY.contains(&prev) || PLAIN_SHORT_DAYS.contains(&w);
    if let Some(day) = weekday(w, short, false) {
        return one(next_weekday(now, day));
    }
    if w == "this" {
        let next = word(at + 1);
        if let Some(day) = weekday(next, true, false) {
            return this_weekday(now, day).map(|d| (2, d));
        }
        if next == "weekend" {
            let sat = this_weekday(now, Weekday::Sat)?;
            let d = if now.today.weekday() == Weekday::Sun {
                now.today
            } else {
                sat
            };
            return Some((2, d));
        }
    }
    if w == "next" {
        let next = word(at + 1);
        if let Some(day) = weekday(next, true, false) {
            return weekday_next_week(now, day).map(|d| (2, d));
        }
        let d = match next {
            "week" => next_monday(now),
            "weekend" => weekday_next_week(now, Weekday::Sat),
            "month" => now.today.with_day(1)?.checked_add_months(Months::new(1)),
            "year" => NaiveDate::from_ymd_opt(now.today.year().checked_add(1)?, 1, 1),
            _ => None,
        };
        return d.map(|d| (2, d));
    }
    if w == "in" {
        let (n, unit, len) = quantity(toks, at + 1)?;
        let d = match unit {
            Unit::Day => now.plus_days(n.into()),
            Unit::Week => now.plus_days(u64::from(n) * 7),
            Unit::Month => now.today.checked_add_months(Months::new(n)),
            Unit::Year => now
                .today
                .checked_add_months(Months::new(n.checked_mul(12)?)),
            Unit::Minute | Unit::Hour => None,
        };
        return d.map(|d| (len + 1, d));
    }
    // "end of the month", "the last day of the month": this month's last day.
    let the = usize::from(w == "the");
    let month_end = match_phrase(toks, at, &["end of the month", "end of month"]).or_else(|| {
        match_phrase(
            toks,
            at + the,
            &[
                "last day of the month",
                "last day of month",
                "last day of this month",
            ],
        )
        .map(|len| the + len)
    });
    if let Some(len) = month_end {
        let last = now
            .today
            .with_day(1)?
            .checked_add_months(Months::new(1))?
            .pred_opt()?;
        return Some((len, last));
    }
    if let Some(Piece::Date(d, None)) = iso(w) {
        return Some((1, d));
    }
    // "starting dec 3" two days after: this year's, the series began then.
    let began = matches!(prev, "starting" | "from" | "since");
    calendar_date(toks, at, now, began)
}

/// The date or time phrase at `at`, if any. `prev` is the word before it (some phrases
/// are read only after "on", "next", "at" ...).
pub(super) fn phrase(toks: &[Tok], at: usize, prev: &str, now: &Now) -> Option<(usize, Piece)> {
    let word = |i: usize| toks.get(i).map_or("", |t| t.word());
    let w = word(at);
    if w.is_empty() {
        return None;
    }
    if w == "tonight" {
        return Some((1, Piece::Date(now.today, Some(Part::Night))));
    }
    if w == "this" {
        if let Some(part) = Part::parse(word(at + 1)).filter(|p| *p != Part::Night) {
            return Some((2, Piece::Date(now.today, Some(part))));
        }
    }
    if starts_with(toks, at, "in the") {
        if let Some(part) = Part::parse(word(at + 2)).filter(|p| *p != Part::Night) {
            return Some((3, Piece::Part(part)));
        }
    }
    if starts_with(toks, at, "at night") {
        return Some((2, Piece::Part(Part::Night)));
    }
    if w == "in" {
        if let Some((n, unit, len)) = quantity(toks, at + 1) {
            let minutes = match unit {
                Unit::Minute => Some(i64::from(n)),
                Unit::Hour => Some(i64::from(n) * 60),
                _ => None,
            };
            if let Some(minutes) = minutes {
                let t = now
                    .now
                    .checked_add_signed(Duration::try_minutes(minutes)?)?;
                let t = DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(60), 0)?;
                return Some((len + 1, Piece::Instant(t)));
            }
        }
    }
    if let Some(piece @ (Piece::Instant(_) | Piece::DateClock(..))) = iso(w) {
        return Some((1, piece));
    }
    if let Some((len, c)) = clock(toks, at, prev) {
        return Some((len, Piece::Clock(c)));
    }
    let (len, d) = date(toks, at, prev, now)?;
    // "tomorrow morning", "friday evening", "monday night"
    match Part::parse(word(at + len)) {
        Some(part) if word(at + len) != "tonight" => Some((len + 1, Piece::Date(d, Some(part)))),
        _ => Some((len, Piece::Date(d, None))),
    }
}

/// Reads the whole of `toks` as one when (connector words such as "to", "on", "at"
/// allowed between the phrases), or `None` if any word is something else.
pub(super) fn whole(toks: &[Tok], now: &Now) -> Option<When> {
    let mut when = When::default();
    let mut i = 0;
    let mut prev = "";
    while i < toks.len() {
        let w = toks[i].word();
        if matches!(
            w,
            "to" | "on" | "at" | "for" | "by" | "until" | "till" | "due" | "@"
        ) && phrase(toks, i, prev, now).is_none()
        {
            prev = w;
            i += 1;
            continue;
        }
        let (len, piece) = phrase(toks, i, prev, now)?;
        if !when.merge(piece) {
            return None;
        }
        prev = toks[i + len - 1].word();
        i += len;
    }
    (!when.is_empty()).then_some(when)
}

#[cfg(test)]
mod tests {
    use super::super::words::tokenize;
    use super::*;

    fn now(tz: Tz) -> Now {
        Now::new("2026-11-30T10:00:00Z".parse().unwrap(), tz)
    }

    fn at(text: &str, tz: Tz) -> Option<String> {
        let n = now(tz);
        whole(&tokenize(text), &n)?
            .resolve(&n, None)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    #[test]
    fn phrases_resolve_in_the_time_zone() {
        let berlin = chrono_tz::Europe::Berlin;
        let utc = chrono_tz::UTC;
        for (text, tz, expected) in [
            ("tomorrow 9am", berlin, "2026-12-01T08:00:00Z"),
            ("tomorrow", utc, "2026-12-01T09:00:00Z"),
            ("today", utc, "2026-11-30T23:59:00Z"),
            ("today", berlin, "2026-11-30T22:59:00Z"),
            ("5pm", utc, "2026-11-30T17:00:00Z"),
            ("9am", utc, "2026-12-01T09:00:00Z"),
            ("friday", utc, "2026-12-04T09:00:00Z"),
            ("next friday", utc, "2026-12-11T09:00:00Z"),
            ("monday", utc, "2026-12-07T09:00:00Z"),
            ("next week", utc, "2026-12-07T09:00:00Z"),
            ("in 3 days", utc, "2026-12-03T09:00:00Z"),
            ("in 2 hours", utc, "2026-11-30T12:00:00Z"),
            ("on dec 5 at 5pm", utc, "2026-12-05T17:00:00Z"),
            ("5 december", utc, "2026-12-05T09:00:00Z"),
            ("2026-12-05", utc, "2026-12-05T09:00:00Z"),
            ("2026-12-05T17:00", berlin, "2026-12-05T16:00:00Z"),
            ("17:00", utc, "2026-11-30T17:00:00Z"),
            ("noon", utc, "2026-11-30T12:00:00Z"),
            ("tonight", utc, "2026-11-30T20:00:00Z"),
            ("at 7", utc, "2026-11-30T19:00:00Z"),
            ("tomorrow at 3:30", utc, "2026-12-01T15:30:00Z"),
            ("tue at 2", utc, "2026-12-01T14:00:00Z"),
            ("fri", utc, "2026-12-04T09:00:00Z"),
            ("tomorrow 03:30", utc, "2026-12-01T03:30:00Z"),
            ("tomorrow at 9:30", utc, "2026-12-01T09:30:00Z"),
            ("tomorrow morning at 3:30", utc, "2026-12-01T03:30:00Z"),
            ("tomorrow at 8", utc, "2026-12-01T08:00:00Z"),
            ("tomorrow evening at 8", utc, "2026-12-01T20:00:00Z"),
            ("mar 27 9am", berlin, "2027-03-27T08:00:00Z"),
            ("mar 28 9am", berlin, "2027-03-28T07:00:00Z"),
            ("2027-03-28T02:30", berlin, "2027-03-28T01:00:00Z"),
            ("2026-10-25T02:30", berlin, "2026-10-25T00:30:00Z"),
            ("nov 29", utc, "2027-11-29T09:00:00Z"),
            ("the 5th", utc, "2026-12-05T09:00:00Z"),
            ("end of the month", utc, "2026-11-30T23:59:00Z"),
        ] {
            assert_eq!(at(text, tz).as_deref(), Some(expected), "{text} in {tz}");
        }
    }

    #[test]
    fn not_a_time() {
        for text in [
            "5",
            "sun",
            "may",
            "2026-13-01",
            "25:00",
            "13pm",
            "tomorrow friday",
        ] {
            assert_eq!(at(text, chrono_tz::UTC), None, "{text}");
        }
    }
}
