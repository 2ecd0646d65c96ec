//! The task domain: validated value types, the task record and the list query.
//!
//! Everything that reaches the store has been through a `parse` here, so the store
//! never sees an empty title, an unknown priority or an invalid time zone.

mod change;
pub mod conversation;
mod invalid;
pub mod list;
mod recurrence;
mod task;
pub mod text;

pub use change::{now, truncate, SearchDocument, TaskChange, MAX_RECURRENCE_DEPTH};
pub use invalid::Invalid;
pub use list::{Count, ListParams, ListQuery, Page, SortBy, SortOrder, Status, Total, COUNT_CAP};
pub use recurrence::Recurrence;
pub use task::{
    in_writable_years, parse_reminder_minutes, parse_timestamp, Description, NewTask, Priority,
    TagName, Task, TaskPatch, Timezone, Title, MAX_DESCRIPTION_CHARS, MAX_REMINDER_MINUTES,
    MAX_TAGS_PER_TASK, MAX_TAG_CHARS, MAX_TITLE_CHARS,
};
pub use text::{check_user_id, forbidden_control, Controls};
