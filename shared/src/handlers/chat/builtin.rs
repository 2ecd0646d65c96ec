//! The built-in assistant: needs no model, so the chat works out of the box and offline.
//! It reads a sentence with `assistant::parse` and carries it out with the MCP tools, as
//! the user. A task named by a number is a row of the last list shown; one named by words
//! must be the only match, or it asks which (it never guesses a destructive action); a
//! number alone answers that question.

use async_trait::async_trait;
use chrono::DateTime;
use serde_json::{json, Value};
use uuid::Uuid;

use super::tools::{error_message, Tools};
use super::{Assistant, Reply, Turn};
use crate::assistant::{self, Command, Context, Target};
use crate::domain::conversation::Role;
use crate::http::ApiError;

/// How "which one?" is asked, so that a number alone can answer it.
const WHICH_ONE: &str = "which one? Answer with its number";

const HELP: &str = "I can add, list, find, complete, reopen, delete, reschedule and rename your \
tasks. Try: “add pay rent every month on the 1st at 9am p1 #home remind me 1 hour before”, \
“what's due today”, “show #work tasks”, “find dentist”, “done with pay rent”, “complete 2”, \
“move dentist to friday 10am”, “rename 3 to call the bank”.";

pub struct BuiltIn;

#[async_trait]
impl Assistant for BuiltIn {
    async fn reply(&self, turn: Turn<'_>, tools: &Tools) -> Result<Reply, ApiError> {
        let context = Context {
            now: turn.now,
            timezone: turn.timezone.tz(),
        };
        let command = match answered(&turn, &context, tools).await? {
            Some(Answer::Command(command)) => command,
            Some(Answer::Again(question)) => {
                return Ok(Reply {
                    text: question,
                    last_list: None,
                })
            }
            None => assistant::parse(turn.message, &context),
        };
        let said = |text: String| {
            Ok(Reply {
                text,
                last_list: None,
            })
        };
        match command {
            Command::Help => said(HELP.into()),
            Command::NotUnderstood {
                understood,
                example,
            } => said(format!(
                "I'm not sure what to do with that (I understood: {understood}). Try: “{example}”."
            )),
            Command::Add { arguments } => match tools.call("add_task", arguments).await? {
                Ok(task) => said(format!("Added {}.", assistant::task_line(&task, &context))),
                Err(error) => said(format!("I couldn't add that: {}.", error_message(&error))),
            },
            Command::List { arguments, what } => match tools.call("list_tasks", arguments).await? {
                Ok(page) => Ok(listing(&page, &what, &context)),
                Err(error) => said(format!("I couldn't list them: {}.", error_message(&error))),
            },
            Command::Complete(target) => {
                act(tools, &turn, &context, target, Action::Complete).await
            }
            Command::Reopen(target) => act(tools, &turn, &context, target, Action::Reopen).await,
            Command::Delete(target) => act(tools, &turn, &context, target, Action::Delete).await,
            Command::Reschedule {
                target,
                due_at,
                keep,
            } => {
                act(
                    tools,
                    &turn,
                    &context,
                    target,
                    Action::Reschedule(due_at, keep),
                )
                .await
            }
            Command::Rename { target, title, or } => {
                let (target, title) = reading(tools, target, title, or).await?;
                act(tools, &turn, &context, target, Action::Rename(title)).await
            }
        }
    }
}

/// What to do with the one task a sentence names.
enum Action {
    Complete,
    Reopen,
    Delete,
    Reschedule(DateTime<chrono::Utc>, assistant::Keep),
    Rename(String),
}

impl Action {
    /// How to ask for this by a number of a list, for the question "which one?".
    fn by_number(&self) -> &'static str {
        match self {
            Action::Complete => "complete 1",
            Action::Reopen => "reopen 1",
            Action::Delete => "delete 1",
            Action::Reschedule(..) => "move 1 to …",
            Action::Rename(_) => "rename 1 to …",
        }
    }

    /// The tasks worth looking among for words of a title.
    fn status(&self) -> &'static str {
        match self {
            Action::Complete | Action::Reschedule(..) | Action::Rename(_) => "pending",
            Action::Reopen => "completed",
            Action::Delete => "all",
        }
    }

    fn tool(&self, id: Uuid) -> (&'static str, Value) {
        match self {
            Action::Complete => ("complete_task", json!({"task_id": id, "completed": true})),
            Action::Reopen => ("complete_task", json!({"task_id": id, "completed": false})),
            Action::Delete => ("delete_task", json!({"task_id": id})),
            Action::Reschedule(due_at, _) => {
                ("update_task", json!({"task_id": id, "due_at": due_at}))
            }
            Action::Rename(title) => ("update_task", json!({"task_id": id, "title": title})),
        }
    }

    fn done(&self, title: &str, task: &Value, context: &Context) -> String {
        match self {
            Action::Complete if task["status"] == "already completed" => {
                format!("“{title}” was already done.")
            }
            Action::Reopen if task["status"] == "already open" => {
                format!("“{title}” was already open.")
            }
            Action::Complete => format!("Done: “{title}”."),
            Action::Reopen => format!("Reopened “{title}”."),
            Action::Delete => format!("Deleted “{title}”."),
            Action::Reschedule(..) => {
                format!("Moved {}.", assistant::task_line(&task["task"], context))
            }
            Action::Rename(_) => format!("Renamed it to “{title}”."),
        }
    }
}

/// `words` as a search for those words: each quoted, so that what the person typed is never
/// read as the search's operators (`or`, `-word`).
fn as_words(words: &str) -> String {
    words
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Of the readings of a rename with several "to"s, the one whose words are the whole title
/// of one of the tasks the shortest reading finds; else the first.
async fn reading(
    tools: &Tools,
    target: Target,
    title: String,
    or: Vec<(String, String)>,
) -> Result<(Target, String), ApiError> {
    let Target::Words(first) = &target else {
        return Ok((target, title));
    };
    if or.is_empty() {
        return Ok((target, title));
    }
    let found = tools
        .call(
            "list_tasks",
            json!({"search": as_words(first), "status": "pending", "page_size": 50}),
        )
        .await?;
    let normal = |text: &str| {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let titles: Vec<String> = found
        .ok()
        .and_then(|page| page["items"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t["title"].as_str().map(normal))
        .collect();
    let mut readings: Vec<(String, String)> =
        std::iter::once((first.clone(), title)).chain(or).collect();
    let chosen = readings
        .iter()
        .position(|(words, _)| titles.contains(&normal(words)))
        .unwrap_or(0);
    let (words, title) = readings.swap_remove(chosen);
    Ok((Target::Words(words), title))
}

/// When this message is a number alone and the reply before it asked "which one?": the
/// sentence that was asked about, as read then, for that task of the list shown with the
/// question. A number past the list is asked about again, and the next answer still counts.
async fn answered(
    turn: &Turn<'_>,
    context: &Context,
    tools: &Tools,
) -> Result<Option<Answer>, ApiError> {
    let Some(n) = assistant::choice(turn.message) else {
        return Ok(None);
    };
    // Back past earlier answers that were asked again, to the sentence itself.
    let mut history = turn.history;
    let asked = loop {
        let [earlier @ .., asked, question] = history else {
            return Ok(None);
        };
        let was_asked = asked.role == Role::User
            && question.role == Role::Assistant
            && question
                .content
                .lines()
                .next()
                .is_some_and(|line| line.contains(WHICH_ONE));
        if !was_asked {
            return Ok(None);
        }
        if assistant::choice(&asked.content).is_none() {
            break asked;
        }
        history = earlier;
    };
    if n > turn.last_list.len() {
        return Ok(Some(Answer::Again(format!(
            "There is no number {n} in that list; {WHICH_ONE} (1 to {}).",
            turn.last_list.len()
        ))));
    }
    let then = Context {
        now: asked.at,
        ..*context
    };
    let command = match assistant::parse(&asked.content, &then) {
        Command::Rename { target, title, or } => {
            let (target, title) = reading(tools, target, title, or).await?;
            Command::Rename {
                target,
                title,
                or: Vec::new(),
            }
        }
        command => command,
    };
    Ok(command.on_number(n).map(Answer::Command))
}

/// What a number alone answers to a "which one?".
enum Answer {
    Command(Command),
    /// Past the list: the question again.
    Again(String),
}

/// Finds the one task `target` names, then does `action` to it.
async fn act(
    tools: &Tools,
    turn: &Turn<'_>,
    context: &Context,
    target: Target,
    action: Action,
) -> Result<Reply, ApiError> {
    let said = |text: String| {
        Ok(Reply {
            text,
            last_list: None,
        })
    };
    let id = match target {
        Target::Number(n) => match n.checked_sub(1).and_then(|i| turn.last_list.get(i)) {
            Some(id) => *id,
            None if turn.last_list.is_empty() => {
                return said(format!(
                    "I haven't shown you a list yet, so I don't know which task {n} is. Try “show my tasks” first."
                ))
            }
            None => {
                return said(format!(
                    "The last list had {} task(s); there is no number {n}.",
                    turn.last_list.len()
                ))
            }
        },
        Target::Words(words) => {
            let found = tools
                .call(
                    "list_tasks",
                    json!({"search": as_words(&words), "status": action.status(), "sort_by": "due_at", "page_size": 10}),
                )
                .await?;
            let page = match found {
                Ok(page) => page,
                Err(error) => return said(format!("I couldn't look for it: {}.", error_message(&error))),
            };
            let items = page["items"].as_array().cloned().unwrap_or_default();
            // Only a task whose title says the words is acted on without asking; one that
            // mentions them elsewhere (its description, a tag) is only offered.
            let titled: Vec<Value> = items
                .iter()
                .filter(|t| assistant::title_says(t["title"].as_str().unwrap_or(""), &words))
                .cloned()
                .collect();
            let ask = |page: &Value, question: String| {
                let mut reply = listing(page, &format!("tasks matching “{words}”"), context);
                reply.text = format!("{question}\n{}", reply.text);
                Ok(reply)
            };
            match titled.as_slice() {
                [one] => match one["id"].as_str().and_then(|id| Uuid::parse_str(id).ok()) {
                    Some(id) => id,
                    None => return said("I couldn't read that task's id.".into()),
                },
                [] if items.is_empty() => {
                    return said(format!("I couldn't find a task matching “{words}”."))
                }
                [] => {
                    return ask(
                        &page,
                        format!(
                            "No task's title says “{words}”, but these mention it; {WHICH_ONE} (e.g. “{}”).",
                            action.by_number()
                        ),
                    )
                }
                several => {
                    let titled_page = json!({"items": several, "total_count": several.len()});
                    // Only a page of matches was looked at: there may be more.
                    let more = page["total_count"]
                        .as_u64()
                        .is_some_and(|total| total > items.len() as u64);
                    let count = if more {
                        format!("More than {} tasks", several.len())
                    } else {
                        format!("{} tasks", several.len())
                    };
                    let narrow = if more { " or say more of its title" } else { "" };
                    return ask(
                        &titled_page,
                        format!(
                            "{count} match “{words}”; {WHICH_ONE} (e.g. “{}”){narrow}.",
                            action.by_number()
                        ),
                    );
                }
            }
        }
    };
    // A move that keeps the task's own day or time needs its due date.
    let action = match action {
        Action::Reschedule(due_at, keep) if keep != assistant::Keep::Nothing => {
            let task_due = match tools.call("get_task", json!({"task_id": id})).await? {
                Ok(task) => task["due_at"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&chrono::Utc)),
                Err(error) => {
                    return said(format!("I couldn't do that: {}.", error_message(&error)))
                }
            };
            Action::Reschedule(assistant::moved(due_at, keep, task_due, context), keep)
        }
        action => action,
    };
    let (tool, arguments) = action.tool(id);
    match tools.call(tool, arguments).await? {
        Ok(outcome) => {
            let title = outcome["title"].as_str().unwrap_or("the task").to_owned();
            said(action.done(&title, &outcome, context))
        }
        Err(error) => said(format!("I couldn't do that: {}.", error_message(&error))),
    }
}

/// A page of tasks as a numbered list (the numbers "complete 2" refers to).
fn listing(page: &Value, what: &str, context: &Context) -> Reply {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        // "No tasks due today.", and "No tasks." rather than "No your tasks."
        return Reply {
            text: format!("No {}.", what.strip_prefix("your ").unwrap_or(what)),
            last_list: Some(Vec::new()),
        };
    }
    let total = page["total_count"].as_u64().unwrap_or(items.len() as u64);
    let more = if page["total_count_exact"] == json!(false) {
        "+"
    } else {
        ""
    };
    // "Your tasks (3):", "Overdue tasks (20 of 41):", whatever the phrase.
    let shown = items.len() as u64;
    let count = if shown < total {
        format!("{shown} of {total}{more}")
    } else {
        format!("{total}{more}")
    };
    let mut first = what.chars();
    let what: String = first
        .next()
        .map(|c| c.to_uppercase().chain(first).collect())
        .unwrap_or_default();
    let mut text = format!("{what} ({count}):");
    let mut ids = Vec::new();
    for (i, task) in items.iter().enumerate() {
        text.push_str(&format!(
            "\n{}. {}",
            i + 1,
            assistant::task_line(task, context)
        ));
        if let Some(id) = task["id"].as_str().and_then(|id| Uuid::parse_str(id).ok()) {
            ids.push(id);
        }
    }
    Reply {
        text,
        last_list: Some(ids),
    }
}
