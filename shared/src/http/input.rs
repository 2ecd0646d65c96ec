//! The task JSON a client sends, for create (`POST`) and update (`PUT`/`PATCH`), and its
//! validation into the domain's `NewTask` / `TaskPatch`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::domain::{
    parse_reminder_minutes, parse_timestamp, Description, NewTask, Priority, Recurrence, TagName,
    TaskPatch, Timezone, Title,
};
use crate::http::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    #[serde(default, deserialize_with = "nullable")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    /// "P1".."P4", "urgent|high|medium|low" or 1..4.
    #[serde(default, deserialize_with = "nullable")]
    pub priority: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub due_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub reminder_minutes: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub recurrence: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub timezone: Option<Option<String>>,
    #[serde(default)]
    pub completed: Option<bool>,
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
        // A series that would end at its first task is a mistake worth saying at once.
        if let (Some(rule), Some(due)) = (&task.recurrence, task.due_at) {
            rule.check_start(task.timezone.tz(), due)
                .map_err(|m| ApiError::validation("recurrence", m))?;
        }
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
