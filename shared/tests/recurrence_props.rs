//! Property tests of the recurrence engine (`Recurrence::parse`, `Recurrence::next_due`)
//! against an independent model of what the rules mean (docs/events.md, "Recurrence"):
//!
//! - the next occurrence is the first of the series strictly after both the current due
//!   date and the completion time (a missed series skips ahead; no due date recurs from the
//!   completion time);
//! - COUNT and UNTIL end the series;
//! - rules are evaluated in the task's time zone, so a daily 09:00 stays 09:00 across DST
//!   (a time that does not exist that day moves forward by the gap, RFC 5545 §3.3.5; an
//!   ambiguous one is its first instance);
//! - monthly (and yearly) on a day past the 28th clamps to the month's last day and comes
//!   back to the anchor's day;
//! - every accepted rule parses back to the same rule, words and RRULE agree, and nothing
//!   panics on any input.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, Offset, TimeZone,
    Utc, Weekday,
};
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::sample::select;
use shared::domain::Recurrence;

/// Zones with the interesting cases: none, DST in either hemisphere, a gap at midnight
/// (Santiago), a 30-minute DST (Lord Howe), quarter-hour offsets (Kolkata, Chatham).
const ZONES: &[Tz] = &[
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::America::Santiago,
    chrono_tz::Australia::Sydney,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Pacific::Chatham,
];

const DST_ZONES: &[Tz] = &[
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::America::Santiago,
    chrono_tz::Australia::Sydney,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Freq {
    fn name(self) -> &'static str {
        match self {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        }
    }
    fn unit(self) -> &'static str {
        match self {
            Freq::Daily => "day",
            Freq::Weekly => "week",
            Freq::Monthly => "month",
            Freq::Yearly => "year",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Never,
    Count(u32),
    Until(DateTime<Utc>),
}

/// A rule the model understands: every `interval` days/weeks/months/years (on `days` of
/// the week for a weekly rule with BYDAY), ended by `end`.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    freq: Freq,
    interval: u32,
    days: Vec<Weekday>,
    end: End,
}

fn byday(d: Weekday) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][d.num_days_from_monday() as usize]
}

fn day_name(d: Weekday) -> &'static str {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ][d.num_days_from_monday() as usize]
}

impl Spec {
    /// The RFC 5545 text of the rule.
    fn rrule(&self) -> String {
        let mut s = format!("FREQ={}", self.freq.name());
        if self.interval != 1 {
            s += &format!(";INTERVAL={}", self.interval);
        }
        if !self.days.is_empty() {
            let days: Vec<&str> = self.days.iter().map(|d| byday(*d)).collect();
            s += &format!(";BYDAY={}", days.join(","));
        }
        match self.end {
            End::Never => {}
            End::Count(n) => s += &format!(";COUNT={n}"),
            End::Until(u) => s += &format!(";UNTIL={}", u.format("%Y%m%dT%H%M%SZ")),
        }
        s
    }

    /// Every way a user may write the rule (the words when there are some for it).
    fn spellings(&self) -> Vec<String> {
        let rrule = self.rrule();
        let mut all = vec![
            rrule.clone(),
            format!("RRULE:{rrule}"),
            format!("  rrule:{}\t", rrule.to_ascii_lowercase()),
        ];
        if self.end == End::Never {
            let unit = self.freq.unit();
            if self.days.is_empty() {
                all.push(format!("every {} {unit}s", self.interval));
                if self.interval == 1 {
                    all.push(format!("every {unit}"));
                    all.push(
                        match self.freq {
                            Freq::Daily => "Daily",
                            Freq::Weekly => "WEEKLY",
                            Freq::Monthly => "monthly",
                            Freq::Yearly => "yearly",
                        }
                        .into(),
                    );
                }
            } else if self.interval == 1 {
                let names: Vec<&str> = self.days.iter().map(|d| day_name(*d)).collect();
                all.push(format!("every {}", names.join(",")));
                let short: Vec<String> = names.iter().map(|n| n[..3].to_owned()).collect();
                all.push(format!("Every {}", short.join(", ")));
                if self.days
                    == [
                        Weekday::Mon,
                        Weekday::Tue,
                        Weekday::Wed,
                        Weekday::Thu,
                        Weekday::Fri,
                    ]
                {
                    all.push("every weekday".into());
                }
            }
        }
        all
    }
}

// --- the model ----------------------------------------------------------------------------

/// The instant of local time `local` in `tz`: the first instance of an ambiguous time; a
/// time in a gap is read with the offset in force before the gap (RFC 5545 §3.3.5).
fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            let before = tz
                .from_local_datetime(&(local - Duration::hours(3)))
                .earliest()
                .expect("no two transitions within three hours");
            let offset = before.offset().fix().local_minus_utc();
            Utc.from_utc_datetime(&(local - Duration::seconds(offset.into())))
        }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
    let next = first + Months::new(1);
    (next - first).num_days() as u32
}

/// The occurrences of `spec` from `anchor` in `tz`, in order, without end (COUNT and
/// UNTIL are the callers' business). The anchor is the first unless a weekly BYDAY rule
/// excludes its day.
fn model_series(
    spec: &Spec,
    tz: Tz,
    anchor: DateTime<Utc>,
) -> Box<dyn Iterator<Item = DateTime<Utc>>> {
    let local0 = anchor.with_timezone(&tz).naive_local();
    let (date0, time0) = (local0.date(), local0.time());
    let at = move |date: NaiveDate| {
        if date == date0 {
            anchor
        } else {
            resolve(tz, date.and_time(time0))
        }
    };
    let k = spec.interval;
    match spec.freq {
        Freq::Weekly if !spec.days.is_empty() => {
            let days = spec.days.clone();
            let monday =
                |d: NaiveDate| d - Duration::days(d.weekday().num_days_from_monday().into());
            Box::new(
                (0..)
                    .map(move |n| date0 + Duration::days(n))
                    .filter(move |d| {
                        (monday(*d) - monday(date0)).num_days() / 7 % i64::from(k) == 0
                            && days.contains(&d.weekday())
                    })
                    .map(at),
            )
        }
        Freq::Daily | Freq::Weekly => {
            let step = i64::from(if spec.freq == Freq::Daily { k } else { 7 * k });
            Box::new((0..).map(move |i| at(date0 + Duration::days(step * i))))
        }
        Freq::Monthly | Freq::Yearly => {
            let months = if spec.freq == Freq::Monthly {
                k
            } else {
                12 * k
            };
            let first0 = NaiveDate::from_ymd_opt(date0.year(), date0.month(), 1).unwrap();
            Box::new((0u32..).map(move |i| {
                let first = first0 + Months::new(months * i);
                let day = date0.day().min(days_in_month(first.year(), first.month()));
                at(first.with_day(day).unwrap())
            }))
        }
    }
}

/// The series as the user sees it: ended by COUNT or UNTIL.
fn model_ended(
    spec: &Spec,
    tz: Tz,
    anchor: DateTime<Utc>,
) -> Box<dyn Iterator<Item = DateTime<Utc>>> {
    let mut series = model_series(spec, tz, anchor).peekable();
    // An anchor off the rule's days is the series' first task all the same: one of COUNT.
    let off_rule = series.peek().is_some_and(|first| *first != anchor);
    let series: Box<dyn Iterator<Item = DateTime<Utc>>> = Box::new(series);
    match spec.end {
        End::Never => series,
        End::Count(n) => Box::new(series.take((n as usize).saturating_sub(usize::from(off_rule)))),
        End::Until(u) => Box::new(series.take_while(move |t| *t <= u)),
    }
}

/// What `next_due` must answer, by the model.
fn model_next(
    spec: &Spec,
    tz: Tz,
    anchor: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    completed: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let after = due.map_or(completed, |d| d.max(completed));
    model_ended(spec, tz, anchor).find(|t| *t > after)
}

// --- strategies ---------------------------------------------------------------------------

fn instant(from_year: i32, to_year: i32) -> impl Strategy<Value = DateTime<Utc>> {
    let lo = Utc
        .with_ymd_and_hms(from_year, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let hi = Utc
        .with_ymd_and_hms(to_year, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    (lo..hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

/// An anchor whose local time is often in the small hours, where DST changes happen.
fn anchor_in(tz: Tz) -> impl Strategy<Value = DateTime<Utc>> {
    (
        instant(2001, 2080),
        prop_oneof![Just(None), (0u32..4, 0u32..60).prop_map(Some)],
    )
        .prop_map(move |(t, small_hours)| match small_hours {
            None => t,
            Some((h, m)) => {
                let date = t.with_timezone(&tz).date_naive();
                resolve(
                    tz,
                    date.and_hms_opt(h, m, t.timestamp().rem_euclid(60) as u32)
                        .unwrap(),
                )
            }
        })
}

fn weekdays() -> impl Strategy<Value = Vec<Weekday>> {
    proptest::bits::u8::between(0, 7)
        .prop_filter("at least one day", |b| *b != 0)
        .prop_map(|bits| {
            (0..7)
                .filter(|i| bits & (1 << i) != 0)
                .map(|i| Weekday::try_from(i as u8).unwrap())
                .collect()
        })
}

fn spec(anchor: DateTime<Utc>) -> impl Strategy<Value = Spec> {
    let freq_interval = prop_oneof![
        (Just(Freq::Daily), 1u32..15),
        (Just(Freq::Weekly), 1u32..6),
        (Just(Freq::Monthly), 1u32..14),
        (Just(Freq::Yearly), 1u32..4),
    ];
    let end = prop_oneof![
        2 => Just(End::Never),
        1 => (1u32..40).prop_map(End::Count),
        1 => (0i64..3 * 366 * 86_400).prop_map(move |s| End::Until(anchor + Duration::seconds(s))),
    ];
    (freq_interval, end, weekdays(), any::<bool>()).prop_map(
        |((freq, interval), end, days, by_day)| Spec {
            freq,
            interval,
            days: if freq == Freq::Weekly && by_day {
                days
            } else {
                vec![]
            },
            end,
        },
    )
}

/// Everything `next_due` is called with, plus the rule.
#[derive(Debug, Clone)]
struct Case {
    tz: Tz,
    anchor: DateTime<Utc>,
    spec: Spec,
    spelling: String,
    due: Option<DateTime<Utc>>,
    completed: DateTime<Utc>,
}

fn case() -> impl Strategy<Value = Case> {
    select(ZONES)
        .prop_flat_map(|tz| (Just(tz), anchor_in(tz)))
        .prop_flat_map(|(tz, anchor)| (Just(tz), Just(anchor), spec(anchor)))
        .prop_flat_map(|(tz, anchor, spec)| {
            let spellings = spec.spellings();
            let horizon = 2 * 366 * 86_400i64;
            let due = prop_oneof![
                // No due date: the first task of a series recurs from its completion time.
                1 => Just(None),
                // On the series (the usual case): its n-th occurrence.
                3 => (0usize..30).prop_map({
                    let spec = spec.clone();
                    move |n| model_series(&spec, tz, anchor).nth(n)
                }),
                // Moved off the series by hand.
                1 => (0i64..horizon).prop_map(move |s| Some(anchor + Duration::seconds(s))),
            ];
            // Completed early (before the due date) or late (a missed series).
            let completed = prop_oneof![(-30 * 86_400i64..86_400), (0i64..horizon),];
            (
                Just(tz),
                Just(anchor),
                Just(spec),
                select(spellings),
                due,
                completed,
            )
        })
        .prop_map(|(tz, anchor, spec, spelling, due, completed)| {
            let completed = match due {
                Some(d) => d + Duration::seconds(completed),
                // Without a due date the series starts at the completion: anchor = completion.
                None => anchor,
            };
            Case {
                tz,
                anchor,
                spec,
                spelling,
                due,
                completed,
            }
        })
}

fn parse(text: &str) -> Recurrence {
    Recurrence::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

// --- properties ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The heart of it: `next_due` answers exactly the model's next occurrence, which is
    /// strictly after the current due date and the completion time, and `None` once COUNT
    /// or UNTIL has ended the series.
    #[test]
    fn next_due_is_the_first_occurrence_after_due_and_completion(c in case()) {
        let rule = parse(&c.spelling);
        let got = rule.next_due(c.tz, c.anchor, c.due, c.completed);
        let want = model_next(&c.spec, c.tz, c.anchor, c.due, c.completed);
        prop_assert_eq!(
            got, want,
            "rule {:?} in {} from {} (due {:?}, completed {}): got {:?}, want {:?}",
            c.spelling, c.tz, local(c.anchor, c.tz), c.due.map(|d| local(d, c.tz)),
            local(c.completed, c.tz), got.map(|d| local(d, c.tz)), want.map(|d| local(d, c.tz)),
        );
        if let Some(next) = got {
            prop_assert!(next > c.completed);
            prop_assert!(c.due.is_none_or(|d| next > d));
        }
    }

    /// Following a series from its start visits every occurrence once, in order, and stops
    /// after COUNT occurrences (the anchor is the first) or at UNTIL.
    #[test]
    fn walking_a_series_respects_count_and_until(
        (tz, anchor, spec) in select(ZONES)
            .prop_flat_map(|tz| (Just(tz), anchor_in(tz)))
            .prop_flat_map(|(tz, anchor)| (Just(tz), Just(anchor), spec(anchor)))
    ) {
        let rule = parse(&spec.rrule());
        let mut walked = vec![anchor];
        let mut due = anchor;
        while walked.len() < 60 {
            match rule.next_due(tz, anchor, Some(due), due) {
                Some(next) => {
                    prop_assert!(next > due, "{next} after {due}");
                    walked.push(next);
                    due = next;
                }
                None => break,
            }
        }
        // The walk starts at the anchor, which a weekly BYDAY series may not include; it
        // is the first task all the same, one of the COUNT.
        let mut want: Vec<_> = model_ended(&spec, tz, anchor).take(60).collect();
        if want.first() != Some(&anchor) {
            want.insert(0, anchor);
            want.truncate(60);
        }
        if let End::Count(n) = spec.end {
            prop_assert_eq!(walked.len(), (n as usize).min(60), "COUNT={} walked {:?}", n, walked);
        }
        if let End::Until(u) = spec.end {
            prop_assert!(walked[1..].iter().all(|t| *t <= u), "past UNTIL {}: {:?}", u, walked);
        }
        prop_assert_eq!(walked, want.clone());
        // Completing after the series ended never revives it.
        if spec.end != End::Never {
            if let Some(last) = want.last().copied().filter(|_| want.len() < 60) {
                prop_assert_eq!(rule.next_due(tz, anchor, Some(last), last + Duration::days(400)), None);
            }
        }
    }

    /// A daily task keeps its local wall-clock time across DST changes: the same time every
    /// day, except on a day that lacks it (moved forward by the gap).
    #[test]
    fn daily_keeps_the_local_time_across_dst(
        tz in select(DST_ZONES),
        year in 2001i32..2080,
        spring in any::<bool>(),
        days_before in 0i64..4,
        (hour, minute) in prop_oneof![(0u32..24, 0u32..60), (0u32..4, 0u32..60)],
        spelling in select(&["daily", "every day", "FREQ=DAILY", "every 1 days"][..]),
    ) {
        let transition = dst_transitions(tz, year)[usize::from(!spring)];
        // Some years have no change (Chile kept summer time through 2015).
        prop_assume!(transition.is_some());
        let transition = transition.unwrap();
        let start = transition - Duration::days(days_before);
        let time0 = chrono::NaiveTime::from_hms_opt(hour, minute, 0).unwrap();
        let anchor = resolve(tz, start.and_time(time0));
        let anchor_time = anchor.with_timezone(&tz).time();
        let rule = parse(spelling);
        let mut due = anchor;
        for day in 1..=8 {
            let next = rule.next_due(tz, anchor, Some(due), due).expect("daily never ends");
            let date = (anchor.with_timezone(&tz).date_naive()) + Duration::days(day);
            let got = next.with_timezone(&tz);
            prop_assert_eq!(got.date_naive(), date, "one occurrence a day: {}", local(next, tz));
            match tz.from_local_datetime(&date.and_time(anchor_time)) {
                LocalResult::None => {
                    let gap = i64::from(tz.offset_from_utc_datetime(&next.naive_utc()).fix().local_minus_utc()
                        - tz.offset_from_utc_datetime(&(next - Duration::days(1)).naive_utc()).fix().local_minus_utc());
                    prop_assert_eq!(got.time(), anchor_time + Duration::seconds(gap),
                        "{} lacks {}: moved forward by the gap", date, anchor_time);
                }
                _ => prop_assert_eq!(got.time(), anchor_time, "{} keeps {}", local(next, tz), anchor_time),
            }
            let hours = (next - due).num_minutes();
            prop_assert!((23 * 60..=25 * 60).contains(&hours), "{} minutes between occurrences", hours);
            due = next;
        }
    }

    /// Monthly on the 29th, 30th or 31st falls on the last day of shorter months and comes
    /// back to its day; yearly on 29 February falls on the 28th outside leap years.
    #[test]
    fn month_end_clamps_and_returns(
        tz in select(ZONES),
        year in 2001i32..2080,
        month in 1u32..=12,
        day in 29u32..=31,
        (hour, minute) in (0u32..24, 0u32..60),
        interval in 1u32..4,
    ) {
        let day = day.min(days_in_month(year, month));
        prop_assume!(day >= 29);
        let start = NaiveDate::from_ymd_opt(year, month, day).unwrap();
        let time0 = chrono::NaiveTime::from_hms_opt(hour, minute, 0).unwrap();
        let anchor = resolve(tz, start.and_time(time0));
        let spelling = if interval == 1 { "monthly".to_owned() } else { format!("every {interval} months") };
        let rule = parse(&spelling);
        let mut due = anchor;
        let mut first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
        for _ in 0..24 {
            first = first + Months::new(interval);
            let want_day = day.min(days_in_month(first.year(), first.month()));
            let next = rule.next_due(tz, anchor, Some(due), due).expect("monthly never ends");
            let got = next.with_timezone(&tz).date_naive();
            prop_assert_eq!(got, first.with_day(want_day).unwrap(), "{} from the {}", spelling, day);
            due = next;
        }

        if month == 2 && day == 29 {
            let rule = parse("yearly");
            let mut due = anchor;
            for y in 1..=8 {
                let next = rule.next_due(tz, anchor, Some(due), due).expect("yearly never ends");
                let want = NaiveDate::from_ymd_opt(year + y, 2, days_in_month(year + y, 2)).unwrap();
                prop_assert_eq!(next.with_timezone(&tz).date_naive(), want);
                due = next;
            }
        }
    }

    /// Every spelling of a rule parses, keeps the text as written (trimmed), and means the
    /// same as its RFC 5545 form; that form parses back to itself.
    #[test]
    fn rules_parse_and_round_trip(c in case()) {
        let canonical = parse(&c.spec.rrule());
        let spelled = parse(&c.spelling);
        prop_assert_eq!(spelled.as_str(), c.spelling.trim());
        let printed = spelled.rule().to_string();
        let reparsed = parse(&printed);
        prop_assert_eq!(reparsed.rule().to_string(), printed.clone(), "fixpoint");
        prop_assert_eq!(canonical.rule().to_string(), printed.clone());
        for other in [&canonical, &reparsed] {
            prop_assert_eq!(
                other.next_due(c.tz, c.anchor, c.due, c.completed),
                spelled.next_due(c.tz, c.anchor, c.due, c.completed),
                "{:?} and {:?} disagree", c.spelling, printed
            );
        }
    }

    /// Nothing the user sends makes parsing, or evaluating what was accepted, panic; and
    /// what is accepted is never sub-daily.
    #[test]
    fn nothing_panics(
        text in prop_oneof![
            "\\PC{0,40}",
            rrule_noise(),
        ],
        tz in select(ZONES),
        anchor in any_instant(),
        due in proptest::option::of(any_instant()),
        completed in any_instant(),
    ) {
        if let Ok(rule) = Recurrence::parse(&text) {
            let freq = rule.rule().get_freq();
            prop_assert!(!matches!(freq, rrule::Frequency::Hourly | rrule::Frequency::Minutely | rrule::Frequency::Secondly));
            if let Some(next) = rule.next_due(tz, anchor, due, completed) {
                prop_assert!(next > completed && due.is_none_or(|d| next > d));
            }
        }
    }

    /// Any RRULE built from the BYxxx parts users may combine: what is accepted walks
    /// forward strictly, one occurrence after another.
    #[test]
    fn any_accepted_rrule_moves_forward(
        text in rrule_noise(),
        tz in select(ZONES),
        anchor in instant(2001, 2080),
        late in 0i64..(400 * 86_400),
    ) {
        if let Ok(rule) = Recurrence::parse(&text) {
            let mut due = anchor;
            for step in 0..5 {
                let completed = if step == 0 { anchor + Duration::seconds(late) } else { due };
                match rule.next_due(tz, anchor, Some(due), completed) {
                    Some(next) => {
                        prop_assert!(next > due && next > completed, "{text}: {next} after {due}/{completed}");
                        due = next;
                    }
                    None => break,
                }
            }
        }
    }
}

/// Mostly ordinary dates, sometimes far in the past or future, up to the ends of what an
/// RFC 3339 timestamp (the API's input) can say: years 0000 to 9999.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        8 => instant(1970, 2200),
        1 => instant(1, 1970),
        1 => instant(2200, 9999),
        1 => instant(9990, 9999),
        1 => select(&[
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ][..])
        .prop_map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)),
    ]
}

/// RRULE-shaped text: valid and invalid parts, mixed.
fn rrule_noise() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        select(
            &[
                "DAILY",
                "WEEKLY",
                "MONTHLY",
                "YEARLY",
                "HOURLY",
                "MINUTELY",
                "SECONDLY",
                "FORTNIGHTLY"
            ][..]
        )
        .prop_map(|f| format!("FREQ={f}")),
        (-2i32..1100).prop_map(|n| format!("INTERVAL={n}")),
        (-1i32..60).prop_map(|n| format!("COUNT={n}")),
        instant(1990, 2100).prop_map(|u| format!("UNTIL={}", u.format("%Y%m%dT%H%M%SZ"))),
        instant(1990, 2100).prop_map(|u| format!("UNTIL={}", u.format("%Y%m%d"))),
        instant(1990, 2100).prop_map(|u| format!("UNTIL={}", u.format("%Y%m%dT%H%M%S"))),
        (
            -6i32..6,
            select(&["MO", "TU", "WE", "TH", "FR", "SA", "SU"][..])
        )
            .prop_map(|(n, d)| if n == 0 {
                format!("BYDAY={d}")
            } else {
                format!("BYDAY={n}{d}")
            }),
        proptest::collection::vec(-32i32..33, 1..4).prop_map(|v| format!(
            "BYMONTHDAY={}",
            v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
        )),
        proptest::collection::vec(0i32..14, 1..3).prop_map(|v| format!(
            "BYMONTH={}",
            v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
        )),
        (-5i32..6).prop_map(|n| format!("BYSETPOS={n}")),
        (-54i32..55).prop_map(|n| format!("BYWEEKNO={n}")),
        (-367i32..368).prop_map(|n| format!("BYYEARDAY={n}")),
        (0u32..25).prop_map(|n| format!("BYHOUR={n}")),
        select(
            &[
                "WKST=SU",
                "WKST=MO",
                "DTSTART=20260101T000000Z",
                "X-FOO=1",
                ""
            ][..]
        )
        .prop_map(str::to_owned),
    ];
    (
        select(&["", "RRULE:", "rrule:"][..]),
        proptest::collection::vec(part, 1..5),
    )
        .prop_map(|(prefix, parts)| format!("{prefix}{}", parts.join(";")))
}

/// The days of `year` on which `tz` changes its offset: [spring forward, fall back].
fn dst_transitions(tz: Tz, year: i32) -> [Option<NaiveDate>; 2] {
    let offset = |d: NaiveDate| {
        tz.offset_from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
            .fix()
            .local_minus_utc()
    };
    let mut spring = None;
    let mut fall = None;
    let mut d = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    while d.year() == year {
        let next = d + Duration::days(1);
        let (a, b) = (offset(d), offset(next));
        // The change happens during `next` (before noon) or late on `d`; take the day whose
        // small hours (or midnight) it affects.
        if b > a {
            spring.get_or_insert(next);
        } else if b < a {
            fall.get_or_insert(next);
        }
        d = next;
    }
    [spring, fall]
}

#[test]
fn the_model_agrees_with_the_documented_examples() {
    // Europe/Berlin leaves summer time on 2026-10-25: 09:00 CEST is 07:00Z, 09:00 CET 08:00Z.
    let berlin = chrono_tz::Europe::Berlin;
    let daily = Spec {
        freq: Freq::Daily,
        interval: 1,
        days: vec![],
        end: End::Never,
    };
    let a = Utc.with_ymd_and_hms(2026, 10, 24, 7, 0, 0).unwrap();
    assert_eq!(
        model_next(&daily, berlin, a, Some(a), a),
        Some(Utc.with_ymd_and_hms(2026, 10, 25, 8, 0, 0).unwrap())
    );
    // The gap: 02:30 does not exist on 2026-03-29 in Berlin; 03:30 CEST (01:30Z) instead.
    let a = Utc.with_ymd_and_hms(2026, 3, 28, 1, 30, 0).unwrap();
    assert_eq!(
        resolve(
            berlin,
            NaiveDate::from_ymd_opt(2026, 3, 29)
                .unwrap()
                .and_hms_opt(2, 30, 0)
                .unwrap()
        ),
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()
    );
    assert_eq!(
        parse("daily").next_due(berlin, a, Some(a), a),
        Some(Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap())
    );
    let monthly = Spec {
        freq: Freq::Monthly,
        interval: 1,
        days: vec![],
        end: End::Never,
    };
    let a = Utc.with_ymd_and_hms(2027, 1, 31, 9, 0, 0).unwrap();
    assert_eq!(
        model_series(&monthly, chrono_tz::UTC, a)
            .take(3)
            .map(|t| t.day())
            .collect::<Vec<_>>(),
        [31, 28, 31]
    );
    assert_eq!(
        dst_transitions(chrono_tz::America::New_York, 2026),
        [
            NaiveDate::from_ymd_opt(2026, 3, 8),
            NaiveDate::from_ymd_opt(2026, 11, 1)
        ]
    );
}
