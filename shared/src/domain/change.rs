//! How a task changes: the one place that sets its derived fields, for every backend.
//!
//! - `remind_at` is `due_at` minus `reminder_minutes` (when both are set);
//! - `completed_at` is the time of completion, cleared on reopening;
//! - a reminder whose time moves is re-armed (`reminder_sent_at` cleared); completing a task
//!   disarms it (`armed_reminder`);
//! - `updated_at` moves only when a field the user edits changes, and a change that changes
//!   none of them is no change at all (no write, no event);
//! - the next occurrence of a completed recurring task (`next_occurrence`), and a series
//!   that would end with its first task, or that asks for more tasks than a series has,
//!   refused (`check_series`).
//!
//! Every rule takes the time as an argument, so the rules are pure and tested without a
//! clock or a database.

use chrono::{DateTime, Duration, DurationRound, Utc};
use uuid::Uuid;

use super::{Invalid, NewTask, Recurrence, Task, TaskPatch, Timezone};

/// A recurring series stops after this many occurrences.
pub const MAX_RECURRENCE_DEPTH: i32 = 1000;

/// The time as tasks keep it: to the microsecond, the precision every backend stores, so a
/// task reads back exactly as it was written.
pub fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// `at` to the microsecond (see `now`).
pub fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::microseconds(1)).unwrap_or(at)
}

/// A change of a task, as the store commits it and the events module announces it.
#[derive(Debug, Clone, Copy)]
pub enum TaskChange<'a> {
    Created(&'a Task),
    Updated { before: &'a Task, after: &'a Task },
    Deleted(&'a Task),
}

impl NewTask {
    /// Refuses a recurring task whose series would end with it (`check_series`).
    pub fn check_series(&self, now: DateTime<Utc>) -> Result<(), Invalid> {
        check_series(self.recurrence.as_ref(), &self.timezone, self.due_at, now)
    }
}

/// A recurring series that would end with the task it starts from, never repeating, is a
/// mistake worth saying at once: when the task is made, and when a change sets its rule,
/// due date or time zone. With a due date the rule must give a later one
/// (`Recurrence::check_start`); without, the task recurs from its completion, so only an
/// UNTIL already past is sure to end it (`Recurrence::check_undated`).
fn check_series(
    rule: Option<&Recurrence>,
    timezone: &Timezone,
    due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), Invalid> {
    let Some(rule) = rule else {
        return Ok(());
    };
    rule.check_count()
        .and_then(|()| match due_at {
            Some(due) => rule.check_start(timezone.tz(), due),
            None => rule.check_undated(now),
        })
        .map_err(|message| Invalid::new("recurrence", message))
}

impl Task {
    /// The task `new` of `user_id`, created at `now` with id `id`.
    pub fn create(id: Uuid, user_id: &str, new: NewTask, now: DateTime<Utc>) -> Task {
        Task {
            id,
            user_id: user_id.to_owned(),
            remind_at: remind_at(new.due_at, new.reminder_minutes),
            title: new.title,
            description: new.description,
            completed: false,
            completed_at: None,
            priority: new.priority,
            tags: new.tags,
            due_at: new.due_at,
            reminder_minutes: new.reminder_minutes,
            reminder_sent_at: None,
            recurrence: new.recurrence,
            timezone: new.timezone,
            recurrence_parent_id: new.recurrence_parent_id,
            recurrence_depth: new.recurrence_depth,
            recurrence_anchor: new.recurrence_anchor,
            created_at: now,
            updated_at: now,
        }
    }

    /// The task after `patch` at `now`; `None` when it changes nothing. A reminder needs a
    /// due date, whichever of the two the patch touches.
    pub fn apply(&self, patch: &TaskPatch, now: DateTime<Utc>) -> Result<Option<Task>, Invalid> {
        let mut next = self.clone();
        if let Some(title) = &patch.title {
            next.title = title.clone();
        }
        if let Some(description) = &patch.description {
            next.description = description.clone();
        }
        if let Some(priority) = patch.priority {
            next.priority = priority;
        }
        if let Some(tags) = &patch.tags {
            next.tags = tags.clone();
        }
        if let Some(due_at) = patch.due_at {
            next.due_at = due_at;
        }
        if let Some(minutes) = patch.reminder_minutes {
            next.reminder_minutes = minutes;
        }
        // A new rule starts a new series at this task: its dates, COUNT included, are counted
        // from here.
        let new_rule = patch
            .recurrence
            .as_ref()
            .is_some_and(|rule| *rule != self.recurrence);
        if let Some(recurrence) = &patch.recurrence {
            next.recurrence = recurrence.clone();
        }
        if new_rule {
            next.recurrence_anchor = None;
        }
        if let Some(timezone) = &patch.timezone {
            next.timezone = timezone.clone();
        }
        if let Some(completed) = patch.completed {
            next.completed = completed;
        }
        if next.reminder_minutes.is_some() && next.due_at.is_none() {
            return Err(Invalid::new(
                "reminder_minutes",
                "a reminder needs a due date (due_at)",
            ));
        }
        // A later task of a series may be moved past the series' end: it is its last then.
        let starts_series = new_rule || self.recurrence_depth == 0;
        if starts_series
            && (patch.recurrence.is_some() || patch.due_at.is_some() || patch.timezone.is_some())
        {
            check_series(next.recurrence.as_ref(), &next.timezone, next.due_at, now)?;
        }
        Ok(self.settle(next, now))
    }

    /// The task completed (`Some(true)`), reopened (`Some(false)`) or toggled (`None`) at
    /// `now`; `None` when it already is what was asked.
    pub fn set_completed(&self, completed: Option<bool>, now: DateTime<Utc>) -> Option<Task> {
        let mut next = self.clone();
        next.completed = completed.unwrap_or(!self.completed);
        self.settle(next, now)
    }

    /// `next` with its derived fields set, or `None` when no edited field differs from this
    /// task's.
    fn settle(&self, mut next: Task, now: DateTime<Utc>) -> Option<Task> {
        if next.same_edits(self) {
            return None;
        }
        next.remind_at = remind_at(next.due_at, next.reminder_minutes);
        if next.completed != self.completed {
            next.completed_at = next.completed.then_some(now);
        }
        if next.remind_at != self.remind_at {
            next.reminder_sent_at = None;
        }
        next.updated_at = now;
        Some(next)
    }

    /// Whether the fields a user edits are the same in both.
    fn same_edits(&self, other: &Task) -> bool {
        self.title == other.title
            && self.description == other.description
            && self.priority == other.priority
            && self.tags == other.tags
            && self.due_at == other.due_at
            && self.reminder_minutes == other.reminder_minutes
            && self.recurrence == other.recurrence
            && self.timezone == other.timezone
            && self.completed == other.completed
    }

    /// When this task's reminder is due, while it is armed: it has a time, has not been
    /// sent, and the task is open.
    pub fn armed_reminder(&self) -> Option<DateTime<Utc>> {
        self.remind_at
            .filter(|_| self.reminder_sent_at.is_none() && !self.completed)
    }

    /// The task with its reminder sent at `now` (bookkeeping: `updated_at` stays).
    pub fn reminded(&self, now: DateTime<Utc>) -> Task {
        Task {
            reminder_sent_at: Some(now),
            ..self.clone()
        }
    }

    /// The next occurrence of this task, completed at `completed_at` (its `completed_at`,
    /// or the time of the event that said so): same title, description, priority, tags,
    /// rule, time zone and reminder offset; due date moved by the rule; this task as its
    /// parent; one deeper. `None` when it does not recur: no rule, not completed, the series
    /// ended (COUNT, UNTIL, the last supported year) or reached `MAX_RECURRENCE_DEPTH`.
    pub fn next_occurrence(&self, completed_at: DateTime<Utc>) -> Option<NewTask> {
        let rule = self.recurrence.as_ref().filter(|_| self.completed)?;
        if self.recurrence_depth >= MAX_RECURRENCE_DEPTH {
            return None;
        }
        let completed_at = self.completed_at.unwrap_or(completed_at);
        let anchor = self
            .recurrence_anchor
            .or(self.due_at)
            .unwrap_or(completed_at);
        let due_at = rule.next_due(self.timezone.tz(), anchor, self.due_at, completed_at)?;
        Some(NewTask {
            title: self.title.clone(),
            description: self.description.clone(),
            priority: self.priority,
            tags: self.tags.clone(),
            due_at: Some(due_at),
            reminder_minutes: self.reminder_minutes,
            recurrence: Some(rule.clone()),
            timezone: self.timezone.clone(),
            recurrence_parent_id: Some(self.id),
            recurrence_depth: self.recurrence_depth + 1,
            recurrence_anchor: Some(anchor),
        })
    }

    /// The text a search matches, by weight: the title first, then the tags, then the
    /// description (each backend indexes it in its own way).
    pub fn search_document(&self) -> SearchDocument<'_> {
        SearchDocument {
            title: self.title.as_str(),
            tags: self
                .tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            description: self.description.as_str(),
        }
    }
}

/// A task's searchable text (`Task::search_document`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDocument<'a> {
    pub title: &'a str,
    /// The tag names, separated by spaces.
    pub tags: String,
    pub description: &'a str,
}

/// `due_at` less `reminder_minutes`, when both are set.
fn remind_at(due_at: Option<DateTime<Utc>>, minutes: Option<i32>) -> Option<DateTime<Utc>> {
    Some(due_at? - Duration::minutes(minutes?.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Description, Priority, Recurrence, TagName, Timezone, Title};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn new_task() -> NewTask {
        NewTask {
            title: Title::parse("water plants").unwrap(),
            description: Description::default(),
            priority: Priority::DEFAULT,
            tags: vec![TagName::parse("home").unwrap()],
            due_at: Some(at("2026-12-01T09:00:00Z")),
            reminder_minutes: Some(30),
            recurrence: Some(Recurrence::parse("weekly").unwrap()),
            timezone: Timezone::UTC,
            recurrence_parent_id: None,
            recurrence_depth: 0,
            recurrence_anchor: None,
        }
    }

    fn task() -> Task {
        Task::create(Uuid::nil(), "alice", new_task(), at("2026-11-30T10:00:00Z"))
    }

    #[test]
    fn a_new_task_is_open_with_its_reminder_armed() {
        let t = task();
        assert_eq!(t.remind_at, Some(at("2026-12-01T08:30:00Z")));
        assert_eq!(t.armed_reminder(), t.remind_at);
        assert!(!t.completed && t.completed_at.is_none());
        assert_eq!((t.created_at, t.updated_at), (t.created_at, t.created_at));
    }

    #[test]
    fn completing_sets_completed_at_and_disarms_reopening_clears_it() {
        let now = at("2026-11-30T11:00:00Z");
        let done = task().set_completed(None, now).unwrap();
        assert_eq!((done.completed, done.completed_at), (true, Some(now)));
        assert_eq!(
            done.armed_reminder(),
            None,
            "a completed task never reminds"
        );
        assert_eq!(done.updated_at, now);
        assert!(done.set_completed(Some(true), now).is_none(), "no change");
        let later = at("2026-11-30T12:00:00Z");
        let open = done.set_completed(Some(false), later).unwrap();
        assert_eq!((open.completed, open.completed_at), (false, None));
        assert_eq!(open.armed_reminder(), open.remind_at, "armed again");
    }

    #[test]
    fn moving_the_reminder_rearms_it_and_other_edits_do_not() {
        let now = at("2026-12-01T08:31:00Z");
        let sent = task().reminded(now);
        assert_eq!(sent.armed_reminder(), None);
        assert_eq!(sent.updated_at, task().updated_at, "bookkeeping only");
        let renamed = sent
            .apply(
                &TaskPatch {
                    title: Some(Title::parse("water all plants").unwrap()),
                    ..Default::default()
                },
                now,
            )
            .unwrap()
            .unwrap();
        assert_eq!(renamed.reminder_sent_at, Some(now), "still sent");
        let moved = sent
            .apply(
                &TaskPatch {
                    due_at: Some(Some(at("2026-12-02T09:00:00Z"))),
                    ..Default::default()
                },
                now,
            )
            .unwrap()
            .unwrap();
        assert_eq!(moved.remind_at, Some(at("2026-12-02T08:30:00Z")));
        assert_eq!(moved.armed_reminder(), moved.remind_at, "re-armed");
    }

    #[test]
    fn a_patch_to_the_same_values_is_no_change() {
        let t = task();
        let same = TaskPatch {
            title: Some(t.title.clone()),
            tags: Some(t.tags.clone()),
            priority: Some(t.priority),
            completed: Some(false),
            ..Default::default()
        };
        assert_eq!(t.apply(&same, at("2026-12-24T00:00:00Z")).unwrap(), None);
    }

    #[test]
    fn a_reminder_needs_a_due_date() {
        let clear_due = TaskPatch {
            due_at: Some(None),
            ..Default::default()
        };
        let err = task().apply(&clear_due, Utc::now()).unwrap_err();
        assert_eq!(err.field, "reminder_minutes");
        let clear_both = TaskPatch {
            due_at: Some(None),
            reminder_minutes: Some(None),
            ..Default::default()
        };
        let cleared = task().apply(&clear_both, Utc::now()).unwrap().unwrap();
        assert_eq!((cleared.remind_at, cleared.armed_reminder()), (None, None));
    }

    #[test]
    fn a_series_that_would_end_with_its_task_is_refused_when_made_or_changed() {
        let now = at("2026-11-30T10:00:00Z");
        let rule = |r: &str| Some(Some(Recurrence::parse(r).unwrap()));
        // The task is due 2026-12-01 and repeats weekly.
        for patch in [
            TaskPatch {
                recurrence: rule("FREQ=DAILY;UNTIL=20200101T000000Z"),
                ..Default::default()
            },
            TaskPatch {
                recurrence: rule("FREQ=DAILY;COUNT=1"),
                ..Default::default()
            },
            TaskPatch {
                due_at: Some(Some(at("9999-12-31T09:00:00Z"))),
                ..Default::default()
            },
        ] {
            let err = task().apply(&patch, now).unwrap_err();
            assert_eq!(err.field, "recurrence", "{patch:?}");
        }
        // Without a due date it recurs from its completion: only a past UNTIL is sure.
        let undated = TaskPatch {
            due_at: Some(None),
            reminder_minutes: Some(None),
            recurrence: rule("FREQ=DAILY;UNTIL=20261129T000000Z"),
            ..Default::default()
        };
        let err = task().apply(&undated, now).unwrap_err();
        assert!(err.message.contains("already past"), "{}", err.message);
        let later = TaskPatch {
            recurrence: rule("FREQ=DAILY;UNTIL=20261231T000000Z"),
            ..undated
        };
        assert!(task().apply(&later, now).unwrap().is_some());
        let mut new = new_task();
        (new.due_at, new.reminder_minutes) = (None, None);
        assert_eq!(new.check_series(now), Ok(()));
        new.recurrence = Some(Recurrence::parse("FREQ=DAILY;UNTIL=20200101T000000Z").unwrap());
        assert_eq!(new.check_series(now).unwrap_err().field, "recurrence");
        new.recurrence = Some(Recurrence::parse("FREQ=DAILY;COUNT=1").unwrap());
        assert_eq!(new.check_series(now).unwrap_err().field, "recurrence");
        // A change that leaves the rule, due date and time zone alone is not checked: the
        // last task of a finished series can still be renamed.
        let mut last = task();
        last.recurrence = Some(Recurrence::parse("FREQ=DAILY;UNTIL=20200101T000000Z").unwrap());
        let rename = TaskPatch {
            title: Some(Title::parse("water the plants").unwrap()),
            ..Default::default()
        };
        assert!(last.apply(&rename, now).unwrap().is_some());
        // A later task of the series may be moved past its end (it is the last then); the
        // series' first may not, nor may any task get a new rule that ends at once.
        let move_past = TaskPatch {
            due_at: Some(Some(at("2026-12-31T09:00:00Z"))),
            ..Default::default()
        };
        let mut first = task();
        first.recurrence = rule("FREQ=DAILY;UNTIL=20261215T000000Z").flatten();
        assert_eq!(
            first.apply(&move_past, now).unwrap_err().field,
            "recurrence"
        );
        let occurrence = Task {
            recurrence_depth: 3,
            ..first.clone()
        };
        assert!(occurrence.apply(&move_past, now).unwrap().is_some());
        let new_rule = TaskPatch {
            recurrence: rule("FREQ=DAILY;COUNT=1"),
            ..Default::default()
        };
        assert_eq!(
            occurrence.apply(&new_rule, now).unwrap_err().field,
            "recurrence"
        );
        // The same rule sent again is no new rule; a new one counts from this task.
        let same_rule = TaskPatch {
            recurrence: Some(occurrence.recurrence.clone()),
            ..move_past.clone()
        };
        assert!(occurrence.apply(&same_rule, now).unwrap().is_some());
        let later = Task {
            recurrence_anchor: Some(at("2026-11-20T09:00:00Z")),
            ..occurrence.clone()
        };
        let restarted = later
            .apply(
                &TaskPatch {
                    recurrence: rule("FREQ=DAILY;COUNT=3"),
                    ..Default::default()
                },
                now,
            )
            .unwrap()
            .unwrap();
        assert_eq!(restarted.recurrence_anchor, None);
        let done = restarted.set_completed(Some(true), now).unwrap();
        assert!(done.next_occurrence(now).is_some());
        // No more tasks than a series has.
        let mut many = new_task();
        many.recurrence = Some(Recurrence::parse("FREQ=DAILY;COUNT=1002").unwrap());
        let err = many.check_series(now).unwrap_err();
        assert!(err.message.contains("at most 1001"), "{}", err.message);
        many.recurrence = Some(Recurrence::parse("FREQ=DAILY;COUNT=1001").unwrap());
        assert_eq!(many.check_series(now), Ok(()));
    }

    #[test]
    fn the_next_occurrence_moves_the_due_date_by_the_rule() {
        let now = at("2026-12-01T10:00:00Z");
        let done = task().set_completed(Some(true), now).unwrap();
        let next = done.next_occurrence(now).unwrap();
        assert_eq!(next.due_at, Some(at("2026-12-08T09:00:00Z")));
        assert_eq!(next.recurrence_parent_id, Some(done.id));
        assert_eq!(next.recurrence_depth, 1);
        assert_eq!(next.recurrence_anchor, done.due_at);
        assert_eq!(next.reminder_minutes, Some(30));
        assert!(task().next_occurrence(now).is_none(), "only when completed");
        let deepest = Task {
            recurrence_depth: MAX_RECURRENCE_DEPTH,
            ..done
        };
        assert!(deepest.next_occurrence(now).is_none());
    }

    #[test]
    fn the_search_document_weighs_title_tags_description() {
        let t = task();
        let doc = t.search_document();
        assert_eq!((doc.title, doc.tags.as_str()), ("water plants", "home"));
    }
}
