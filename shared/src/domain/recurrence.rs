//! Recurrence rules: what a user may write, parsed into one RFC 5545 representation.
//!
//! Accepted forms (case-insensitive):
//! - `daily`, `weekly`, `monthly`, `yearly` (also `every day|week|month|year`)
//! - `every N days|weeks|months|years` (N = 1..=1000)
//! - `every weekday` (Monday to Friday), `every monday,wednesday` (full or 3-letter names)
//! - an RFC 5545 rule, with or without the `RRULE:` prefix, e.g.
//!   `FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10` or `RRULE:FREQ=MONTHLY;UNTIL=20271231T000000Z`.
//!   Frequencies below daily are refused: a task repeats at most once a day. So is a rule
//!   that never produces a date (INTERVAL=0, COUNT=0, BYMONTH=2;BYMONTHDAY=30, a BYSETPOS
//!   past the days chosen, ...), or that RFC 5545 does not allow (a numbered BYDAY such as
//!   `1MO` outside MONTHLY and YEARLY, BYSETPOS alone, an UNTIL that is not UTC), each with a
//!   message that says what to write instead.
//!
//! A series ends cleanly (no next occurrence) at COUNT, at UNTIL, and at the end of year
//! 9999, the last an RFC 3339 timestamp can name. `Recurrence::check_start` tells whether a
//! rule would end at a given first due date.

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Utc, Weekday};
use rrule::{Frequency, NWeekday, RRule, Unvalidated};

use super::change::MAX_RECURRENCE_DEPTH;

/// How far a series is followed looking for the next occurrence (about 270 years daily).
const MAX_STEPS: usize = 100_000;

const MAX_INTERVAL: u16 = 1000;

const COUNT_ONE: &str = "recurrence COUNT=1 ends the series with this task, so it would never \
                         repeat: use COUNT=2 or more, or no recurrence";

/// A validated recurrence rule, with the text the user wrote.
#[derive(Debug, Clone)]
pub struct Recurrence {
    source: String,
    rule: RRule<Unvalidated>,
}

impl serde::Serialize for Recurrence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl Recurrence {
    /// A rule as stored. One stored under older, looser rules that no longer parses is no
    /// rule: its series ends (with a warning), rather than the task failing to load.
    pub fn from_stored(text: &str) -> Option<Recurrence> {
        match Recurrence::parse(text) {
            Ok(rule) => Some(rule),
            Err(why) => {
                tracing::warn!(rule = %text, %why, "a stored recurrence rule no longer parses; its series ends");
                None
            }
        }
    }

    /// Reads an optional stored rule (`from_stored`), for a task's serde.
    pub fn deserialize_stored<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Recurrence>, D::Error> {
        let text: Option<String> = serde::Deserialize::deserialize(d)?;
        Ok(text.as_deref().and_then(Recurrence::from_stored))
    }
}

impl PartialEq for Recurrence {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Recurrence {
    pub fn parse(input: &str) -> Result<Self, String> {
        let source = input.trim();
        if source.is_empty() {
            return Err("recurrence must not be empty; send null to clear it".into());
        }
        if source.len() > 500 {
            return Err("recurrence must be at most 500 characters".into());
        }
        let lower = source.to_ascii_lowercase();
        let rule = if lower.starts_with("rrule:") || lower.starts_with("freq=") {
            parse_rrule(source)?
        } else {
            if let ["every", n, _] = lower.split_whitespace().collect::<Vec<_>>()[..] {
                if n.bytes().all(|b| b.is_ascii_digit())
                    && !n
                        .parse()
                        .is_ok_and(|n: u16| (1..=MAX_INTERVAL).contains(&n))
                {
                    return Err(format!(
                        "recurrence {} needs a number from 1 to {MAX_INTERVAL}, \
                         such as \"every 2 weeks\"",
                        super::text::echo(source)
                    ));
                }
            }
            parse_words(&lower).ok_or_else(|| {
                format!(
                    "unknown recurrence {}: use daily, weekly, monthly, yearly, \
                     \"every N days|weeks|months|years\", \"every weekday\", \
                     \"every monday,wednesday\" or an RFC 5545 RRULE",
                    super::text::echo(source)
                )
            })?
        };
        Ok(Recurrence {
            source: source.to_owned(),
            rule,
        })
    }

    /// The rule as the user wrote it (trimmed); this is what is stored.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parsed RFC 5545 rule.
    pub fn rule(&self) -> &RRule<Unvalidated> {
        &self.rule
    }

    /// The last year a due date can have: an RFC 3339 timestamp, what the API reads, has
    /// four digits for the year. A series ends there.
    pub const LAST_YEAR: i32 = 9999;

    /// The due date of the next occurrence, or `None` when the series has ended
    /// (COUNT or UNTIL reached, or the next date would be after year `LAST_YEAR`).
    ///
    /// - `anchor` starts the series (its first due date, or the completion time of a first
    ///   task that had none); COUNT counts from it (as one of the COUNT, on the rule's
    ///   dates or not), and a month-end day returns after a short month.
    /// - The rule is evaluated in `tz`, so 09:00 stays 09:00 across DST changes.
    /// - The next occurrence comes after the current due date; when the series was missed
    ///   (completed after later occurrences passed) it skips to the first one after
    ///   `completed_at`. A task without a due date recurs from its completion time.
    pub fn next_due(
        &self,
        tz: chrono_tz::Tz,
        anchor: DateTime<Utc>,
        current_due: Option<DateTime<Utc>>,
        completed_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let after = current_due.map_or(completed_at, |due| due.max(completed_at));
        // The rule counts days, weeks and months on the task's wall clock. Evaluate it in
        // floating time (the local date and time written as UTC, where every local time
        // exists exactly once), then place each occurrence in `tz` with `resolve`. rrule's
        // own placement drops an occurrence whose local time falls in a DST gap that starts
        // at midnight (America/Santiago, America/Havana, ...), skipping a day of the series.
        let local_start = anchor.with_timezone(&tz).naive_local();
        let start = rrule::Tz::UTC.from_utc_datetime(&local_start);
        let mut rule = clamp_month_end(self.rule.clone(), &start);
        // UNTIL is an instant: rrule sees it on the wall clock, a day late, so that it never
        // ends the series early; the exact cut is below.
        let until = self.rule.get_until().map(|u| u.with_timezone(&Utc));
        if let Some(until) = until {
            let local_until = until.with_timezone(&tz).naive_local();
            let late = local_until
                .checked_add_signed(chrono::Duration::days(1))
                .unwrap_or(local_until);
            rule = rule.until(rrule::Tz::UTC.from_utc_datetime(&late));
        }
        // `limit`: rrule gives up after 100,000 steps without a date (the next date of a
        // rule that has dates comes much sooner).
        let mut dates = rule
            .build(start)
            .ok()?
            .limit()
            .into_iter()
            .take(MAX_STEPS)
            .peekable();
        // An anchor off the rule's dates (a weekly BYDAY series started on another day) is
        // the series' first task all the same, so it counts toward COUNT: COUNT tasks in all.
        let off_rule = dates.peek().is_some_and(|d| d.naive_utc() != local_start);
        let counted = match self.rule.get_count() {
            Some(count) if off_rule => (count as usize).saturating_sub(1),
            _ => usize::MAX,
        };
        dates
            .take(counted)
            .map(|d| {
                let local = d.naive_utc();
                if local == local_start {
                    anchor
                } else {
                    resolve(tz, local)
                }
            })
            .take_while(|d| until.is_none_or(|until| *d <= until))
            .take_while(|d| d.year() <= Self::LAST_YEAR)
            .find(|d| *d > after)
    }

    /// Refuses this rule for a task due at `due` (in `tz`) when the series would end at that
    /// task, never producing another: an UNTIL before the next date, COUNT=1, a rule whose
    /// dates never fall after `due` (e.g. every 4 years on 29 February, counted from a year
    /// that is not a leap year), or a next date after year `LAST_YEAR`. For a task that has
    /// a due date; one without recurs from its completion time (`check_undated`).
    pub fn check_start(&self, tz: chrono_tz::Tz, due: DateTime<Utc>) -> Result<(), String> {
        if self.next_due(tz, due, Some(due), due).is_some() {
            return Ok(());
        }
        let due_text = due.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        Err(if let Some(until) = self.rule.get_until() {
            format!(
                "recurrence UNTIL={} ends the series before any date after the due date \
                 {due_text}, so the task would never repeat: move UNTIL later or remove it",
                until.format("%Y%m%dT%H%M%SZ")
            )
        } else if self.rule.get_count() == Some(1) {
            COUNT_ONE.into()
        } else {
            format!(
                "recurrence {} has no date after the due date {due_text} up to the end of \
                 year {}, so the task would never repeat: change the rule or the due date",
                super::text::echo(&self.source),
                Self::LAST_YEAR
            )
        })
    }

    /// Refuses a COUNT of more tasks than a series has: it stops after its first task and
    /// `MAX_RECURRENCE_DEPTH` more.
    pub fn check_count(&self) -> Result<(), String> {
        let most = i64::from(MAX_RECURRENCE_DEPTH) + 1;
        match self.rule.get_count() {
            Some(n) if i64::from(n) > most => Err(format!(
                "recurrence COUNT must be at most {most}: a series stops after its first task \
                 and {MAX_RECURRENCE_DEPTH} more"
            )),
            _ => Ok(()),
        }
    }

    /// Refuses this rule for a task with no due date, which recurs from its completion time:
    /// not known yet, but not before `now`, so an UNTIL already past surely ends the series,
    /// as does COUNT=1.
    pub fn check_undated(&self, now: DateTime<Utc>) -> Result<(), String> {
        if self.rule.get_count() == Some(1) {
            return Err(COUNT_ONE.into());
        }
        match self.rule.get_until() {
            Some(until) if until.with_timezone(&Utc) < now => Err(format!(
                "recurrence UNTIL={} is already past, so the task would never repeat: move \
                 UNTIL later or remove it",
                until.format("%Y%m%dT%H%M%SZ")
            )),
            _ => Ok(()),
        }
    }
}

/// The instant of wall-clock time `local` in `tz` (RFC 5545 §3.3.5): an ambiguous time (the
/// clocks went back) is its first instance; a time that does not exist (the clocks went
/// forward) is read with the offset in force before the gap, so 02:30 on the night Berlin
/// springs forward is 03:30 summer time.
fn resolve(tz: chrono_tz::Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // The latest wall-clock time before the gap that exists gives the old offset
            // (gaps are shorter than two days; Samoa skipped one whole day).
            let offset = (1..=48)
                .find_map(|h| {
                    let earlier = local.checked_sub_signed(chrono::Duration::hours(h))?;
                    tz.from_local_datetime(&earlier).earliest()
                })
                .map_or(0, |t| t.offset().fix().local_minus_utc());
            let utc = local
                .checked_sub_signed(chrono::Duration::seconds(offset.into()))
                .unwrap_or(local);
            Utc.from_utc_datetime(&utc)
        }
    }
}

/// RFC 5545 skips months that lack the start's day ("monthly on the 31st" has no April).
/// A todo should rather fall on the month's last day and come back to the 31st: for a plain
/// monthly rule (or a yearly one in one month, such as 29 February) whose start is past the
/// 28th, pick the last of the days 28..=start's day that the month has. (An explicit
/// BYMONTHDAY=31 keeps its RFC 5545 meaning: the months that have a 31st.)
fn clamp_month_end(rule: RRule<Unvalidated>, start: &DateTime<rrule::Tz>) -> RRule<Unvalidated> {
    let day = start.day() as i8;
    let plain = rule.get_by_month_day().is_empty()
        && rule.get_by_weekday().is_empty()
        && rule.get_by_year_day().is_empty()
        && rule.get_by_week_no().is_empty()
        && rule.get_by_set_pos().is_empty();
    if !plain || day <= 28 {
        return rule;
    }
    match rule.get_freq() {
        Frequency::Monthly => rule.by_month_day((28..=day).collect()).by_set_pos(vec![-1]),
        // One month a year (the start's, or BYMONTH's one): "yearly in April" from 31
        // January falls on 30 April rather than never.
        Frequency::Yearly if rule.get_by_month().len() <= 1 => {
            let month = rule
                .get_by_month()
                .first()
                .copied()
                .unwrap_or(start.month() as u8);
            match chrono::Month::try_from(month) {
                Ok(month) => rule
                    .by_month(&[month])
                    .by_month_day((28..=day).collect())
                    .by_set_pos(vec![-1]),
                Err(_) => rule,
            }
        }
        _ => rule,
    }
}

fn parse_rrule(source: &str) -> Result<RRule<Unvalidated>, String> {
    let body = source
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("rrule:"))
        .map_or(source, |_| &source[6..]);
    // RFC 5545 rules are ASCII; rrule slices its input by byte and panics inside a
    // multi-byte character (found by fuzz/fuzz_targets/recurrence.rs).
    if !body.is_ascii() {
        return Err(
            "invalid RRULE: only ASCII letters, digits and the signs ; = , - + : may appear in it"
                .into(),
        );
    }
    if body.to_ascii_uppercase().contains("DTSTART") {
        return Err(
            "recurrence must not contain DTSTART: the task's due date starts the series".into(),
        );
    }
    let rule: RRule<Unvalidated> = body
        .to_ascii_uppercase()
        .parse()
        .map_err(|e| format!("invalid RRULE: {e}"))?;
    if matches!(
        rule.get_freq(),
        Frequency::Hourly | Frequency::Minutely | Frequency::Secondly
    ) {
        return Err(
            "recurrence must repeat at most daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)".into(),
        );
    }
    if !rule.get_by_hour().is_empty()
        || !rule.get_by_minute().is_empty()
        || !rule.get_by_second().is_empty()
    {
        return Err(
            "recurrence must not set BYHOUR, BYMINUTE or BYSECOND: the time of day comes from the task's due date"
                .into(),
        );
    }
    if rule.get_count().is_some() && rule.get_until().is_some() {
        return Err("invalid RRULE: COUNT and UNTIL must not both be given".into());
    }
    if rule.get_interval() == 0 {
        return Err(
            "recurrence INTERVAL must be at least 1: INTERVAL=0 would never repeat (leave \
             INTERVAL out to repeat every day, week, month or year)"
                .into(),
        );
    }
    if rule.get_interval() > MAX_INTERVAL {
        return Err(format!(
            "recurrence INTERVAL must be at most {MAX_INTERVAL}"
        ));
    }
    if rule.get_count() == Some(0) {
        return Err(
            "recurrence COUNT must be at least 1: it is the number of occurrences, this task \
             included"
                .into(),
        );
    }
    if let Some(until) = rule.get_until() {
        if until.timezone() != rrule::Tz::UTC {
            return Err(
                "recurrence UNTIL must be a UTC date and time ending in Z, such as \
                 UNTIL=20271231T235959Z"
                    .into(),
            );
        }
    }
    check_by_day(&rule)?;
    if !rule.get_by_set_pos().is_empty()
        && rule.get_by_weekday().is_empty()
        && rule.get_by_month_day().is_empty()
        && rule.get_by_month().is_empty()
        && rule.get_by_year_day().is_empty()
        && rule.get_by_week_no().is_empty()
    {
        return Err(
            "recurrence BYSETPOS picks among the days that BYDAY, BYMONTHDAY, BYMONTH, \
             BYYEARDAY or BYWEEKNO choose, and this rule has none of them: add one, e.g. \
             FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1 for the last weekday of each month"
                .into(),
        );
    }
    // Validate against a fixed start so that the rule itself is checked (BYxxx ranges,
    // UNTIL format, ...) independently of any task; an UNTIL before that start is the
    // task's business (`check_start`).
    let epoch = DateTime::<Utc>::UNIX_EPOCH.with_timezone(&rrule::Tz::UTC);
    let start = rule.get_until().map_or(epoch, |until| epoch.min(*until));
    rule.clone()
        .validate(start)
        .map_err(|e| format!("invalid RRULE: {e}"))?;
    if !can_occur(&rule) {
        return Err(format!(
            "recurrence {} never happens: no date matches all of its parts together \
             (such as BYMONTH=2 with BYMONTHDAY=30, or BYSETPOS=3 when only two days are \
             chosen); change or remove one of them",
            super::text::echo(source)
        ));
    }
    Ok(rule)
}

/// RFC 5545 numbers a weekday in BYDAY (`1MO`, the first Monday; `-1FR`, the last Friday)
/// only within a month or a year: FREQ=MONTHLY, or FREQ=YEARLY without BYWEEKNO. rrule
/// accepts a number with DAILY and WEEKLY but ignores the weekday then (`FREQ=WEEKLY;
/// BYDAY=1MO` repeats every day), so it is refused here, and so is a number no month or year
/// has.
fn check_by_day(rule: &RRule<Unvalidated>) -> Result<(), String> {
    let freq = rule.get_freq();
    for by_day in rule.get_by_weekday() {
        let NWeekday::Nth(n, day) = *by_day else {
            continue;
        };
        let name = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][day.num_days_from_monday() as usize];
        let written = format!("BYDAY={n}{name}");
        let plain = format!("BYDAY={name}");
        if !matches!(freq, Frequency::Monthly | Frequency::Yearly) {
            return Err(format!(
                "recurrence {written} numbers the weekday, which RFC 5545 allows only with \
                 FREQ=MONTHLY or FREQ=YEARLY: write {plain} for every such weekday, or \
                 FREQ=MONTHLY;{written} for one each month"
            ));
        }
        if freq == Frequency::Yearly && !rule.get_by_week_no().is_empty() {
            return Err(format!(
                "recurrence {written} numbers the weekday, which RFC 5545 does not allow with \
                 BYWEEKNO: write {plain} for that weekday of each chosen week"
            ));
        }
        // rrule's own limits: it refuses -5 in a monthly rule and -53 in a yearly one.
        let (range, hint) = if freq == Frequency::Monthly {
            (
                -4..=5,
                "a month has at most 5 of each weekday: use 1 to 5, or -1 to -4 counting from \
                 the month's end",
            )
        } else if !rule.get_by_month().is_empty() {
            (
                -5..=5,
                "with BYMONTH it counts within the month, which has at most 5 of each weekday: \
                 use 1 to 5, or -1 to -5 counting from the month's end",
            )
        } else {
            (
                -52..=53,
                "a year has at most 53 of each weekday: use 1 to 53, or -1 to -52 counting \
                 from the year's end",
            )
        };
        if n == 0 || !range.contains(&n) {
            return Err(format!("recurrence {written} is out of range: {hint}"));
        }
    }
    Ok(())
}

/// Whether the rule yields any date at all. Judged with INTERVAL=1 and without COUNT or
/// UNTIL (which depend on the task, see `check_start`) over the last 400 years rrule can
/// count, 9600 to 10000: the Gregorian calendar repeats every 400 years (a whole number of
/// weeks), so a rule with no date there has none anywhere. The start, 1 January, is a day
/// every month has, so the parts the rule takes from its start (the day of the month, the
/// month) are never what makes it impossible.
fn can_occur(rule: &RRule<Unvalidated>) -> bool {
    let tz = rrule::Tz::UTC;
    let (Some(start), Some(end)) = (
        tz.with_ymd_and_hms(9600, 1, 1, 0, 0, 0).single(),
        tz.with_ymd_and_hms(10_000, 12, 31, 23, 59, 59).single(),
    ) else {
        return true;
    };
    let probe = rule.clone().interval(1).until(end);
    // The iteration ends past year 10000, where rrule stops counting.
    probe
        .build(start)
        .is_ok_and(|set| set.into_iter().next().is_some())
}

fn parse_words(s: &str) -> Option<RRule<Unvalidated>> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let simple = |unit: &str| -> Option<Frequency> {
        Some(match unit.trim_end_matches('s') {
            "day" => Frequency::Daily,
            "week" => Frequency::Weekly,
            "month" => Frequency::Monthly,
            "year" => Frequency::Yearly,
            _ => return None,
        })
    };
    match words.as_slice() {
        ["daily"] => Some(RRule::new(Frequency::Daily)),
        ["weekly"] => Some(RRule::new(Frequency::Weekly)),
        ["monthly"] => Some(RRule::new(Frequency::Monthly)),
        ["yearly"] | ["annually"] => Some(RRule::new(Frequency::Yearly)),
        ["every", "weekday"] | ["every", "weekdays"] => Some(
            RRule::new(Frequency::Weekly).by_weekday(
                [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ]
                .into_iter()
                .map(NWeekday::Every)
                .collect(),
            ),
        ),
        ["every", unit] if simple(unit).is_some() && !unit.ends_with('s') => {
            Some(RRule::new(simple(unit)?))
        }
        ["every", n, unit] if n.parse::<u16>().is_ok() => {
            let n: u16 = n.parse().ok()?;
            if n == 0 || n > MAX_INTERVAL {
                return None;
            }
            Some(RRule::new(simple(unit)?).interval(n))
        }
        ["every", rest @ ..] => {
            let days = rest
                .join(" ")
                .split([',', ' '])
                .filter(|d| !d.is_empty() && *d != "and")
                .map(weekday)
                .collect::<Option<Vec<_>>>()?;
            (!days.is_empty()).then(|| {
                RRule::new(Frequency::Weekly)
                    .by_weekday(days.into_iter().map(NWeekday::Every).collect())
            })
        }
        _ => None,
    }
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name {
        "mon" | "monday" | "mondays" => Weekday::Mon,
        "tue" | "tues" | "tuesday" | "tuesdays" => Weekday::Tue,
        "wed" | "wednesday" | "wednesdays" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" | "thursdays" => Weekday::Thu,
        "fri" | "friday" | "fridays" => Weekday::Fri,
        "sat" | "saturday" | "saturdays" => Weekday::Sat,
        "sun" | "sunday" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_documented_form() {
        for ok in [
            "daily",
            "Weekly",
            "monthly",
            "yearly",
            "every day",
            "every week",
            "every 2 days",
            "every 3 weeks",
            "every 1 month",
            "every 10 years",
            "every weekday",
            "every monday,wednesday",
            "every Mon, Fri",
            "every tuesday and thursday",
            "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10",
            "RRULE:FREQ=MONTHLY;UNTIL=20271231T000000Z",
            "rrule:freq=daily;interval=2",
        ] {
            assert!(
                Recurrence::parse(ok).is_ok(),
                "{ok} should parse: {:?}",
                Recurrence::parse(ok).err()
            );
        }
    }

    #[test]
    fn refuses_unknown_or_unsafe_rules() {
        for bad in [
            "",
            "sometimes",
            "every 0 days",
            "every 1001 days",
            "every blursday",
            "every",
            "FREQ=HOURLY",
            "FREQ=SOMETIMES",
            "RRULE:FREQ=DAILY;BYMONTHDAY=40",
            "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY",
            "FREQ=DAILY;COUNT=3;UNTIL=20271231T000000Z",
            "FREQ=DAILY;BYHOUR=3,4",
            "RRULE:FREQ=WEEKLY;BYMINUTE=0,30",
            "FREQ=DAILY;BYSECOND=1",
            // rrule panicked inside a multi-byte character (a fuzzing find).
            "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,EW\u{53a}T,TH,FR",
            "RRULE:FREQ=WEEKLY;BYDAY=MÖ",
        ] {
            assert!(Recurrence::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(rule: &str, tz: &str, anchor: &str, due: Option<&str>, done: &str) -> Option<String> {
        Recurrence::parse(rule)
            .unwrap()
            .next_due(tz.parse().unwrap(), utc(anchor), due.map(utc), utc(done))
            .map(|d| d.to_rfc3339())
    }

    #[test]
    fn weekly_moves_the_due_date_by_seven_days() {
        let d = "2026-11-02T09:00:00+00:00";
        assert_eq!(
            next("weekly", "UTC", d, Some(d), "2026-11-01T12:00:00Z").unwrap(),
            "2026-11-09T09:00:00+00:00"
        );
    }

    #[test]
    fn daily_keeps_wall_clock_time_across_dst() {
        // Berlin leaves summer time on 2026-10-25: 09:00 CEST is 07:00Z, 09:00 CET is 08:00Z.
        let d = "2026-10-24T07:00:00Z";
        assert_eq!(
            next("daily", "Europe/Berlin", d, Some(d), "2026-10-24T06:00:00Z").unwrap(),
            "2026-10-25T08:00:00+00:00"
        );
    }

    #[test]
    fn a_time_in_a_dst_gap_moves_forward_even_when_the_gap_starts_at_midnight() {
        // Santiago springs forward at midnight on 2026-09-06: 00:30 does not exist that day
        // and is read as 00:30 winter time (-04), which is 01:30 summer time (-03). The day
        // must not be skipped.
        let d = "2026-09-05T04:30:00Z"; // 00:30 -04
        let sunday = next("daily", "America/Santiago", d, Some(d), d).unwrap();
        assert_eq!(sunday, "2026-09-06T04:30:00+00:00");
        let monday = next("daily", "America/Santiago", d, Some(&sunday), &sunday).unwrap();
        assert_eq!(monday, "2026-09-07T03:30:00+00:00"); // 00:30 -03

        // The same in Berlin, where the gap is 02:00-03:00: 02:30 becomes 03:30 CEST.
        let d = "2026-03-28T01:30:00Z";
        assert_eq!(
            next("daily", "Europe/Berlin", d, Some(d), d).unwrap(),
            "2026-03-29T01:30:00+00:00"
        );
    }

    #[test]
    fn until_is_an_instant_in_any_time_zone() {
        // UNTIL 2026-01-03 08:00Z is 09:00 in Berlin: the occurrence at 09:00 Berlin that day
        // is the last one; in New York (04:00 local then) 09:00 that day is past it.
        let rule = "FREQ=DAILY;UNTIL=20260103T080000Z";
        let d = "2026-01-02T08:00:00Z";
        assert_eq!(
            next(rule, "Europe/Berlin", d, Some(d), d).unwrap(),
            "2026-01-03T08:00:00+00:00"
        );
        let d = "2026-01-02T14:00:00Z";
        assert_eq!(next(rule, "America/New_York", d, Some(d), d), None);
    }

    #[test]
    fn monthly_on_the_31st_clamps_and_returns() {
        let anchor = "2027-01-31T09:00:00Z";
        let feb = next(
            "monthly",
            "UTC",
            anchor,
            Some(anchor),
            "2027-01-30T00:00:00Z",
        )
        .unwrap();
        assert_eq!(feb, "2027-02-28T09:00:00+00:00");
        let mar = next("monthly", "UTC", anchor, Some(&feb), "2027-02-27T00:00:00Z").unwrap();
        assert_eq!(mar, "2027-03-31T09:00:00+00:00");
    }

    #[test]
    fn count_and_until_end_the_series() {
        let a = "2026-01-01T09:00:00Z";
        assert_eq!(
            next("FREQ=DAILY;COUNT=2", "UTC", a, Some(a), a).unwrap(),
            "2026-01-02T09:00:00+00:00"
        );
        assert_eq!(
            next(
                "FREQ=DAILY;COUNT=2",
                "UTC",
                a,
                Some("2026-01-02T09:00:00Z"),
                a
            ),
            None
        );
        assert_eq!(
            next(
                "RRULE:FREQ=DAILY;UNTIL=20260102T090000Z",
                "UTC",
                a,
                Some("2026-01-02T09:00:00Z"),
                a
            ),
            None
        );
    }

    #[test]
    fn missed_series_skips_to_after_completion_and_undated_recurs_from_completion() {
        let a = "2026-01-01T09:00:00Z";
        assert_eq!(
            next("daily", "UTC", a, Some(a), "2026-01-05T10:00:00Z").unwrap(),
            "2026-01-06T09:00:00+00:00"
        );
        let done = "2026-03-10T15:30:00Z";
        assert_eq!(
            next("every 3 days", "UTC", done, None, done).unwrap(),
            "2026-03-13T15:30:00+00:00"
        );
    }

    #[test]
    fn words_map_to_rfc5545() {
        let r = Recurrence::parse("every 2 weeks").unwrap();
        assert_eq!(r.rule().get_freq(), Frequency::Weekly);
        assert_eq!(r.rule().get_interval(), 2);
        let r = Recurrence::parse("every weekday").unwrap();
        assert_eq!(r.rule().get_by_weekday().len(), 5);
        assert_eq!(r.as_str(), "every weekday");
    }

    fn refused(rule: &str) -> String {
        match Recurrence::parse(rule) {
            Ok(r) => panic!("{rule:?} should be refused, parsed as {}", r.rule()),
            Err(e) => e,
        }
    }

    #[test]
    fn refuses_rules_that_never_happen_saying_why() {
        for (rule, why) in [
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be at least 1"),
            (
                "rrule:freq=weekly;interval=0;byday=mo",
                "INTERVAL must be at least 1",
            ),
            ("FREQ=YEARLY;INTERVAL=0", "INTERVAL must be at least 1"),
            ("every 0 days", "a number from 1 to 1000"),
            ("every 1001 weeks", "a number from 1 to 1000"),
            ("FREQ=DAILY;COUNT=0", "COUNT must be at least 1"),
            // Days that the chosen months never have.
            ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", "never happens"),
            ("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31", "never happens"),
            ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-30", "never happens"),
            ("FREQ=DAILY;BYMONTH=2,4,6;BYMONTHDAY=31", "never happens"),
            ("FREQ=YEARLY;BYYEARDAY=1;BYMONTH=6", "never happens"),
            ("FREQ=YEARLY;BYWEEKNO=1;BYMONTH=6", "never happens"),
            ("FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=8", "never happens"),
            // Positions past the end of the set.
            ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "never happens"),
            ("FREQ=MONTHLY;BYMONTHDAY=1,2;BYSETPOS=3", "never happens"),
            ("FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=3", "never happens"),
            ("FREQ=DAILY;BYDAY=MO;BYSETPOS=2", "never happens"),
            // BYSETPOS with nothing to pick from.
            ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS picks among"),
            ("FREQ=YEARLY;BYSETPOS=-1", "BYSETPOS picks among"),
            // UNTIL must be an instant.
            (
                "FREQ=DAILY;UNTIL=20271231",
                "UNTIL must be a UTC date and time",
            ),
            (
                "FREQ=DAILY;UNTIL=20271231T090000",
                "UNTIL must be a UTC date and time",
            ),
        ] {
            let err = refused(rule);
            assert!(err.contains(why), "{rule}: {err}");
        }
    }

    #[test]
    fn numbered_weekdays_only_within_a_month_or_a_year_and_in_range() {
        for (rule, why) in [
            // RFC 5545: a number only with MONTHLY or YEARLY (rrule ignored the weekday:
            // FREQ=WEEKLY;BYDAY=+1MO repeated every day).
            (
                "FREQ=WEEKLY;BYDAY=+1MO",
                "only with FREQ=MONTHLY or FREQ=YEARLY",
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO,-1FR",
                "only with FREQ=MONTHLY or FREQ=YEARLY",
            ),
            (
                "FREQ=DAILY;BYDAY=2TU",
                "only with FREQ=MONTHLY or FREQ=YEARLY",
            ),
            (
                "FREQ=YEARLY;BYWEEKNO=10;BYDAY=1MO",
                "not allow with BYWEEKNO",
            ),
            // A month has at most five of each weekday, a year 53.
            ("FREQ=MONTHLY;BYDAY=+6MO", "out of range"),
            ("FREQ=MONTHLY;BYDAY=-5MO", "out of range"),
            ("FREQ=YEARLY;BYMONTH=1;BYDAY=6MO", "out of range"),
            ("FREQ=YEARLY;BYDAY=54MO", "out of range"),
            ("FREQ=YEARLY;BYDAY=-53MO", "out of range"),
        ] {
            let err = refused(rule);
            assert!(err.contains(why), "{rule}: {err}");
        }
        let a = "2026-01-01T09:00:00Z"; // a Thursday
        let walk = |rule: &str, n: usize| {
            let mut due = a.to_owned();
            (0..n)
                .map(|_| {
                    due = next(rule, "UTC", a, Some(&due), &due).unwrap();
                    due[..10].to_owned()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            walk("FREQ=MONTHLY;BYDAY=+1MO", 3),
            ["2026-01-05", "2026-02-02", "2026-03-02"]
        );
        assert_eq!(
            walk("FREQ=MONTHLY;BYDAY=-1FR", 2),
            ["2026-01-30", "2026-02-27"]
        );
        assert_eq!(
            walk("FREQ=MONTHLY;BYDAY=5MO", 2),
            ["2026-03-30", "2026-06-29"]
        );
        // Thanksgiving, and the fifth-last Monday of March (only in years with five).
        assert_eq!(
            walk("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", 2),
            ["2026-11-26", "2027-11-25"]
        );
        assert_eq!(
            walk("FREQ=YEARLY;BYMONTH=3;BYDAY=-5MO", 2),
            ["2026-03-02", "2027-03-01"]
        );
        assert_eq!(
            walk("FREQ=WEEKLY;BYDAY=MO", 2),
            ["2026-01-05", "2026-01-12"]
        );
        assert_eq!(
            walk("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", 2),
            ["2026-01-30", "2026-02-27"]
        );
    }

    #[test]
    fn rare_but_possible_rules_are_accepted() {
        let a = "2026-01-01T09:00:00Z";
        for (rule, first) in [
            ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "2028-02-29"),
            ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", "2044-02-29"),
            ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", "2044-02-29"),
            ("FREQ=YEARLY;BYYEARDAY=366", "2028-12-31"),
            ("FREQ=YEARLY;BYWEEKNO=53;BYDAY=TH", "2026-12-31"),
            ("FREQ=MONTHLY;BYMONTHDAY=31", "2026-01-31"),
            ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=-29", "2028-02-01"),
            ("FREQ=YEARLY;BYMONTH=2;BYDAY=5MO", "2044-02-29"),
        ] {
            let got = next(rule, "UTC", a, Some(a), a).unwrap_or_else(|| panic!("{rule}"));
            assert_eq!(&got[..10], first, "{rule}");
        }
    }

    #[test]
    fn a_series_ends_cleanly_at_the_end_of_year_9999() {
        // The API reads RFC 3339 timestamps: four-digit years.
        assert_eq!(
            next(
                "yearly",
                "UTC",
                "9999-12-31T09:00:00Z",
                Some("9999-12-31T09:00:00Z"),
                "9999-12-31T09:00:00Z"
            ),
            None
        );
        let d = "9999-12-30T09:00:00Z";
        let last = next("daily", "UTC", d, Some(d), d).unwrap();
        assert_eq!(last, "9999-12-31T09:00:00+00:00");
        assert_eq!(next("daily", "UTC", d, Some(&last), &last), None);
        assert_eq!(
            next(
                "every 1000 years",
                "UTC",
                "9000-01-01T00:00:00Z",
                None,
                "9000-01-01T00:00:00Z"
            ),
            None
        );
        let d = "9999-11-30T09:00:00Z";
        let last = next("monthly", "America/New_York", d, Some(d), d).unwrap();
        assert_eq!(last, "9999-12-30T09:00:00+00:00");
        assert_eq!(
            next("monthly", "America/New_York", d, Some(&last), &last),
            None
        );
        // Where the local date is already in year 10000 (UTC+14), nothing panics either.
        for d in [
            "9999-12-31T08:00:00Z",
            "9999-12-31T20:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            for rule in [
                "daily",
                "weekly",
                "yearly",
                "FREQ=MONTHLY;BYDAY=-1FR",
                "every weekday",
            ] {
                assert_eq!(
                    next(rule, "Pacific/Kiritimati", d, Some(d), d),
                    None,
                    "{rule} from {d}"
                );
            }
        }
        // UNTIL at the very end changes nothing.
        assert_eq!(
            next(
                "FREQ=DAILY;UNTIL=99991231T235959Z",
                "UTC",
                "9999-12-31T09:00:00Z",
                Some("9999-12-31T09:00:00Z"),
                "9999-12-31T09:00:00Z"
            ),
            None
        );
    }

    #[test]
    fn yearly_in_one_month_clamps_to_its_last_day() {
        let a = "2026-01-31T09:00:00Z";
        let apr = next("FREQ=YEARLY;BYMONTH=4", "UTC", a, Some(a), a).unwrap();
        assert_eq!(apr, "2026-04-30T09:00:00+00:00");
        let a = "2027-01-30T09:00:00Z";
        let feb = next("FREQ=YEARLY;BYMONTH=2", "UTC", a, Some(a), a).unwrap();
        assert_eq!(feb, "2027-02-28T09:00:00+00:00");
        let leap = next("FREQ=YEARLY;BYMONTH=2", "UTC", a, Some(&feb), &feb).unwrap();
        assert_eq!(leap, "2028-02-29T09:00:00+00:00");
    }

    /// The assistant's "every month on the 31st": the 31st, or a shorter month's last day.
    #[test]
    fn the_last_of_a_set_of_month_days_gives_a_shorter_months_last_day() {
        let rule = Recurrence::parse("FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1").unwrap();
        let mut due = utc("2027-01-31T09:00:00Z");
        let anchor = due;
        let mut seen = vec![];
        for _ in 0..4 {
            due = rule
                .next_due(chrono_tz::UTC, anchor, Some(due), due)
                .unwrap();
            seen.push(due.format("%Y-%m-%d").to_string());
        }
        assert_eq!(
            seen,
            ["2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"]
        );
    }

    #[test]
    fn check_start_refuses_a_series_that_would_end_at_its_first_task() {
        let check = |rule: &str, due: &str| {
            Recurrence::parse(rule)
                .unwrap()
                .check_start(chrono_tz::UTC, utc(due))
        };
        for (rule, due, why) in [
            (
                "FREQ=DAILY;UNTIL=20250101T000000Z",
                "2026-01-01T09:00:00Z",
                "UNTIL=20250101T000000Z ends the series",
            ),
            (
                "FREQ=DAILY;UNTIL=19691231T000000Z",
                "2026-01-01T09:00:00Z",
                "move UNTIL later",
            ),
            (
                "FREQ=WEEKLY;UNTIL=20260105T000000Z",
                "2026-01-01T09:00:00Z",
                "move UNTIL later",
            ),
            ("FREQ=DAILY;COUNT=1", "2026-01-01T09:00:00Z", "COUNT=1"),
            // A task due on a Thursday is the first of a Monday series all the same.
            (
                "FREQ=WEEKLY;BYDAY=MO;COUNT=1",
                "2026-01-01T09:00:00Z",
                "COUNT=1",
            ),
            // Every 4 years on 29 February, counted from a year that is not a leap year.
            (
                "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",
                "2001-01-01T09:00:00Z",
                "never repeat",
            ),
            ("yearly", "9999-06-01T09:00:00Z", "year 9999"),
        ] {
            let err = check(rule, due).expect_err(rule);
            assert!(err.contains(why), "{rule} due {due}: {err}");
        }
        for (rule, due) in [
            ("daily", "2026-01-01T09:00:00Z"),
            ("FREQ=DAILY;UNTIL=20260102T090000Z", "2026-01-01T09:00:00Z"),
            ("FREQ=DAILY;COUNT=2", "2026-01-01T09:00:00Z"),
            // The Thursday task, then the first Monday after it.
            ("FREQ=WEEKLY;BYDAY=MO;COUNT=2", "2026-01-01T09:00:00Z"),
            (
                "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",
                "2000-01-01T09:00:00Z",
            ),
            ("yearly", "9998-12-31T09:00:00Z"),
        ] {
            assert_eq!(check(rule, due), Ok(()), "{rule} due {due}");
        }
    }
}
