//! Recurrence rules: what a user may write, parsed into one RFC 5545 representation.
//!
//! Accepted forms (case-insensitive):
//! - `daily`, `weekly`, `monthly`, `yearly` (also `every day|week|month|year`)
//! - `every N days|weeks|months|years` (N = 1..=1000)
//! - `every weekday` (Monday to Friday), `every monday,wednesday` (full or 3-letter names)
//! - an RFC 5545 rule, with or without the `RRULE:` prefix, e.g.
//!   `FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10` or `RRULE:FREQ=MONTHLY;UNTIL=20271231T000000Z`.
//!   Frequencies below daily are refused: a task repeats at most once a day.

use chrono::Weekday;
use rrule::{Frequency, NWeekday, RRule, Unvalidated};

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
        Ok(Recurrence { source: source.to_owned(), rule })
    }

    /// The rule as the user wrote it (trimmed); this is what is stored.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parsed RFC 5545 rule.
    pub fn rule(&self) -> &RRule<Unvalidated> {
        &self.rule
    }
}

fn parse_rrule(source: &str) -> Result<RRule<Unvalidated>, String> {
    let body = source
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("rrule:"))
        .map_or(source, |_| &source[6..]);
    if body.to_ascii_uppercase().contains("DTSTART") {
        return Err("recurrence must not contain DTSTART: the task's due date starts the series".into());
    }
    let rule: RRule<Unvalidated> = body
        .to_ascii_uppercase()
        .parse()
        .map_err(|e| format!("invalid RRULE: {e}"))?;
    if matches!(rule.get_freq(), Frequency::Hourly | Frequency::Minutely | Frequency::Secondly) {
        return Err("recurrence must repeat at most daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)".into());
    }
    if rule.get_count().is_some() && rule.get_until().is_some() {
        return Err("invalid RRULE: COUNT and UNTIL must not both be given".into());
    }
    if rule.get_interval() > MAX_INTERVAL {
        return Err(format!("recurrence INTERVAL must be at most {MAX_INTERVAL}"));
    }
    // Validate against a fixed start so that the rule itself is checked (BYxxx ranges,
    // UNTIL format, COUNT with UNTIL, ...) independently of any task.
    let start = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.with_timezone(&rrule::Tz::UTC);
    rule.clone().validate(start).map_err(|e| format!("invalid RRULE: {e}"))?;
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
                [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
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
            (!days.is_empty())
                .then(|| RRule::new(Frequency::Weekly).by_weekday(days.into_iter().map(NWeekday::Every).collect()))
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
            "daily", "Weekly", "monthly", "yearly", "every day", "every week",
            "every 2 days", "every 3 weeks", "every 1 month", "every 10 years",
            "every weekday", "every monday,wednesday", "every Mon, Fri", "every tuesday and thursday",
            "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10", "RRULE:FREQ=MONTHLY;UNTIL=20271231T000000Z",
            "rrule:freq=daily;interval=2",
        ] {
            assert!(Recurrence::parse(ok).is_ok(), "{ok} should parse: {:?}", Recurrence::parse(ok).err());
        }
    }

    #[test]
    fn refuses_unknown_or_unsafe_rules() {
        for bad in [
            "", "sometimes", "every 0 days", "every 1001 days", "every blursday", "every",
            "FREQ=HOURLY", "FREQ=SOMETIMES", "RRULE:FREQ=DAILY;BYMONTHDAY=40",
            "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", "FREQ=DAILY;COUNT=3;UNTIL=20271231T000000Z",
        ] {
            assert!(Recurrence::parse(bad).is_err(), "{bad:?} should be refused");
        }
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
