//! The phrase table: each sentence with the exact command it must produce, read on Monday
//! 30 November 2026 at 10:00 UTC (11:00 in Berlin), in UTC (`U`) or Europe/Berlin (`B`).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Command::{self, Complete, Delete, Help, Reopen};
use super::Target::{self, Number};
use super::{describe, moved, parse, quick_add, Context, Keep};
use crate::domain::list::ListQuery;
use crate::domain::{
    parse_reminder_minutes, parse_timestamp, Description, Priority, Recurrence, TagName, Timezone,
    Title,
};

const U: chrono_tz::Tz = chrono_tz::UTC;
const B: chrono_tz::Tz = chrono_tz::Europe::Berlin;
const NOW: &str = "2026-11-30T10:00:00Z";
const ENDS: &str = "add take pills every day at 8am until friday";

fn context(timezone: chrono_tz::Tz) -> Context {
    Context {
        now: NOW.parse().unwrap(),
        timezone,
    }
}

fn add(arguments: Value) -> Command {
    Command::Add { arguments }
}

fn list(arguments: Value, what: &str) -> Command {
    Command::List {
        arguments,
        what: what.into(),
    }
}

fn words(text: &str) -> Target {
    Target::Words(text.into())
}

fn reschedule(target: Target, due_at: &str) -> Command {
    Command::Reschedule {
        target,
        due_at: due_at.parse::<DateTime<Utc>>().unwrap(),
        keep: Keep::Nothing,
    }
}

/// A move of the time only, keeping the task's day; or of the day only, keeping its time.
fn reschedule_keeping(target: Target, due_at: &str, keep: &str) -> Command {
    let keep = match keep.parse::<chrono::NaiveTime>() {
        Ok(time) => Keep::Day(time),
        Err(_) => Keep::Time(keep.parse().unwrap()),
    };
    Command::Reschedule {
        target,
        due_at: due_at.parse::<DateTime<Utc>>().unwrap(),
        keep,
    }
}

/// A move keeps the task's day or time where the words name only the other, in the user's
/// time zone; never a day already past; and a task without a due date goes where the words
/// alone say.
#[test]
fn a_move_keeps_what_it_does_not_name() {
    let context = context(chrono_tz::Europe::Berlin); // now: Mon 30 Nov 2026, 11:00 in Berlin
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let six_pm = Keep::Day("18:00:00".parse().unwrap());
    let saturday = Keep::Time("2026-12-05".parse().unwrap());
    let words = at("2026-11-30T17:00:00Z"); // what "6pm" alone says: today, 18:00 Berlin
    let friday_nine = Some(at("2026-12-04T08:00:00Z")); // Fri 4 Dec, 09:00 Berlin
    assert_eq!(
        moved(words, six_pm, friday_nine, &context),
        at("2026-12-04T17:00:00Z")
    );
    assert_eq!(
        moved(words, six_pm, Some(at("2026-11-20T08:00:00Z")), &context),
        words
    );
    assert_eq!(moved(words, six_pm, None, &context), words);
    let friday_three = Some(at("2026-12-04T14:00:00Z"));
    assert_eq!(
        moved(at("2026-12-05T08:00:00Z"), saturday, friday_three, &context),
        at("2026-12-05T14:00:00Z")
    );
    assert_eq!(moved(words, Keep::Nothing, friday_three, &context), words);
}

fn rename(target: Target, title: &str) -> Command {
    Command::Rename {
        target,
        title: title.into(),
        or: vec![],
    }
}

fn not_understood(understood: &str, example: &'static str) -> Command {
    Command::NotUnderstood {
        understood: understood.into(),
        example,
    }
}

fn table() -> Vec<(&'static str, chrono_tz::Tz, Command)> {
    vec![
        // Add: the examples
        ("add pay rent every month on the 1st at 9am p1 #home remind me 1 hour before", U, add(json!({"due_at":"2026-12-01T09:00:00Z","priority":"P1","recurrence":"FREQ=MONTHLY;BYMONTHDAY=1","reminder_minutes":60,"tags":["home"],"timezone":"UTC","title":"pay rent"}))),
        ("add pay rent every month on the 1st at 9am p1 #home remind me 1 hour before", B, add(json!({"due_at":"2026-12-01T08:00:00Z","priority":"P1","recurrence":"FREQ=MONTHLY;BYMONTHDAY=1","reminder_minutes":60,"tags":["home"],"timezone":"Europe/Berlin","title":"pay rent"}))),
        ("add buy milk tomorrow at 5pm #home p1", U, add(json!({"due_at":"2026-12-01T17:00:00Z","priority":"P1","tags":["home"],"timezone":"UTC","title":"buy milk"}))),
        ("add dentist tue at 2", U, add(json!({"due_at":"2026-12-01T14:00:00Z","timezone":"UTC","title":"dentist"}))),
        ("add clean every other monday", U, add(json!({"due_at":"2026-12-07T09:00:00Z","recurrence":"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO","timezone":"UTC","title":"clean"}))),
        ("add write the monthly report", U, add(json!({"title":"write the monthly report"}))),
        ("add weekly review every friday at 4pm", U, add(json!({"due_at":"2026-12-04T16:00:00Z","recurrence":"every friday","timezone":"UTC","title":"weekly review"}))),
        ("add call mom every sunday evening", U, add(json!({"due_at":"2026-12-06T18:00:00Z","recurrence":"every sunday","timezone":"UTC","title":"call mom"}))),
        ("add pay rent on the first of every month", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=MONTHLY;BYMONTHDAY=1","timezone":"UTC","title":"pay rent"}))),
        ("add pay rent on the last day of each month", U, add(json!({"due_at":"2026-12-31T09:00:00Z","recurrence":"FREQ=MONTHLY;BYMONTHDAY=-1","timezone":"UTC","title":"pay rent"}))),
        ("add meet sarah at 3:30", U, add(json!({"due_at":"2026-11-30T15:30:00Z","timezone":"UTC","title":"meet sarah"}))),
        // A weekday of the month, and where a series ends
        ("add book club the first monday of every month at 7pm", U, add(json!({"due_at":"2026-12-07T19:00:00Z","recurrence":"FREQ=MONTHLY;BYDAY=1MO","timezone":"UTC","title":"book club"}))),
        ("add review every last friday of the month", B, add(json!({"due_at":"2026-12-25T08:00:00Z","recurrence":"FREQ=MONTHLY;BYDAY=-1FR","timezone":"Europe/Berlin","title":"review"}))),
        ("add take pills every day for 10 days", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=DAILY;COUNT=10","timezone":"UTC","title":"take pills"}))),
        ("add water plants every monday and thursday for 3 weeks", U, add(json!({"due_at":"2026-12-03T09:00:00Z","recurrence":"FREQ=WEEKLY;BYDAY=MO,TH;COUNT=6","timezone":"UTC","title":"water plants"}))),
        ("add physio every day at 8am until friday", B, add(json!({"due_at":"2026-12-01T07:00:00Z","recurrence":"FREQ=DAILY;UNTIL=20261204T225959Z","timezone":"Europe/Berlin","title":"physio"}))),
        ("add run every other day 5 times #health", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=DAILY;INTERVAL=2;COUNT=5","tags":["health"],"timezone":"UTC","title":"run"}))),
        ("add read every day until further notice", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"daily","timezone":"UTC","title":"read until further notice"}))),
        ("add pay rent every month until dec 20", U, not_understood("a task \u{201C}pay rent\u{201D} that repeats, but ends before it repeats once", ENDS)),
        ("add stretch every day 1 times", U, not_understood("a task \u{201C}stretch\u{201D} that repeats, but ends before it repeats once", ENDS)),
        ("add stretch every day 5000 times", U, not_understood("a task \u{201C}stretch\u{201D} that repeats, more than 1001 times; a series stops after its first task and 1000 more", ENDS)),
        ("add stretch every day for 9999 years", U, not_understood("a task \u{201C}stretch\u{201D} that repeats, until a date too far ahead", ENDS)),
        ("add x every day 5 times until friday", U, not_understood("a task \u{201C}x\u{201D} that repeats, but not an end I can use (one, and a day or a number of times)", ENDS)),
        ("add x every day until 5pm", U, not_understood("a task \u{201C}x\u{201D} that repeats, but not an end I can use (one, and a day or a number of times)", ENDS)),
        // "N times" that says how often, or an end away from the rule with words after it:
        // words of the title.
        ("add every day take pills 3 times daily", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"daily","timezone":"UTC","title":"take pills 3 times daily"}))),
        ("add practice every day 3 times a day", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"daily","timezone":"UTC","title":"practice 3 times a day"}))),
        ("add every day buy 5 times tables book", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"daily","timezone":"UTC","title":"buy 5 times tables book"}))),
        ("add every day take pills for 5 days", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=DAILY;COUNT=5","timezone":"UTC","title":"take pills"}))),
        ("add feed cat every day until monday morning", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=DAILY;UNTIL=20261207T235959Z","timezone":"UTC","title":"feed cat"}))),
        // "starting dec 1" after it: this year's, so the series starts at the rule's next day.
        ("add pay rent every month on the 1st starting nov 28", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=MONTHLY;BYMONTHDAY=1","timezone":"UTC","title":"pay rent"}))),
        ("add gym every monday at 8am starting nov 2", U, add(json!({"due_at":"2026-12-07T08:00:00Z","recurrence":"every monday","timezone":"UTC","title":"gym"}))),
        ("add report every monday starting dec 1 1002 times", U, not_understood("a task \u{201C}report\u{201D} that repeats, more than 1001 times; a series stops after its first task and 1000 more", ENDS)),
        // Two ends away from the rule: only one that closes the sentence is an end.
        ("add every day take pills 3 times until friday", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=DAILY;UNTIL=20261204T235959Z","timezone":"UTC","title":"take pills 3 times"}))),
        ("add every day take pills 3 times then rest for 3 days and sleep", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"daily","timezone":"UTC","title":"take pills 3 times then rest for 3 days and sleep"}))),
        ("add pay the bills on the last day of the month", U, add(json!({"due_at":"2026-11-30T23:59:00Z","timezone":"UTC","title":"pay the bills"}))),
        ("add deep clean every sunday twice", U, add(json!({"due_at":"2026-12-06T09:00:00Z","recurrence":"FREQ=WEEKLY;BYDAY=SU;COUNT=2","timezone":"UTC","title":"deep clean"}))),
        ("add brush teeth every day twice a day", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"daily","timezone":"UTC","title":"brush teeth twice a day"}))),
        // A first date off the rule's days moves to the rule's first day from it.
        ("add book club every first monday starting tomorrow 3 times", U, add(json!({"due_at":"2026-12-07T09:00:00Z","recurrence":"FREQ=MONTHLY;BYDAY=1MO;COUNT=3","timezone":"UTC","title":"book club"}))),
        ("add clean every monday from wednesday", U, add(json!({"due_at":"2026-12-07T09:00:00Z","recurrence":"every monday","timezone":"UTC","title":"clean"}))),
        ("remind me the day before to call mom tomorrow", U, add(json!({"due_at":"2026-12-01T09:00:00Z","reminder_minutes":1440,"timezone":"UTC","title":"call mom"}))),
        ("add dentist friday 3pm remind me the day before", U, add(json!({"due_at":"2026-12-04T15:00:00Z","reminder_minutes":1440,"timezone":"UTC","title":"dentist"}))),
        ("add the day before party buy ice", U, add(json!({"title":"the day before party buy ice"}))),
        ("add pay rent every month on the 31st", U, add(json!({"due_at":"2026-12-31T09:00:00Z","recurrence":"FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1","timezone":"UTC","title":"pay rent"}))),
        ("add buy milk tomorrow at 5pm #home p1", B, add(json!({"due_at":"2026-12-01T16:00:00Z","priority":"P1","tags":["home"],"timezone":"Europe/Berlin","title":"buy milk"}))),
        ("remind me to call mom tomorrow at 6pm", U, add(json!({"due_at":"2026-12-01T18:00:00Z","reminder_minutes":0,"timezone":"UTC","title":"call mom"}))),
        ("remind me to call mom tomorrow at 6pm", B, add(json!({"due_at":"2026-12-01T17:00:00Z","reminder_minutes":0,"timezone":"Europe/Berlin","title":"call mom"}))),
        ("todo: buy bread", U, add(json!({"title":"buy bread"}))),
        ("new task water plants", U, add(json!({"title":"water plants"}))),
        ("add a task to renew the passport", U, add(json!({"title":"renew the passport"}))),
        ("please add buy milk thanks", U, add(json!({"title":"buy milk"}))),
        ("add milk to my list", U, add(json!({"title":"milk"}))),
        ("remember to buy milk", U, add(json!({"title":"buy milk"}))),
        ("schedule dentist friday 10am", U, add(json!({"due_at":"2026-12-04T10:00:00Z","timezone":"UTC","title":"dentist"}))),
        ("create invoice for bob due next friday p2", U, add(json!({"due_at":"2026-12-11T09:00:00Z","priority":"P2","timezone":"UTC","title":"invoice for bob"}))),
        // Add: dates and times
        ("add call bank tomorrow 9am", B, add(json!({"due_at":"2026-12-01T08:00:00Z","timezone":"Europe/Berlin","title":"call bank"}))),
        ("add call bank today", U, add(json!({"due_at":"2026-11-30T23:59:00Z","timezone":"UTC","title":"call bank"}))),
        ("add call bank today", B, add(json!({"due_at":"2026-11-30T22:59:00Z","timezone":"Europe/Berlin","title":"call bank"}))),
        ("add call bank tonight", U, add(json!({"due_at":"2026-11-30T20:00:00Z","timezone":"UTC","title":"call bank"}))),
        ("add call mom this evening", U, add(json!({"due_at":"2026-11-30T18:00:00Z","timezone":"UTC","title":"call mom"}))),
        ("add dinner tomorrow evening", U, add(json!({"due_at":"2026-12-01T18:00:00Z","timezone":"UTC","title":"dinner"}))),
        ("add dinner tomorrow at 8 in the evening", U, add(json!({"due_at":"2026-12-01T20:00:00Z","timezone":"UTC","title":"dinner"}))),
        ("add call bank friday", U, add(json!({"due_at":"2026-12-04T09:00:00Z","timezone":"UTC","title":"call bank"}))),
        ("add call bank next friday", U, add(json!({"due_at":"2026-12-11T09:00:00Z","timezone":"UTC","title":"call bank"}))),
        ("add wash car on sun", U, add(json!({"due_at":"2026-12-06T09:00:00Z","timezone":"UTC","title":"wash car"}))),
        ("add buy sun cream", U, add(json!({"title":"buy sun cream"}))),
        ("add read book next week", U, add(json!({"due_at":"2026-12-07T09:00:00Z","timezone":"UTC","title":"read book"}))),
        ("add sale next month", U, add(json!({"due_at":"2026-12-01T09:00:00Z","timezone":"UTC","title":"sale"}))),
        ("add clean garage this weekend", U, add(json!({"due_at":"2026-12-05T09:00:00Z","timezone":"UTC","title":"clean garage"}))),
        ("add stretch in 3 days", U, add(json!({"due_at":"2026-12-03T09:00:00Z","timezone":"UTC","title":"stretch"}))),
        ("add check oven in 2 hours", B, add(json!({"due_at":"2026-11-30T12:00:00Z","timezone":"Europe/Berlin","title":"check oven"}))),
        ("add coffee in half an hour", U, add(json!({"due_at":"2026-11-30T10:30:00Z","timezone":"UTC","title":"coffee"}))),
        ("add renew passport in 2 weeks high priority", U, add(json!({"due_at":"2026-12-14T09:00:00Z","priority":"P2","timezone":"UTC","title":"renew passport"}))),
        ("add party on Dec 5 at 5pm", U, add(json!({"due_at":"2026-12-05T17:00:00Z","timezone":"UTC","title":"party"}))),
        ("add party on Dec 5 at 5pm", B, add(json!({"due_at":"2026-12-05T16:00:00Z","timezone":"Europe/Berlin","title":"party"}))),
        ("add gift 5 december", U, add(json!({"due_at":"2026-12-05T09:00:00Z","timezone":"UTC","title":"gift"}))),
        ("add meeting on the 5th of december", U, add(json!({"due_at":"2026-12-05T09:00:00Z","timezone":"UTC","title":"meeting"}))),
        ("add conference december the 3rd", U, add(json!({"due_at":"2026-12-03T09:00:00Z","timezone":"UTC","title":"conference"}))),
        ("add meeting on dec 5th, 2027 at 10:30am", U, add(json!({"due_at":"2027-12-05T10:30:00Z","timezone":"UTC","title":"meeting"}))),
        ("add anniversary nov 29", U, add(json!({"due_at":"2027-11-29T09:00:00Z","timezone":"UTC","title":"anniversary"}))),
        ("add new year jan 1", U, add(json!({"due_at":"2027-01-01T09:00:00Z","timezone":"UTC","title":"new year"}))),
        ("add release 2026-12-05", U, add(json!({"due_at":"2026-12-05T09:00:00Z","timezone":"UTC","title":"release"}))),
        ("add deploy 2026-12-05T17:00", B, add(json!({"due_at":"2026-12-05T16:00:00Z","timezone":"Europe/Berlin","title":"deploy"}))),
        ("add deploy 2026-12-05T17:00:00+05:00", U, add(json!({"due_at":"2026-12-05T12:00:00Z","timezone":"UTC","title":"deploy"}))),
        ("add book flights 2026-12-20 18:00", U, add(json!({"due_at":"2026-12-20T18:00:00Z","timezone":"UTC","title":"book flights"}))),
        ("add lunch at noon", U, add(json!({"due_at":"2026-11-30T12:00:00Z","timezone":"UTC","title":"lunch"}))),
        ("add call mom at 7", U, add(json!({"due_at":"2026-11-30T19:00:00Z","timezone":"UTC","title":"call mom"}))),
        ("add call mom at 7", B, add(json!({"due_at":"2026-11-30T18:00:00Z","timezone":"Europe/Berlin","title":"call mom"}))),
        ("add pay invoice 5pm", U, add(json!({"due_at":"2026-11-30T17:00:00Z","timezone":"UTC","title":"pay invoice"}))),
        ("add standup 9am", U, add(json!({"due_at":"2026-12-01T09:00:00Z","timezone":"UTC","title":"standup"}))),
        ("add review at 17:00", U, add(json!({"due_at":"2026-11-30T17:00:00Z","timezone":"UTC","title":"review"}))),
        ("add team lunch next wednesday at 12:30pm #work #team", U, add(json!({"due_at":"2026-12-09T12:30:00Z","tags":["work","team"],"timezone":"UTC","title":"team lunch"}))),
        ("add submit report by friday 5pm urgent", U, add(json!({"due_at":"2026-12-04T17:00:00Z","priority":"P1","timezone":"UTC","title":"submit report"}))),
        ("add report due friday at 17:00", U, add(json!({"due_at":"2026-12-04T17:00:00Z","timezone":"UTC","title":"report"}))),
        ("add call bob and remind me 30 min before tomorrow 9am", U, add(json!({"due_at":"2026-12-01T09:00:00Z","reminder_minutes":30,"timezone":"UTC","title":"call bob"}))),
        ("add meeting tomorrow 3pm remind me 2 days before", U, add(json!({"due_at":"2026-12-01T15:00:00Z","reminder_minutes":2880,"timezone":"UTC","title":"meeting"}))),
        ("remind me in 30 minutes to take out the pizza", U, add(json!({"due_at":"2026-11-30T10:30:00Z","reminder_minutes":0,"timezone":"UTC","title":"take out the pizza"}))),
        ("remind me about the meeting tomorrow at 3pm", U, add(json!({"due_at":"2026-12-01T15:00:00Z","reminder_minutes":0,"timezone":"UTC","title":"the meeting"}))),
        ("add dentist friday 10am remind me at 8am", U, add(json!({"due_at":"2026-12-04T10:00:00Z","reminder_minutes":120,"timezone":"UTC","title":"dentist"}))),
        ("add dentist friday 10am remind me on thursday at 5pm", B, add(json!({"due_at":"2026-12-04T09:00:00Z","reminder_minutes":1020,"timezone":"Europe/Berlin","title":"dentist"}))),
        ("add dentist friday 10am remind me at 11am", U, not_understood("a task “dentist” with a reminder after it is due", "add pay rent tomorrow at 9am remind me 1 hour before")),
        // Add: DST in Europe/Berlin (summer time from 28 March 2027; 02:00-03:00 does not exist that night)
        ("add dentist mar 27 at 9am", B, add(json!({"due_at":"2027-03-27T08:00:00Z","timezone":"Europe/Berlin","title":"dentist"}))),
        ("add dentist mar 29 at 9am", B, add(json!({"due_at":"2027-03-29T07:00:00Z","timezone":"Europe/Berlin","title":"dentist"}))),
        ("add night shift 2027-03-28T02:30", B, add(json!({"due_at":"2027-03-28T01:00:00Z","timezone":"Europe/Berlin","title":"night shift"}))),
        ("add backup 2026-10-25T02:30", B, add(json!({"due_at":"2026-10-25T00:30:00Z","timezone":"Europe/Berlin","title":"backup"}))),
        // Add: recurrence
        ("add water plants every day", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"daily","timezone":"UTC","title":"water plants"}))),
        ("add journal daily at 21:00 low priority", U, add(json!({"due_at":"2026-11-30T21:00:00Z","priority":"P4","recurrence":"daily","timezone":"UTC","title":"journal"}))),
        ("add gym every week", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"weekly","timezone":"UTC","title":"gym"}))),
        ("add standup every weekday at 9:30", U, add(json!({"due_at":"2026-12-01T09:30:00Z","recurrence":"every weekday","timezone":"UTC","title":"standup"}))),
        ("add standup every weekday at 9:30", B, add(json!({"due_at":"2026-12-01T08:30:00Z","recurrence":"every weekday","timezone":"Europe/Berlin","title":"standup"}))),
        ("add gym every 2 weeks", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"every 2 weeks","timezone":"UTC","title":"gym"}))),
        ("add clean every other week on saturday", U, add(json!({"due_at":"2026-12-05T09:00:00Z","recurrence":"FREQ=WEEKLY;INTERVAL=2;BYDAY=SA","timezone":"UTC","title":"clean"}))),
        ("new task water plants every monday and thursday", U, add(json!({"due_at":"2026-12-03T09:00:00Z","recurrence":"every monday,thursday","timezone":"UTC","title":"water plants"}))),
        ("add run every tue and thu at 7am", U, add(json!({"due_at":"2026-12-01T07:00:00Z","recurrence":"every tuesday,thursday","timezone":"UTC","title":"run"}))),
        ("add backup every sunday at 2am", U, add(json!({"due_at":"2026-12-06T02:00:00Z","recurrence":"every sunday","timezone":"UTC","title":"backup"}))),
        ("add pay card on the 15th of every month", U, add(json!({"due_at":"2026-12-15T09:00:00Z","recurrence":"FREQ=MONTHLY;BYMONTHDAY=15","timezone":"UTC","title":"pay card"}))),
        ("add pay rent monthly on the 1st", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"FREQ=MONTHLY;BYMONTHDAY=1","timezone":"UTC","title":"pay rent"}))),
        ("add pay rent every month", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"monthly","timezone":"UTC","title":"pay rent"}))),
        ("add pay bills every last day of the month", U, add(json!({"due_at":"2026-12-31T09:00:00Z","recurrence":"FREQ=MONTHLY;BYMONTHDAY=-1","timezone":"UTC","title":"pay bills"}))),
        ("add taxes every year", U, add(json!({"due_at":"2026-12-01T09:00:00Z","recurrence":"yearly","timezone":"UTC","title":"taxes"}))),
        ("add yoga every evening", U, add(json!({"due_at":"2026-11-30T18:00:00Z","recurrence":"daily","timezone":"UTC","title":"yoga"}))),
        ("add water plants every morning", B, add(json!({"due_at":"2026-12-01T08:00:00Z","recurrence":"daily","timezone":"Europe/Berlin","title":"water plants"}))),
        ("add invoice every 3 months on the 15th", U, add(json!({"due_at":"2026-12-15T09:00:00Z","recurrence":"FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15","timezone":"UTC","title":"invoice"}))),
        // Add: titles, quotes, descriptions
        ("add \"friday drinks\" tomorrow", U, add(json!({"due_at":"2026-12-01T09:00:00Z","timezone":"UTC","title":"friday drinks"}))),
        ("add Call Alice about the \"Q4 plan\" friday", U, add(json!({"due_at":"2026-12-04T09:00:00Z","timezone":"UTC","title":"Call Alice about the Q4 plan"}))),
        ("add read // chapter 3 and 4", U, add(json!({"description":"chapter 3 and 4","title":"read"}))),
        ("add buy eggs, milk, bread tomorrow", U, add(json!({"due_at":"2026-12-01T09:00:00Z","timezone":"UTC","title":"buy eggs, milk, bread"}))),
        ("add call 555 1234 at 5", U, add(json!({"due_at":"2026-11-30T17:00:00Z","timezone":"UTC","title":"call 555 1234"}))),
        ("add Urgent: Fix The Leak #Home", U, add(json!({"priority":"P1","tags":["home"],"title":"Fix The Leak"}))),
        // Add: not understood
        ("add", U, not_understood("a new task, but not its title", "add buy milk tomorrow at 5pm #home p1")),
        ("add p1 #home tomorrow", U, not_understood("a new task, but not its title", "add buy milk tomorrow at 5pm #home p1")),
        ("add dentist remind me 1 hour before", U, not_understood("a task “dentist” with a reminder, but no due date to remind you before", "add pay rent tomorrow at 9am remind me 1 hour before")),
        ("add foo tomorrow at 5pm remind me 99999999 minutes before", U, not_understood("a task, but reminder_minutes must be between 0 and 525600", "add pay rent tomorrow at 9am remind me 1 hour before")),
        ("add x every hour", U, not_understood("a task that repeats more often than once a day; the most often is every day", "add buy milk tomorrow at 5pm #home p1")),
        ("buy bread", U, not_understood("nothing", "add buy milk tomorrow at 5pm #home p1")),
        ("buy bread tomorrow", U, not_understood("“buy bread”, due Tue 1 Dec 09:00, but not what to do with it", "add buy milk tomorrow at 5pm #home p1")),
        // List and search
        ("what's due today", U, list(json!({"due_after":"2026-11-29T23:59:59.999999Z","due_before":"2026-12-01T00:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due today")),
        ("what's due today", B, list(json!({"due_after":"2026-11-29T22:59:59.999999Z","due_before":"2026-11-30T23:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due today")),
        ("what's due tomorrow", U, list(json!({"due_after":"2026-11-30T23:59:59.999999Z","due_before":"2026-12-02T00:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due tomorrow")),
        ("what's due this week", U, list(json!({"due_after":"2026-11-29T23:59:59.999999Z","due_before":"2026-12-07T00:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due this week")),
        ("what's due next week", B, list(json!({"due_after":"2026-12-06T22:59:59.999999Z","due_before":"2026-12-13T23:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due next week")),
        ("what's due on friday", U, list(json!({"due_after":"2026-12-03T23:59:59.999999Z","due_before":"2026-12-05T00:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due Fri 4 Dec")),
        ("show tasks due before friday", U, list(json!({"due_before":"2026-12-04T00:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due before Fri 4 Dec")),
        ("what's due in the next 3 days", U, list(json!({"due_after":"2026-11-29T23:59:59.999999Z","due_before":"2026-12-04T00:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due in the next 3 days")),
        ("show overdue", U, list(json!({"overdue":true,"sort_by":"due_at","status":"pending"}), "overdue tasks")),
        ("any overdue tasks?", U, list(json!({"overdue":true,"sort_by":"due_at","status":"pending"}), "overdue tasks")),
        ("show #work tasks", U, list(json!({"sort_by":"due_at","status":"pending","tag":"work"}), "tasks tagged #work")),
        ("show tasks tagged work", U, list(json!({"sort_by":"due_at","status":"pending","tag":"work"}), "tasks tagged #work")),
        ("show completed #work tasks", U, list(json!({"sort_by":"updated_at","sort_order":"desc","status":"completed","tag":"work"}), "completed tasks tagged #work")),
        ("list p1 tasks", U, list(json!({"priority":"P1","sort_by":"due_at","status":"pending"}), "P1 tasks")),
        ("show p1 and p2 tasks", U, list(json!({"priority":"P1,P2","sort_by":"due_at","status":"pending"}), "P1 or P2 tasks")),
        ("show important tasks", U, list(json!({"priority":"P1,P2","sort_by":"due_at","status":"pending"}), "P1 or P2 tasks")),
        ("show p1 #work tasks due this week", U, list(json!({"due_after":"2026-11-29T23:59:59.999999Z","due_before":"2026-12-07T00:00:00Z","priority":"P1","sort_by":"due_at","status":"pending","tag":"work"}), "P1 tasks tagged #work due this week")),
        ("find dentist", U, list(json!({"search":"dentist","sort_by":"due_at","status":"pending"}), "tasks matching “dentist”")),
        ("search dentist", U, list(json!({"search":"dentist","sort_by":"due_at","status":"pending"}), "tasks matching “dentist”")),
        ("search for tax return", U, list(json!({"search":"tax return","sort_by":"due_at","status":"pending"}), "tasks matching “tax return”")),
        ("find \"call the bank\"", U, list(json!({"search":"\"call the bank\"","sort_by":"due_at","status":"pending"}), "tasks matching “call the bank”")),
        ("find dentist tasks due today", U, list(json!({"due_after":"2026-11-29T23:59:59.999999Z","due_before":"2026-12-01T00:00:00Z","search":"dentist","sort_by":"due_at","status":"pending"}), "tasks matching “dentist” due today")),
        ("find", U, not_understood("a search, but not what to look for", "find dentist")),
        ("what's next", U, list(json!({"page_size":5,"sort_by":"due_at","status":"pending"}), "your next tasks")),
        ("what's next for #work", U, list(json!({"page_size":5,"sort_by":"due_at","status":"pending","tag":"work"}), "your next tasks tagged #work")),
        ("show completed tasks", U, list(json!({"sort_by":"updated_at","sort_order":"desc","status":"completed"}), "completed tasks")),
        ("show all tasks", U, list(json!({"sort_by":"due_at","status":"all"}), "all tasks")),
        ("show me everything", U, list(json!({"sort_by":"due_at","status":"all"}), "all tasks")),
        ("can you show my tasks", U, list(json!({"sort_by":"due_at","status":"pending"}), "your tasks")),
        ("tasks", U, list(json!({"sort_by":"due_at","status":"pending"}), "your tasks")),
        ("today", U, list(json!({"due_after":"2026-11-29T23:59:59.999999Z","due_before":"2026-12-01T00:00:00Z","sort_by":"due_at","status":"pending"}), "tasks due today")),
        ("overdue", U, list(json!({"overdue":true,"sort_by":"due_at","status":"pending"}), "overdue tasks")),
        ("show tasks by priority", U, list(json!({"sort_by":"priority","status":"pending"}), "your tasks by priority")),
        ("list top 3 tasks", U, list(json!({"page_size":3,"sort_by":"due_at","status":"pending"}), "your tasks, first 3")),
        ("show page 2", U, list(json!({"page":2,"sort_by":"due_at","status":"pending"}), "your tasks, page 2")),
        ("what's the weather", U, not_understood("nothing", "add buy milk tomorrow at 5pm #home p1")),
        // Complete, reopen, delete
        ("done with pay rent", U, Complete(words("pay rent"))),
        ("complete 2", U, Complete(Number(2))),
        ("complete #2", U, Complete(Number(2))),
        ("complete the second one", U, Complete(Number(2))),
        ("mark 3 as done", U, Complete(Number(3))),
        ("mark 3 done", U, Complete(Number(3))),
        ("finish buy milk", U, Complete(words("buy milk"))),
        ("i finished buy milk", U, Complete(words("buy milk"))),
        ("check off pay rent", U, Complete(words("pay rent"))),
        ("tick 2 off", U, Complete(Number(2))),
        ("pay rent is done", U, Complete(words("pay rent"))),
        ("2 done", U, Complete(Number(2))),
        ("reopen 2", U, Reopen(Number(2))),
        ("undo pay rent", U, Reopen(words("pay rent"))),
        ("mark pay rent as not done", U, Reopen(words("pay rent"))),
        ("delete dentist", U, Delete(words("dentist"))),
        ("delete the dentist task", U, Delete(words("dentist"))),
        ("remove 3", U, Delete(Number(3))),
        ("get rid of 4", U, Delete(Number(4))),
        // Nothing destructive from an unclear sentence
        ("delete", U, not_understood("delete, but not which task", "delete 2")),
        ("delete it", U, not_understood("delete “it”, but not which task that is", "delete 2")),
        ("delete all", U, not_understood("delete several tasks at once; I do one task at a time", "delete 2")),
        ("remove everything", U, not_understood("delete several tasks at once; I do one task at a time", "delete 2")),
        ("delete 2 and 3", U, not_understood("delete several tasks at once; I do one task at a time", "delete 2")),
        ("remove the #home tag from 3", U, not_understood("removing part of a task (a tag, a date, a reminder); I can only delete a whole task", "delete 2")),
        ("remove reminder from dentist", U, not_understood("removing part of a task (a tag, a date, a reminder); I can only delete a whole task", "delete 2")),
        ("complete 0", U, not_understood("complete, but not which task", "complete 2")),
        ("done", U, not_understood("complete, but not which task", "complete 2")),
        ("mark 3 as high priority", U, not_understood("mark task 3 as “high priority”, but I can only mark a task done or not done", "mark 3 as done")),
        ("mark 3", U, not_understood("mark task 3, but not as what", "mark 3 as done")),
        // Reschedule and rename
        ("move dentist to friday 10am", U, reschedule(words("dentist"), "2026-12-04T10:00:00Z")),
        ("move dentist to friday 10am", B, reschedule(words("dentist"), "2026-12-04T09:00:00Z")),
        ("reschedule 2 to tomorrow", U, reschedule_keeping(Number(2), "2026-12-01T09:00:00Z", "2026-12-01")),
        ("move 2 to next week", U, reschedule_keeping(Number(2), "2026-12-07T09:00:00Z", "2026-12-07")),
        ("push dentist to 3pm", U, reschedule_keeping(words("dentist"), "2026-11-30T15:00:00Z", "15:00:00")),
        ("postpone 2 until monday", U, reschedule_keeping(Number(2), "2026-12-07T09:00:00Z", "2026-12-07")),
        ("move go to gym to friday", U, reschedule_keeping(words("go to gym"), "2026-12-04T09:00:00Z", "2026-12-04")),
        ("move dentist", U, not_understood("move “dentist”, but not to when", "move 2 to friday 10am")),
        ("change 3 to friday 10am", U, reschedule(Number(3), "2026-12-04T10:00:00Z")),
        ("rename 3 to call the bank", U, rename(Number(3), "call the bank")),
        ("rename go to gym to go swimming", U, Command::Rename {
            target: words("go"),
            title: "gym to go swimming".into(),
            or: vec![("go to gym".into(), "go swimming".into())],
        }),
        ("rename dentist to dentist with Dr. Who", U, rename(words("dentist"), "dentist with Dr. Who")),
        ("change 3 to call the bank", U, rename(Number(3), "call the bank")),
        ("change 3 to p1", U, not_understood("a change to a task's priority, tags or reminder, which I cannot make yet", "rename 3 to call the bank")),
        ("rename 3", U, not_understood("rename, but not the new title", "rename 3 to call the bank")),
        // Help
        ("help", U, Help),
        ("what can you do", U, Help),
        ("hello", U, Help),
        ("", U, not_understood("nothing", "add buy milk tomorrow at 5pm #home p1")),
    ]
}

/// A question about a task asks; it never completes one.
#[test]
fn a_question_never_completes_a_task() {
    for question in [
        "is the report done?",
        "is the report done",
        "is pay rent finished",
        "did I finish pay rent?",
        "pay rent done?",
    ] {
        let got = parse(question, &context(U));
        assert!(!matches!(got, Complete(_)), "{question}: {got:?}");
    }
    assert_eq!(
        parse("pay rent done", &context(U)),
        Complete(words("pay rent"))
    );
}

#[test]
fn every_phrase_gives_its_command() {
    let mut wrong = Vec::new();
    for (phrase, tz, expected) in table() {
        let got = parse(phrase, &context(tz));
        if got != expected {
            wrong.push(format!(
                "{phrase:?} in {tz}:\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {}:\n{}",
        wrong.len(),
        table().len(),
        wrong.join("\n")
    );
}

#[test]
fn the_table_is_large_and_covers_both_time_zones() {
    let table = table();
    assert!(table.len() >= 80, "{} phrases", table.len());
    assert!(table.iter().filter(|(_, tz, _)| *tz == B).count() >= 15);
    let adds = table
        .iter()
        .filter(|(_, _, c)| matches!(c, Command::Add { .. }))
        .count();
    assert!(adds >= 40, "{adds} adds");
}

const ADD_FIELDS: &[&str] = &[
    "title",
    "description",
    "priority",
    "tags",
    "due_at",
    "reminder_minutes",
    "recurrence",
    "timezone",
];

/// What the add_task tool will check, checked here with the same domain rules.
pub(super) fn check_add(arguments: &Value) {
    let object = arguments.as_object().expect("an object");
    for (key, value) in object {
        assert!(ADD_FIELDS.contains(&key.as_str()), "unknown field {key}");
        assert!(!value.is_null(), "{key} is null: absent fields are omitted");
    }
    let text = |key: &str| object.get(key).map(|v| v.as_str().expect("a string"));
    Title::parse(text("title").expect("a title")).unwrap();
    if let Some(d) = text("description") {
        Description::parse(d).unwrap();
    }
    if let Some(p) = text("priority") {
        Priority::parse(p).unwrap();
        assert!(["P1", "P2", "P3", "P4"].contains(&p));
    }
    if let Some(tags) = object.get("tags") {
        for tag in tags.as_array().expect("an array") {
            let tag = tag.as_str().expect("a string");
            TagName::parse(tag).unwrap();
            assert!(!tag.starts_with('#'));
        }
    }
    let tz = text("timezone").map(|t| Timezone::parse(t).unwrap());
    let due = text("due_at").map(|d| parse_timestamp("due_at", d).unwrap());
    if let Some(minutes) = object.get("reminder_minutes") {
        parse_reminder_minutes(minutes.as_i64().expect("an integer")).unwrap();
        assert!(due.is_some(), "a reminder needs a due date");
    }
    if let Some(rule) = text("recurrence") {
        let rule = Recurrence::parse(rule).unwrap();
        let tz = tz.as_ref().expect("a recurrence comes with its time zone");
        if let Some(due) = due {
            rule.check_start(tz.tz(), due).unwrap();
        }
    }
    if due.is_some() {
        assert!(tz.is_some(), "a due date comes with its time zone");
    }
}

/// What the list_tasks tool will check: the arguments as a query string, read by `ListQuery`.
pub(super) fn check_list(arguments: &Value) {
    let pairs: Vec<(String, String)> = arguments
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) => v.to_string(),
                other => panic!("{k} is {other}"),
            };
            (k.clone(), value)
        })
        .collect();
    ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
}

#[test]
fn every_add_and_list_in_the_table_passes_the_domain_rules() {
    for (phrase, tz, command) in table() {
        let got = parse(phrase, &context(tz));
        match &command {
            Command::Add { arguments } => check_add(arguments),
            Command::List { arguments, .. } => check_list(arguments),
            _ => {}
        }
        assert_eq!(got, command, "{phrase}");
    }
}

#[test]
fn nothing_unclear_is_destructive() {
    for sentence in [
        "delete",
        "delete it",
        "delete that one",
        "remove all",
        "delete everything",
        "delete all completed tasks",
        "remove tasks",
        "delete both",
        "remove 1, 2 and 3",
        "delete the due date of 2",
        "remove #home from pay rent",
        "remove the p1 priority from 3",
        "clear my list",
        "nuke it",
        "cancel dentist",
        "get rid of them",
        "delete 0",
        "undo",
        "complete all",
        "done with everything",
        "mark all as done",
        "close the door",
        "drop it",
    ] {
        let got = parse(sentence, &context(U));
        assert!(
            !matches!(
                got,
                Command::Delete(_) | Command::Complete(_) | Command::Reopen(_)
            ),
            "{sentence:?} gave {got:?}"
        );
    }
}

#[test]
fn describe_says_what_was_understood() {
    let utc = context(U);
    let berlin = context(B);
    for (sentence, ctx, expected) in [
        (
            "add pay rent every month on the 1st at 9am p1 #home remind me 1 hour before",
            &berlin,
            "Add \u{201C}pay rent\u{201D}, P1, #home, due Tue 1 Dec 09:00, repeating every month on \
             the 1st, reminder 1 hour before",
        ),
        (
            "add physio every day until friday",
            &berlin,
            "Add \u{201C}physio\u{201D}, due Tue 1 Dec 09:00, repeating every day until 4 Dec 2026",
        ),
        (
            "add book club every first monday at 7pm",
            &utc,
            "Add \u{201C}book club\u{201D}, due Mon 7 Dec 19:00, repeating every month on the \
             first Monday",
        ),
        (
            "add team lunch next wednesday at 12:30pm #work #team",
            &utc,
            "Add \u{201C}team lunch\u{201D}, #work #team, due Wed 9 Dec 12:30",
        ),
        (
            "new task water plants every monday and thursday",
            &utc,
            "Add \u{201C}water plants\u{201D}, due Thu 3 Dec 09:00, repeating every Monday and Thursday",
        ),
        (
            "add meeting on dec 5th, 2027 at 10:30am remind me 2 days before",
            &utc,
            "Add \u{201C}meeting\u{201D}, due Sun 5 Dec 2027 10:30, reminder 2 days before",
        ),
        ("what's due today", &utc, "Show tasks due today"),
        ("find dentist", &utc, "Show tasks matching \u{201C}dentist\u{201D}"),
        ("complete 2", &utc, "Complete task 2"),
        ("done with pay rent", &utc, "Complete \u{201C}pay rent\u{201D}"),
        ("undo pay rent", &utc, "Reopen \u{201C}pay rent\u{201D}"),
        ("remove 3", &utc, "Delete task 3"),
        ("move dentist to friday 10am", &berlin, "Move \u{201C}dentist\u{201D} to Fri 4 Dec 10:00"),
        (
            "rename 3 to call the bank",
            &utc,
            "Rename task 3 to \u{201C}call the bank\u{201D}",
        ),
        ("help", &utc, "Show what I can do"),
        (
            "delete it",
            &utc,
            "Not understood (delete \u{201C}it\u{201D}, but not which task that is); try \
             \u{201C}delete 2\u{201D}",
        ),
    ] {
        assert_eq!(describe(&parse(sentence, ctx), ctx), expected, "{sentence}");
    }
}

#[test]
fn a_long_title_is_quoted_short() {
    let long = format!("add {} tomorrow", "word ".repeat(40));
    let ctx = context(U);
    let text = describe(&parse(&long, &ctx), &ctx);
    assert!(text.contains('\u{2026}') && text.len() < 140, "{text}");
}

#[test]
fn a_title_over_the_limit_is_not_added() {
    let ctx = context(U);
    let got = parse(&format!("add {}", "x".repeat(501)), &ctx);
    assert_eq!(
        got,
        not_understood(
            "a task, but title must be at most 500 characters",
            "add buy milk tomorrow at 5pm #home p1"
        )
    );
}

#[test]
fn inputs_that_once_panicked() {
    let ctx = context(U);
    // a description marker in a sentence read without its message text
    for sentence in [
        "change add to //",
        "change 3 to // a note",
        "rename 2 to //",
    ] {
        describe(&parse(sentence, &ctx), &ctx);
    }
}

#[test]
fn quick_add_reads_a_task_without_its_verb() {
    let berlin = context(B);
    let with_verb = parse(
        "add pay rent every month on the 1st at 9am p1 #home remind me 1 hour before",
        &berlin,
    );
    for sentence in [
        "pay rent every month on the 1st at 9am p1 #home remind me 1 hour before",
        "add pay rent every month on the 1st at 9am p1 #home remind me 1 hour before",
        "please pay rent every month on the 1st at 9am p1 #home remind me 1 hour before",
    ] {
        assert_eq!(quick_add(sentence, &berlin), with_verb, "{sentence}");
    }
    // "remind me" still asks for a reminder at the due time.
    assert_eq!(
        quick_add("remind me to call mom tomorrow at 6pm", &context(U)),
        add(
            json!({"due_at":"2026-12-01T18:00:00Z","reminder_minutes":0,"timezone":"UTC","title":"call mom"})
        )
    );
    // Words that would be another command are a title here: quick add only adds.
    assert_eq!(
        quick_add("delete old photos #home", &context(U)),
        add(json!({"tags":["home"],"title":"delete old photos"}))
    );
    assert_eq!(
        quick_add("done with pay rent", &context(U)),
        add(json!({"title":"done with pay rent"}))
    );
}

#[test]
fn quick_add_says_why_it_cannot_add() {
    let ctx = context(U);
    const ADD: &str = "add buy milk tomorrow at 5pm #home p1";
    const REMINDER: &str = "add pay rent tomorrow at 9am remind me 1 hour before";
    for (sentence, understood, example) in [
        ("", "nothing to add yet", ADD),
        ("please", "nothing to add yet", ADD),
        ("p1 #home", "a new task, but not its title", ADD),
        (
            "water plants every hour",
            "a task that repeats more often than once a day; the most often is every day",
            ADD,
        ),
        (
            "call bob remind me 1 hour before",
            "a task \u{201C}call bob\u{201D} with a reminder, but no due date to remind you before",
            REMINDER,
        ),
    ] {
        assert_eq!(
            quick_add(sentence, &ctx),
            not_understood(understood, example),
            "{sentence:?}"
        );
    }
}
