//! Bodies a subscription receives: reading a CloudEvent never panics, and an event it
//! accepts, published again, reads back as the same event.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::events::subscription::parse_cloud_event;
use shared::events::{ReminderEvent, TaskEvent, UserEvent};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    round_trip::<TaskEvent>(&body);
    round_trip::<ReminderEvent>(&body);
    round_trip::<UserEvent>(&body);
});

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(body: &Bytes) {
    let Ok(event) = parse_cloud_event::<T>(body) else {
        return;
    };
    let again = serde_json::json!({
        "specversion": "1.0",
        "id": "again",
        "source": "fuzz",
        "type": "com.dapr.event.sent",
        "datacontenttype": "application/json",
        "data": event,
    });
    let again = Bytes::from(serde_json::to_vec(&again).unwrap());
    let read = parse_cloud_event::<T>(&again).expect("an event read once reads again");
    assert_eq!(read, event);
}
