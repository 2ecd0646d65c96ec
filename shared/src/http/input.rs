//! The task JSON a client sends, for create (`POST`) and update (`PUT`/`PATCH`), and its
//! validation into the domain's `NewTask` / `TaskPatch`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::openapi::{RefOr, Schema};

use crate::domain::{
    parse_reminder_minutes, parse_timestamp, Description, NewTask, Priority, Recurrence, TagName,
    TaskPatch, Timezone, Title,
};
use crate::http::ApiError;

/// The body of an update: any of the fields, at least one; an absent field is kept, `null`
/// clears a nullable one.
// A create takes the same body with `title` required and no `completed` (`TaskCreate`,
// derived from this). The document's constraints (`schema_with`) are the domain's limits,
// so a client can check a value before sending it; the domain's parse still decides.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TaskUpdate, example = json!({"due_at": "2026-12-02T09:00:00Z", "tags": ["home"]}))]
pub struct TaskInput {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = schema::title)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = schema::description)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = schema::priority)]
    pub priority: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = schema::tags)]
    pub tags: Option<Option<Vec<String>>>,
    /// RFC 3339, any offset.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>, example = "2026-12-01T09:00:00Z")]
    pub due_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = schema::reminder_minutes)]
    pub reminder_minutes: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = schema::recurrence)]
    pub recurrence: Option<Option<String>>,
    /// An IANA time zone name (default `UTC`); recurrence is evaluated in it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, example = "Europe/Berlin")]
    pub timezone: Option<Option<String>>,
    /// Completes or reopens the task (an update only).
    #[serde(default)]
    #[schema(value_type = bool)]
    pub completed: Option<bool>,
}

/// The body of a create in the OpenAPI document: `TaskUpdate`'s schema with `title`
/// required and without `completed` (a task is created open).
pub struct NewTaskInput;

impl utoipa::PartialSchema for NewTaskInput {
    fn schema() -> RefOr<Schema> {
        let RefOr::T(Schema::Object(mut object)) = <TaskInput as utoipa::PartialSchema>::schema()
        else {
            unreachable!("TaskInput's schema is an object")
        };
        object.properties.shift_remove("completed");
        object.required = vec!["title".to_owned()];
        object.description = Some(
            "The body of a create: `title` is required; the other fields take their defaults."
                .to_owned(),
        );
        object.example = Some(serde_json::json!({
            "title": "Pay rent", "priority": "high", "tags": ["home", "money"],
            "due_at": "2026-12-01T09:00:00Z", "reminder_minutes": 60, "recurrence": "monthly",
            "timezone": "Europe/Berlin"
        }));
        object.into()
    }
}

impl utoipa::ToSchema for NewTaskInput {
    fn name() -> std::borrow::Cow<'static, str> {
        "TaskCreate".into()
    }
}

/// The constrained fields' schemas, from the domain's limits (a field's doc comment does not
/// reach the document with `schema_with`: each description is here).
mod schema {
    use utoipa::openapi::schema::{SchemaType, Type};
    use utoipa::openapi::{
        Array, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, RefOr, Schema,
    };

    use crate::domain::{
        MAX_DESCRIPTION_CHARS, MAX_REMINDER_MINUTES, MAX_TAGS_PER_TASK, MAX_TAG_CHARS,
        MAX_TITLE_CHARS,
    };

    /// Control characters (Unicode `Cc`), as ECMA-262 class ranges.
    const CONTROLS: &str = r"\u0000-\u001F\u007F-\u009F";
    /// `CONTROLS` but for tab, line feed and carriage return.
    const CONTROLS_BUT_LINE_BREAKS: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";
    /// Bidirectional formatting characters.
    const BIDI: &str = r"\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069";

    fn nullable(t: Type) -> SchemaType {
        SchemaType::from_iter([t, Type::Null])
    }

    /// Text of `forbidden` characters nowhere and something other than white space somewhere.
    fn one_line(forbidden: &str) -> String {
        format!("^[^{forbidden}]*[^\\s{forbidden}][^{forbidden}]*$")
    }

    pub fn title() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "One line, 1 to 500 characters once trimmed; no control characters.",
            ))
            .min_length(Some(1))
            .max_length(Some(MAX_TITLE_CHARS))
            .pattern(Some(one_line(CONTROLS)))
            .examples([serde_json::json!("Pay rent")])
            .build()
    }

    pub fn description() -> Object {
        ObjectBuilder::new()
            .schema_type(nullable(Type::String))
            .description(Some(
                "Up to 10,000 characters; line breaks and tabs are its only control characters.",
            ))
            .max_length(Some(MAX_DESCRIPTION_CHARS))
            .pattern(Some(format!("^[^{CONTROLS_BUT_LINE_BREAKS}]*$")))
            .build()
    }

    pub fn priority() -> RefOr<Schema> {
        let one_of = OneOfBuilder::new()
            .description(Some(
                "`P1`..`P4` (any case), `urgent`, `high`, `medium`, `low`, or 1..4; default `P3`.",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([
                        "P1", "P2", "P3", "P4", "urgent", "high", "medium", "low",
                    ])),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(4)),
            )
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }

    pub fn tags() -> Array {
        let forbidden = format!(",{CONTROLS}{BIDI}");
        let tag = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_TAG_CHARS))
            .pattern(Some(one_line(&forbidden)));
        ArrayBuilder::new()
            .schema_type(nullable(Type::Array))
            .description(Some(
                "At most 20, normalised (invisible characters removed, NFKC, lower case, \
                 trimmed) and de-duplicated; no commas, control or bidirectional formatting \
                 characters. `null` or `[]` clears them.",
            ))
            .items(tag)
            .max_items(Some(MAX_TAGS_PER_TASK))
            .examples([serde_json::json!(["home", "money"])])
            .build()
    }

    pub fn reminder_minutes() -> Object {
        ObjectBuilder::new()
            .schema_type(nullable(Type::Integer))
            .description(Some(
                "Minutes before `due_at` to remind (needs a due date).",
            ))
            .minimum(Some(0))
            .maximum(Some(MAX_REMINDER_MINUTES))
            .examples([serde_json::json!(60)])
            .build()
    }

    pub fn recurrence() -> Object {
        ObjectBuilder::new()
            .schema_type(nullable(Type::String))
            .description(Some(
                "`daily`, `weekly`, `monthly`, `yearly`, `every N days|weeks|months|years`, \
                 `every weekday`, `every monday,wednesday`, or an RFC 5545 rule; at most daily.",
            ))
            .min_length(Some(1))
            .max_length(Some(500))
            .examples([
                serde_json::json!("weekly"),
                serde_json::json!("every 2 weeks"),
                serde_json::json!("FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10"),
            ])
            .build()
    }
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl TaskInput {
    pub fn into_new_task(self) -> Result<NewTask, ApiError> {
        if self.completed.is_some() {
            return Err(ApiError::validation(
                "completed",
                "a task is created open; complete it with PATCH .../complete",
            ));
        }
        let title = Title::parse(
            self.title
                .flatten()
                .as_deref()
                .ok_or_else(|| ApiError::validation("title", "title is required"))?,
        )?;
        let due_at = self
            .due_at
            .flatten()
            .map(|s| parse_timestamp("due_at", &s))
            .transpose()?;
        let reminder_minutes = self
            .reminder_minutes
            .flatten()
            .map(parse_reminder_minutes)
            .transpose()?;
        if reminder_minutes.is_some() && due_at.is_none() {
            return Err(ApiError::validation(
                "reminder_minutes",
                "a reminder needs a due date (due_at)",
            ));
        }
        let task = NewTask {
            title,
            description: Description::parse(self.description.flatten().as_deref().unwrap_or(""))?,
            priority: self
                .priority
                .flatten()
                .as_ref()
                .map(priority)
                .transpose()?
                .unwrap_or(Priority::DEFAULT),
            tags: TagName::parse_list(&self.tags.flatten().unwrap_or_default())?,
            due_at,
            reminder_minutes,
            recurrence: self
                .recurrence
                .flatten()
                .as_deref()
                .map(recurrence)
                .transpose()?,
            timezone: self
                .timezone
                .flatten()
                .as_deref()
                .map(Timezone::parse)
                .transpose()?
                .unwrap_or(Timezone::UTC),
            recurrence_parent_id: None,
            recurrence_depth: 0,
            recurrence_anchor: None,
        };
        task.check_series(crate::domain::now())?;
        Ok(task)
    }

    pub fn into_patch(self) -> Result<TaskPatch, ApiError> {
        let patch = TaskPatch {
            title: match self.title {
                None => None,
                Some(None) => return Err(ApiError::validation("title", "title cannot be null")),
                Some(Some(t)) => Some(Title::parse(&t)?),
            },
            description: self
                .description
                .map(|d| Description::parse(d.as_deref().unwrap_or("")))
                .transpose()?,
            priority: match &self.priority {
                None => None,
                Some(None) => {
                    return Err(ApiError::validation("priority", "priority cannot be null"))
                }
                Some(Some(v)) => Some(priority(v)?),
            },
            tags: self
                .tags
                .map(|t| TagName::parse_list(&t.unwrap_or_default()))
                .transpose()?,
            due_at: self
                .due_at
                .map(|d| d.map(|s| parse_timestamp("due_at", &s)).transpose())
                .transpose()?,
            reminder_minutes: self
                .reminder_minutes
                .map(|m| m.map(parse_reminder_minutes).transpose())
                .transpose()?,
            recurrence: self
                .recurrence
                .map(|r| r.as_deref().map(recurrence).transpose())
                .transpose()?,
            timezone: match self.timezone {
                None => None,
                Some(None) => {
                    return Err(ApiError::validation("timezone", "timezone cannot be null"))
                }
                Some(Some(tz)) => Some(Timezone::parse(&tz)?),
            },
            completed: self.completed,
        };
        if patch.is_empty() {
            return Err(ApiError::validation("body", "the update changes no field"));
        }
        Ok(patch)
    }
}

fn priority(value: &Value) -> Result<Priority, ApiError> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(ApiError::validation(
                "priority",
                "priority must be a string such as \"P1\" or \"high\"",
            ))
        }
    };
    Priority::parse(&text).map_err(|m| ApiError::validation("priority", m))
}

fn recurrence(s: &str) -> Result<Recurrence, ApiError> {
    Recurrence::parse(s).map_err(|m| ApiError::validation("recurrence", m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::extract::parse_json;

    fn input(json: &str) -> TaskInput {
        parse_json(json.as_bytes()).unwrap()
    }

    fn field(err: ApiError) -> String {
        match err {
            ApiError::Validation { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_defaults() {
        let t = input(r#"{"title":"  Buy milk "}"#).into_new_task().unwrap();
        assert_eq!(t.title.as_str(), "Buy milk");
        assert_eq!(t.priority, Priority::DEFAULT);
        assert!(t.tags.is_empty() && t.due_at.is_none() && t.recurrence.is_none());
        assert_eq!(t.timezone.name(), "UTC");
    }

    #[test]
    fn create_errors_name_fields() {
        for (json, want) in [
            (r#"{}"#, "title"),
            (r#"{"title":""}"#, "title"),
            (r#"{"title":"x","priority":"P7"}"#, "priority"),
            (r#"{"title":"x","due_at":"next week"}"#, "due_at"),
            (r#"{"title":"x","reminder_minutes":10}"#, "reminder_minutes"),
            (
                r#"{"title":"x","due_at":"2026-12-01T00:00:00Z","reminder_minutes":-1}"#,
                "reminder_minutes",
            ),
            (r#"{"title":"x","recurrence":"sometimes"}"#, "recurrence"),
            (r#"{"title":"x","timezone":"Nowhere/Else"}"#, "timezone"),
            (r#"{"title":"x","completed":true}"#, "completed"),
        ] {
            assert_eq!(
                field(input(json).into_new_task().unwrap_err()),
                want,
                "{json}"
            );
        }
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let p = input(r#"{"due_at":null,"title":"t"}"#)
            .into_patch()
            .unwrap();
        assert_eq!(p.due_at, Some(None));
        assert!(p.reminder_minutes.is_none());
        assert_eq!(field(input("{}").into_patch().unwrap_err()), "body");
        assert_eq!(
            field(input(r#"{"priority":null}"#).into_patch().unwrap_err()),
            "priority"
        );
    }
}
