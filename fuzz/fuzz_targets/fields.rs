//! The text fields of a task and a chat message: parsing never panics, and what a parser
//! accepts (as it would be stored) parses again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::domain::conversation::parse_message;
use shared::domain::{parse_timestamp, Description, Priority, TagName, Timezone, Title};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(title) = Title::parse(text) {
        assert_eq!(Title::parse(title.as_str()).unwrap().as_str(), title.as_str());
    }
    if let Ok(description) = Description::parse(text) {
        let again = Description::parse(description.as_str()).unwrap();
        assert_eq!(again.as_str(), description.as_str());
    }
    if let Ok(tags) = TagName::parse_list(&[text.to_owned()]) {
        let stored: Vec<String> = tags.iter().map(|t| t.as_str().to_owned()).collect();
        let again = TagName::parse_list(&stored).unwrap();
        assert_eq!(again, tags);
    }
    if let Ok(priority) = Priority::parse(text) {
        assert_eq!(Priority::parse(&priority.to_string()).unwrap(), priority);
    }
    if let Ok(tz) = Timezone::parse(text) {
        assert_eq!(Timezone::parse(tz.tz().name()).unwrap().tz(), tz.tz());
    }
    if let Ok(at) = parse_timestamp("due_at", text) {
        let written = at.to_rfc3339();
        assert_eq!(parse_timestamp("due_at", &written).unwrap(), at);
    }
    if let Ok(message) = parse_message(text) {
        assert_eq!(parse_message(&message).unwrap(), message);
    }
});
