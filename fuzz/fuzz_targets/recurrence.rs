//! Recurrence rules as users write them: parsing never panics, a stored rule reads back as
//! itself, and following a series from any start in any time zone ends or moves forward.
#![no_main]

use chrono::{Datelike, Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use shared::domain::Recurrence;

// The first 8 bytes pick the time zone, the series' start (1970 to 2106) and how late the
// task was completed (up to about 7 years); the rest is the rule.
fuzz_target!(|data: &[u8]| {
    let Some((head, rule)) = data.split_first_chunk::<8>() else {
        return;
    };
    let Ok(rule) = std::str::from_utf8(rule) else {
        return;
    };
    let Ok(recurrence) = Recurrence::parse(rule) else {
        return;
    };
    let stored = Recurrence::parse(recurrence.as_str()).expect("a stored rule parses again");
    assert_eq!(stored, recurrence);

    let zones = &chrono_tz::TZ_VARIANTS;
    let tz = zones[usize::from(u16::from_le_bytes([head[0], head[1]])) % zones.len()];
    let start = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
    let anchor = Utc.timestamp_opt(i64::from(start), 0).unwrap();
    let completed = anchor + Duration::hours(i64::from(u16::from_le_bytes([head[6], head[7]])));
    let _ = recurrence.check_start(tz, anchor);
    if let Some(next) = recurrence.next_due(tz, anchor, Some(anchor), completed) {
        assert!(next > completed, "{next} is not after {completed}");
        assert!(next.year() <= Recurrence::LAST_YEAR);
        if let Some(after) = recurrence.next_due(tz, anchor, Some(next), next) {
            assert!(after > next, "{after} is not after {next}");
        }
    }
});
