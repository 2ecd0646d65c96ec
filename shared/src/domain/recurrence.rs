//! Recurrence rules: what a user may write, parsed into one RFC 5545 representation.
//!
//! Accepted forms (case-insensitive):
//! - `daily`, `weekly`, `monthly`, `yearly` (also `every day|week|month|year`)
//! - `every N days|weeks|months|years` (N = 1..=1000)
//! - `every weekday` (Monday to Friday), `every monday,wednesday` (full or 3-letter names)
//! - an RFC 5545 rule, with or without the `RRULE:` prefix, e.g.
//!   `FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10` or `RRULE:FREQ=MONTHLY;UNTIL=20271231T000000Z`.
//!   Frequencies below daily are refused: a task repeats at most once a day.

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Utc, Weekday};
use rrule::{Frequency, NWeekday, RRule, Unvalidated};

/// How far a series is followed looking for the next occurrence (about 270 years daily).
const MAX_STEPS: usize = 100_000;

const MAX_INTERVAL: u16 = 1000;

/// A validated recurrence rule, with the text the user wrote.
#[derive(Debug, Clone)]
pub struct Recurrence {
    source: String,
    rule: RRule<Unvalidated>,
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
            parse_words(&lower).ok_or_else(|| {
                format!(
                    "unknown recurrence {source:?}: use daily, weekly, monthly, yearly, \
                     \"every N days|weeks|months|years\", \"every weekday\", \
                     \"every monday,wednesday\" or an RFC 5545 RRULE"
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

    /// The due date of the next occurrence, or `None` when the series has ended
    /// (COUNT or UNTIL reached).
    ///
    /// - `anchor` starts the series (its first due date, or the completion time of a first
    ///   task that had none); COUNT counts from it, and a month-end day returns after a
    ///   short month.
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
        let set = rule.build(start).ok()?;
        set.into_iter()
            .take(MAX_STEPS)
            .map(|d| {
                let local = d.naive_utc();
                if local == local_start {
                    anchor
                } else {
                    resolve(tz, local)
                }
            })
            .take_while(|d| until.is_none_or(|until| *d <= until))
            .find(|d| *d > after)
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
/// monthly (or yearly, on 29 February) rule whose start is past the 28th, pick the last of
/// the days 28..=start's day that the month has.
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
        Frequency::Yearly
            if rule.get_by_month().is_empty() || rule.get_by_month() == [start.month() as u8] =>
        {
            rule.by_month(&[chrono::Month::try_from(start.month() as u8).expect("valid month")])
                .by_month_day((28..=day).collect())
                .by_set_pos(vec![-1])
        }
        _ => rule,
    }
}

fn parse_rrule(source: &str) -> Result<RRule<Unvalidated>, String> {
    let body = source
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("rrule:"))
        .map_or(source, |_| &source[6..]);
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
    if rule.get_interval() > MAX_INTERVAL {
        return Err(format!(
            "recurrence INTERVAL must be at most {MAX_INTERVAL}"
        ));
    }
    // Validate against a fixed start so that the rule itself is checked (BYxxx ranges,
    // UNTIL format, COUNT with UNTIL, ...) independently of any task.
    let start = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.with_timezone(&rrule::Tz::UTC);
    rule.clone()
        .validate(start)
        .map_err(|e| format!("invalid RRULE: {e}"))?;
    Ok(rule)
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
}
