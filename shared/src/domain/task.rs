use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::text::{forbidden_control, is_bidi_control, is_blank, normalize_tag, Controls};
use super::Invalid;
use super::Recurrence;

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
pub const MAX_TAGS_PER_TASK: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_REMINDER_MINUTES: i32 = 525_600; // one year

/// P1 (most urgent) .. P4. Stored as 1..4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    pub const DEFAULT: Priority = Priority(3);

    /// Accepts `P1`..`P4` (any case), `urgent|high|medium|low`, or the numbers 1..4.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim().to_ascii_lowercase();
        let level = match s.as_str() {
            "p1" | "1" | "urgent" => 1,
            "p2" | "2" | "high" => 2,
            "p3" | "3" | "medium" => 3,
            "p4" | "4" | "low" => 4,
            _ => {
                return Err(format!(
                    "unknown priority {}: use P1, P2, P3, P4 or urgent, high, medium, low",
                    super::text::echo(input)
                ))
            }
        };
        Ok(Priority(level))
    }

    pub fn from_level(level: i16) -> Option<Self> {
        (1..=4).contains(&level).then_some(Priority(level as u8))
    }

    pub fn level(self) -> i16 {
        self.0 as i16
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}", self.0)
    }
}

impl Serialize for Priority {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// As the API writes it: `P1`..`P4`. (What a request may send is wider: `TaskInput`.)
impl utoipa::PartialSchema for Priority {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some((1..=4).map(|level| Priority(level).to_string())))
            .description(Some("P1 (most urgent) to P4"))
            .into()
    }
}

impl utoipa::ToSchema for Priority {}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Priority::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A trimmed, non-empty title of at most 500 characters, on one line: kept as typed, but
/// without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let t = input.trim();
        if is_blank(t) {
            return Err(Invalid::new(
                "title",
                "title must not be empty (or only invisible characters)",
            ));
        }
        if let Some(c) = forbidden_control(t, Controls::None) {
            return Err(Invalid::new(
                "title",
                format!("title must be one line without control characters (found {c:?})"),
            ));
        }
        if t.chars().count() > MAX_TITLE_CHARS {
            return Err(Invalid::new(
                "title",
                format!("title must be at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        Ok(Title(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description of at most 10,000 characters (may be empty); line breaks and tabs are its
/// only control characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        if let Some(c) = forbidden_control(input, Controls::LineBreaks) {
            return Err(Invalid::new(
                "description",
                format!(
                    "description must not contain control characters other than line breaks and tabs (found {c:?})"
                ),
            ));
        }
        if input.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Invalid::new(
                "description",
                format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        Ok(Description(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tag name, normalised (`normalize_tag`: invisible characters removed, NFKC, lower
/// case, trimmed) so that tags which look the same are the same tag; 1..=50 characters,
/// no commas (lists of tags are comma-separated in queries), no control or bidirectional
/// formatting characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TagName(String);

impl TagName {
    pub fn parse(input: &str) -> Result<Self, String> {
        let t = normalize_tag(input);
        if t.is_empty() {
            return Err("tags must not be empty".into());
        }
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(format!(
                "tag {} is longer than {MAX_TAG_CHARS} characters",
                super::text::echo(input)
            ));
        }
        if t.chars()
            .any(|c| c == ',' || c.is_control() || is_bidi_control(c))
        {
            return Err(format!(
                "tag {} must not contain commas, control characters or bidirectional formatting characters",
                super::text::echo(input)
            ));
        }
        Ok(TagName(t))
    }

    /// Parses, de-duplicates and sorts a task's tags, at most 20.
    pub fn parse_list(inputs: &[String]) -> Result<Vec<TagName>, Invalid> {
        let mut tags = inputs
            .iter()
            .map(|s| TagName::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| Invalid::new("tags", m))?;
        tags.sort();
        tags.dedup();
        if tags.len() > MAX_TAGS_PER_TASK {
            return Err(Invalid::new(
                "tags",
                format!("a task has at most {MAX_TAGS_PER_TASK} tags"),
            ));
        }
        Ok(tags)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone name; recurrence is evaluated in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone(chrono_tz::Tz);

impl Timezone {
    pub const UTC: Timezone = Timezone(chrono_tz::UTC);

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        input
            .trim()
            .parse::<chrono_tz::Tz>()
            .map(Timezone)
            .map_err(|_| {
                Invalid::new(
                    "timezone",
                    format!(
                        "unknown time zone {}: use an IANA name such as Europe/Berlin",
                        super::text::echo(input)
                    ),
                )
            })
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// Whether a task may hold `t`: in UTC between years 0001 and 9999, so that RFC 3339 can
/// write it back (four-digit years), and a reminder up to `MAX_REMINDER_MINUTES` before it.
pub fn in_writable_years(t: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&t.year())
}

/// Parses an RFC 3339 timestamp (`2026-12-01T09:00:00Z`, any offset) for `field`, within
/// `in_writable_years`. A leap second (`23:59:60`) is the start of the
/// next second, as PostgreSQL reads it, so a time reads back as it was written.
pub fn parse_timestamp(field: &str, input: &str) -> Result<DateTime<Utc>, Invalid> {
    let t = DateTime::parse_from_rfc3339(input.trim())
        .map_err(|_| {
            Invalid::new(
                field,
                format!("{field} must be an RFC 3339 timestamp such as 2026-12-01T09:00:00Z"),
            )
        })?
        .with_timezone(&Utc);
    let t = match t.nanosecond().checked_sub(1_000_000_000) {
        Some(fraction) => t.with_nanosecond(fraction).unwrap_or(t) + Duration::seconds(1),
        None => t,
    };
    if !in_writable_years(&t) {
        return Err(Invalid::new(
            field,
            format!("{field} must fall between the years 0001 and 9999 in UTC"),
        ));
    }
    Ok(super::truncate(t))
}

pub fn parse_reminder_minutes(minutes: i64) -> Result<i32, Invalid> {
    if !(0..=MAX_REMINDER_MINUTES as i64).contains(&minutes) {
        return Err(Invalid::new(
            "reminder_minutes",
            format!("reminder_minutes must be between 0 and {MAX_REMINDER_MINUTES}"),
        ));
    }
    Ok(minutes as i32)
}

/// A validated task to create.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: Title,
    pub description: Description,
    pub priority: Priority,
    pub tags: Vec<TagName>,
    pub due_at: Option<DateTime<Utc>>,
    pub reminder_minutes: Option<i32>,
    pub recurrence: Option<Recurrence>,
    pub timezone: Timezone,
    /// Set only for the next occurrence of a recurring task.
    pub recurrence_parent_id: Option<Uuid>,
    pub recurrence_depth: i32,
    pub recurrence_anchor: Option<DateTime<Utc>>,
}

#[cfg(test)]
impl NewTask {
    /// A plain task titled `title` (the library's tests set what else they need with
    /// `..NewTask::titled(..)`).
    pub(crate) fn titled(title: &str) -> NewTask {
        NewTask {
            title: Title::parse(title).unwrap(),
            description: Description::default(),
            priority: Priority::DEFAULT,
            tags: vec![],
            due_at: None,
            reminder_minutes: None,
            recurrence: None,
            timezone: Timezone::UTC,
            recurrence_parent_id: None,
            recurrence_depth: 0,
            recurrence_anchor: None,
        }
    }
}

/// A validated partial update. `None` leaves a field alone; for nullable fields
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub priority: Option<Priority>,
    pub tags: Option<Vec<TagName>>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub reminder_minutes: Option<Option<i32>>,
    pub recurrence: Option<Option<Recurrence>>,
    pub timezone: Option<Timezone>,
    pub completed: Option<bool>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.priority.is_none()
            && self.tags.is_none()
            && self.due_at.is_none()
            && self.reminder_minutes.is_none()
            && self.recurrence.is_none()
            && self.timezone.is_none()
            && self.completed.is_none()
    }
}

/// A stored task, as the API returns it and as events carry it. Its fields stay typed from
/// the request to the store to the event, so no consumer parses them again. (Its optional
/// fields are `required` in the OpenAPI document: they are always written, `null` when unset.)
///
/// The derived fields (`completed_at`, `remind_at`, `reminder_sent_at`, `updated_at`) are
/// set only by the rules in `domain::change`.
#[derive(
    Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, utoipa::ToSchema,
)]
#[schema(description = "A task, as the API answers it and as its events carry it.", example = json!({
    "id": "3f1c9a4e-8d2b-4c7a-9e61-0b5d2f7a8c13", "user_id": "alice", "title": "Pay rent",
    "description": "", "completed": false, "completed_at": null, "priority": "P2",
    "tags": ["home", "money"], "due_at": "2026-12-01T09:00:00Z", "reminder_minutes": 60,
    "remind_at": "2026-12-01T08:00:00Z", "reminder_sent_at": null, "recurrence": "monthly",
    "timezone": "Europe/Berlin", "recurrence_parent_id": null, "recurrence_depth": 0,
    "recurrence_anchor": "2026-12-01T09:00:00Z", "created_at": "2026-11-20T10:00:00Z",
    "updated_at": "2026-11-20T10:00:00Z"
}))]
pub struct Task {
    pub id: Uuid,
    /// Whose task it is (the token's subject).
    pub user_id: String,
    #[schemars(with = "String")]
    #[schema(value_type = String)]
    pub title: Title,
    #[schemars(with = "String")]
    #[schema(value_type = String)]
    pub description: Description,
    pub completed: bool,
    #[schema(required)]
    pub completed_at: Option<DateTime<Utc>>,
    /// "P1" (most urgent) to "P4".
    #[schemars(with = "String")]
    pub priority: Priority,
    /// Normalised names (lower case, NFKC), sorted.
    #[schemars(with = "Vec<String>")]
    #[schema(value_type = Vec<String>)]
    pub tags: Vec<TagName>,
    #[schema(required)]
    pub due_at: Option<DateTime<Utc>>,
    /// Minutes before `due_at` to remind.
    #[schema(required)]
    pub reminder_minutes: Option<i32>,
    /// `due_at` less `reminder_minutes`: when the reminder fires.
    #[schema(required)]
    pub remind_at: Option<DateTime<Utc>>,
    /// When the reminder fired (it fires once; changing the due date or offset re-arms it).
    #[schema(required)]
    pub reminder_sent_at: Option<DateTime<Utc>>,
    /// The rule as given (`weekly`, `every 2 weeks`, `FREQ=WEEKLY;BYDAY=MO`).
    #[serde(deserialize_with = "Recurrence::deserialize_stored")]
    #[schemars(with = "Option<String>")]
    #[schema(value_type = Option<String>, required)]
    pub recurrence: Option<Recurrence>,
    /// An IANA time zone name.
    #[schemars(with = "String")]
    #[schema(value_type = String)]
    pub timezone: Timezone,
    /// The task this one is the next occurrence of.
    #[schema(required)]
    pub recurrence_parent_id: Option<Uuid>,
    /// How many occurrences came before this one in its series.
    pub recurrence_depth: i32,
    /// When the recurring series this task belongs to started: its occurrences are counted
    /// from it.
    #[serde(default)]
    #[schema(required)]
    pub recurrence_anchor: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Text that was validated when it came in: written out as a string, and read back (from
/// the store, or from an event this service wrote) as it is. Rules for input may tighten
/// over time; what was stored under older rules still loads.
macro_rules! stored_text {
    ($($name:ident),*) => {$(
        impl $name {
            /// A value as stored: validated when it came in.
            pub fn from_stored(text: String) -> Self {
                $name(text)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name)
            }
        }
    )*};
}

stored_text!(Title, Description, TagName);

impl Serialize for Timezone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Timezone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Timezone::parse(&name).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_accepts_codes_words_and_numbers() {
        for (input, want) in [
            ("P1", 1),
            ("p2", 2),
            ("medium", 3),
            ("LOW", 4),
            ("urgent", 1),
            ("4", 4),
        ] {
            assert_eq!(Priority::parse(input).unwrap().level(), want, "{input}");
        }
        assert!(Priority::parse("P5").is_err());
        assert!(Priority::parse("").is_err());
        assert_eq!(Priority::DEFAULT.to_string(), "P3");
    }

    #[test]
    fn title_is_trimmed_and_bounded() {
        assert_eq!(Title::parse("  buy milk ").unwrap().as_str(), "buy milk");
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse(&"é".repeat(500)).is_ok());
        assert!(Title::parse(&"é".repeat(501)).is_err());
    }

    #[test]
    fn tags_are_normalised_deduplicated_and_capped() {
        let tags = TagName::parse_list(&["Work".into(), " work ".into(), "Home".into()]).unwrap();
        assert_eq!(
            tags.iter().map(TagName::as_str).collect::<Vec<_>>(),
            ["home", "work"]
        );
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(TagName::parse_list(&many).is_err());
        assert!(TagName::parse("a,b").is_err());
        assert!(TagName::parse(&"x".repeat(51)).is_err());
    }

    #[test]
    fn timestamps_and_zones() {
        let t = parse_timestamp("due_at", "2026-12-01T10:00:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T09:00:00+00:00");
        assert!(parse_timestamp("due_at", "tomorrow").is_err());
        // Only what RFC 3339 writes back in UTC, with room for a year-long reminder.
        for outside in [
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:60Z",
            "0000-06-01T00:00:00Z",
            "0001-01-01T00:00:00+00:01",
        ] {
            let err = parse_timestamp("due_at", outside).unwrap_err();
            assert!(
                err.message.contains("0001 and 9999"),
                "{outside}: {}",
                err.message
            );
        }
        let last = parse_timestamp("due_at", "9999-12-31T23:59:59.999999Z").unwrap();
        assert_eq!(last.year(), 9999);
        // A leap second is the next second's start.
        let leap = parse_timestamp("due_at", "2026-12-31T23:59:60.25Z").unwrap();
        assert_eq!(
            leap,
            parse_timestamp("due_at", "2027-01-01T00:00:00.25Z").unwrap()
        );
        assert!(leap.nanosecond() < 1_000_000_000);
        assert_eq!(
            Timezone::parse("Europe/Berlin").unwrap().name(),
            "Europe/Berlin"
        );
        assert!(Timezone::parse("Mars/Olympus").is_err());
    }
}
