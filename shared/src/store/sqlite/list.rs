//! Listing a user's tasks: the filters, the sorts and the total of a list query, with the
//! search matched in the FTS5 index (`search`).
//!
//! The total is what `Total::counted` makes of a count that stops one row past
//! `query.count_limit()`, as on PostgreSQL; a short page tells it without counting. The
//! page and its count are read in one transaction, so they agree.

use sqlx::{QueryBuilder, Sqlite};

use super::search::Search;
use super::{classify, micros, now_micros, task_from_row, SqliteStore, TASK_COLUMNS};
use crate::domain::{ListQuery, Page, SortBy, SortOrder, Status, Task, Total};
use crate::store::{StoreError, TagCount};

impl SqliteStore {
    /// The user's tags with their open-task counts (`TaskStore::list_tags`), read from the
    /// tasks' own tag arrays so that a tag counts exactly where a task shows it. Names sort
    /// in byte order (SQLite's `binary` collation), as PostgreSQL's do.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub(super) async fn tags(&self, user_id: &str) -> Result<Vec<TagCount>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "select tag.value as name, sum(tasks.completed = 0) as open_tasks \
             from tasks, json_each(tasks.tags) as tag \
             where tasks.user_id = ?1 \
             group by tag.value \
             order by open_tasks desc, name",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
        .map_err(classify)?;
        Ok(rows
            .into_iter()
            .map(|(name, open)| TagCount {
                name,
                open_tasks: open as u64,
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    pub(super) async fn list(
        &self,
        user_id: &str,
        query: &ListQuery,
    ) -> Result<Page<Task>, StoreError> {
        let filter = Filter {
            user_id,
            query,
            search: query.search.as_deref().map(Search::parse),
            now: now_micros(),
        };
        let mut tx = self.reader.begin().await.map_err(classify)?;
        let mut select = QueryBuilder::new(format!("select {TASK_COLUMNS} from tasks"));
        filter.push(&mut select);
        select.push(" order by ").push(order(query));
        select
            .push(" limit ")
            .push_bind(i64::from(query.page_size))
            .push(" offset ")
            .push_bind(i64::try_from(query.offset()).unwrap_or(i64::MAX));
        let items = select
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?
            .iter()
            .map(task_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // A short page tells the total without counting (unless it is past the end).
        let total = if !items.is_empty() && items.len() < query.page_size as usize {
            Total::Exact(query.offset() + items.len() as u64)
        } else if items.is_empty() && query.page == 1 {
            Total::Exact(0)
        } else {
            // Counts the matches up to `count_limit`: one more row than the limit proves
            // there are more.
            let limit = query.count_limit();
            let mut count = QueryBuilder::new("select count(*) from (select 1 from tasks");
            filter.push(&mut count);
            if let Some(limit) = limit {
                count
                    .push(" limit ")
                    .push_bind(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1));
            }
            count.push(")");
            let n: i64 = count
                .build_query_scalar()
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
            Total::counted(n.unsigned_abs(), limit)
        };
        tx.commit().await.map_err(classify)?;
        Ok(Page::new(items, total, query))
    }
}

/// The conditions of a list query.
struct Filter<'a> {
    user_id: &'a str,
    query: &'a ListQuery,
    search: Option<Search>,
    /// The current time (the overdue filter's), as stored.
    now: i64,
}

impl Filter<'_> {
    /// Pushes ` where ...`.
    fn push(&self, q: &mut QueryBuilder<'_, Sqlite>) {
        let query = self.query;
        q.push(" where user_id = ")
            .push_bind(self.user_id.to_owned());
        if let Some(search) = &self.search {
            push_search(q, search);
        }
        if !query.tags.is_empty() {
            let names: Vec<&str> = query.tags.iter().map(|t| t.as_str()).collect();
            q.push(
                " and id in (select l.task_id from task_tags l join tags g on g.id = l.tag_id \
                 where g.user_id = ",
            )
            .push_bind(self.user_id.to_owned())
            .push(" and g.name in (select value from json_each(")
            .push_bind(serde_json::Value::from(names).to_string())
            .push(")))");
        }
        match query.status {
            Status::All => {}
            Status::Pending => {
                q.push(" and not completed");
            }
            Status::Completed => {
                q.push(" and completed");
            }
        }
        if !query.priorities.is_empty() {
            q.push(" and priority in (");
            let mut levels = q.separated(", ");
            for priority in &query.priorities {
                levels.push_bind(priority.level());
            }
            q.push(")");
        }
        if let Some(before) = query.due_before {
            q.push(" and due_at < ").push_bind(micros(before));
        }
        if let Some(after) = query.due_after {
            q.push(" and due_at > ").push_bind(micros(after));
        }
        match query.overdue {
            None => {}
            Some(true) => {
                q.push(" and not completed and due_at < ")
                    .push_bind(self.now);
            }
            Some(false) => {
                q.push(" and (completed or due_at is null or due_at >= ")
                    .push_bind(self.now)
                    .push(")");
            }
        }
    }
}

/// The search condition: any group matches; a group by the FTS5 index's matches (those of
/// its included phrases less those of its excluded ones), or, with only exclusions, by
/// the tasks not among the matches of any of them. A search with nothing left in it
/// matches nothing (as an empty tsquery does on PostgreSQL).
fn push_search(q: &mut QueryBuilder<'_, Sqlite>, search: &Search) {
    if search.groups.is_empty() {
        q.push(" and false");
        return;
    }
    q.push(" and (");
    for (i, group) in search.groups.iter().enumerate() {
        if i > 0 {
            q.push(" or ");
        }
        let (test, expression) = match group.matching() {
            Some(matching) => ("seq in", matching),
            None => ("seq not in", group.excluded()),
        };
        q.push(test)
            .push(" (select rowid from tasks_fts where tasks_fts match ")
            .push_bind(expression)
            .push(")");
    }
    q.push(")");
}

/// The list's order, from an allow-list: the sort key in the query's direction, due dates
/// last in both directions, then id in the same direction, which breaks ties so pages never
/// overlap. (SQLite sorts nulls first: ascending, `due_at is null` puts them last;
/// descending, they come last anyway.)
fn order(query: &ListQuery) -> &'static str {
    use SortBy::*;
    use SortOrder::*;
    match (query.sort_by, query.sort_order) {
        (DueAt, Asc) => "due_at is null, due_at, id",
        (DueAt, Desc) => "due_at desc, id desc",
        (Priority, Asc) => "priority, id",
        (Priority, Desc) => "priority desc, id desc",
        (Title, Asc) => "title_key, id",
        (Title, Desc) => "title_key desc, id desc",
        (CreatedAt, Asc) => "created_at, id",
        (CreatedAt, Desc) => "created_at desc, id desc",
        (UpdatedAt, Asc) => "updated_at, id",
        (UpdatedAt, Desc) => "updated_at desc, id desc",
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use uuid::Uuid;

    use super::super::test_support::TempDb;
    use crate::domain::{
        Description, ListQuery, NewTask, Priority, TagName, Task, Total, COUNT_CAP,
    };
    use crate::store::TaskStore;

    struct Seed<'a> {
        title: &'a str,
        description: &'a str,
        tags: &'a [&'a str],
        priority: i16,
        due_in_hours: Option<i64>,
        completed: bool,
    }

    fn seed<'a>(title: &'a str) -> Seed<'a> {
        Seed {
            title,
            description: "",
            tags: &[],
            priority: 3,
            due_in_hours: None,
            completed: false,
        }
    }

    async fn store(db: &TempDb, user: &str, seeds: Vec<Seed<'_>>, now: DateTime<Utc>) -> Vec<Task> {
        let mut tasks = Vec::new();
        for s in seeds {
            let new = NewTask {
                description: Description::parse(s.description).unwrap(),
                priority: Priority::from_level(s.priority).unwrap(),
                tags: TagName::parse_list(
                    &s.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                )
                .unwrap(),
                due_at: s.due_in_hours.map(|h| now + Duration::hours(h)),
                ..NewTask::titled(s.title)
            };
            let mut task = Task::create(Uuid::new_v4(), user, new, now);
            if s.completed {
                task = task.set_completed(Some(true), now).unwrap();
            }
            db.store.create_task(&task, &|_| vec![]).await.unwrap();
            tasks.push(task);
        }
        tasks
    }

    async fn titles(db: &TempDb, user: &str, pairs: &[(&str, &str)]) -> Vec<String> {
        let query = ListQuery::parse(pairs.iter().copied()).unwrap();
        let page = db.store.list_tasks(user, &query).await.unwrap();
        page.items
            .iter()
            .map(|t| t.title.as_str().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn sorts_put_missing_due_dates_last_and_break_ties_on_id() {
        let db = TempDb::new().await;
        let now = crate::domain::now();
        let mut seeds = vec![];
        for (title, due, priority) in [
            ("b", Some(2), 1),
            ("Ä", None, 2),
            ("a", Some(1), 2),
            ("C", None, 1),
            ("é", Some(3), 4),
            ("Z", Some(-1), 4),
        ] {
            seeds.push(Seed {
                due_in_hours: due,
                priority,
                ..seed(title)
            });
        }
        let tasks = store(&db, "alice", seeds, now).await;
        assert_eq!(
            titles(&db, "alice", &[("sort_by", "due_at")]).await,
            ["Z", "a", "b", "é", "Ä", "C"]
                .iter()
                .take(4)
                .copied()
                .chain(nulls(&tasks, &["Ä", "C"], true))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            titles(
                &db,
                "alice",
                &[("sort_by", "due_at"), ("sort_order", "desc")]
            )
            .await,
            ["é", "b", "a", "Z"]
                .into_iter()
                .chain(nulls(&tasks, &["Ä", "C"], false))
                .collect::<Vec<_>>()
        );
        // Code point order of the lower-cased titles: a b c z, then ä (U+00E4), é (U+00E9).
        assert_eq!(
            titles(&db, "alice", &[("sort_by", "title")]).await,
            ["a", "b", "C", "Z", "Ä", "é"]
        );
        assert_eq!(
            titles(
                &db,
                "alice",
                &[("sort_by", "title"), ("sort_order", "desc")]
            )
            .await,
            ["é", "Ä", "Z", "C", "b", "a"]
        );
        let by_priority = titles(&db, "alice", &[("sort_by", "priority")]).await;
        assert_eq!(
            by_priority[..2]
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            2
        );
        let mut p1: Vec<&Task> = tasks.iter().filter(|t| t.priority.level() == 1).collect();
        p1.sort_by_key(|t| t.id);
        assert_eq!(
            by_priority[..2],
            [p1[0].title.as_str(), p1[1].title.as_str()],
            "ties by id"
        );
        // Same created_at for all: the id alone orders them.
        let mut by_id = tasks.clone();
        by_id.sort_by_key(|t| std::cmp::Reverse(t.id));
        let expected: Vec<&str> = by_id.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles(&db, "alice", &[]).await, expected);
    }

    /// The titles `names` in id order (ascending or not): how tasks with no due date tie.
    fn nulls<'a>(tasks: &'a [Task], names: &[&str], ascending: bool) -> Vec<&'a str> {
        let mut tied: Vec<&Task> = tasks
            .iter()
            .filter(|t| names.contains(&t.title.as_str()))
            .collect();
        tied.sort_by_key(|t| t.id);
        if !ascending {
            tied.reverse();
        }
        tied.iter().map(|t| t.title.as_str()).collect()
    }

    #[tokio::test]
    async fn filters_and_search_select_as_on_postgresql() {
        let db = TempDb::new().await;
        let now = crate::domain::now();
        store(
            &db,
            "alice",
            vec![
                Seed {
                    tags: &["home"],
                    description: "two litres of milk",
                    ..seed("Buy milk")
                },
                Seed {
                    tags: &["work"],
                    priority: 1,
                    due_in_hours: Some(-2),
                    ..seed("Call the bank")
                },
                Seed {
                    tags: &["work", "urgent"],
                    priority: 2,
                    due_in_hours: Some(5),
                    ..seed("Running report")
                },
                Seed {
                    completed: true,
                    due_in_hours: Some(-1),
                    ..seed("Bread and milk")
                },
                Seed {
                    description: "café au lait",
                    ..seed("Breakfast")
                },
            ],
            now,
        )
        .await;
        store(&db, "bob", vec![seed("Buy milk")], now).await;
        let set = |mut v: Vec<String>| {
            v.sort();
            v
        };
        for (pairs, expected) in [
            (vec![("search", "milk")], vec!["Bread and milk", "Buy milk"]),
            (vec![("search", "litre")], vec!["Buy milk"]), // stemmed, in the description
            (vec![("search", "urgent")], vec!["Running report"]), // a tag
            (vec![("search", "run")], vec!["Running report"]),
            (vec![("search", "milk -bread")], vec!["Buy milk"]),
            (
                vec![("search", "-milk")],
                vec!["Breakfast", "Call the bank", "Running report"],
            ),
            (vec![("search", "-milk -work")], vec!["Breakfast"]),
            (
                vec![("search", "bank or bread")],
                vec!["Bread and milk", "Call the bank"],
            ),
            (
                vec![("search", "report or -milk")],
                vec!["Breakfast", "Call the bank", "Running report"],
            ),
            (vec![("search", "\"buy milk\"")], vec!["Buy milk"]),
            (vec![("search", "\"milk buy\"")], vec![]),
            (vec![("search", "the")], vec![]),
            (vec![("search", "cafe")], vec![]), // accents kept, as PostgreSQL keeps them
            (vec![("search", "café")], vec!["Breakfast"]),
            (vec![("search", "\"NEAR\" OR x*")], vec![]),
            (
                vec![("tag", "work")],
                vec!["Call the bank", "Running report"],
            ),
            (
                vec![("tag", "home,urgent")],
                vec!["Buy milk", "Running report"],
            ),
            (vec![("status", "completed")], vec!["Bread and milk"]),
            (
                vec![("status", "pending"), ("search", "milk")],
                vec!["Buy milk"],
            ),
            (
                vec![("priority", "P1,P2")],
                vec!["Call the bank", "Running report"],
            ),
            (vec![("overdue", "true")], vec!["Call the bank"]),
            (
                vec![("overdue", "false"), ("tag", "work")],
                vec!["Running report"],
            ),
        ] {
            let got = set(titles(&db, "alice", &pairs).await);
            assert_eq!(
                got,
                set(expected.iter().map(|s| s.to_string()).collect()),
                "{pairs:?}"
            );
        }
        // Due dates: both bounds exclusive.
        let at = |h: i64| (now + Duration::hours(h)).to_rfc3339();
        let (before, after) = (at(5), at(-2));
        let got = titles(
            &db,
            "alice",
            &[("due_before", &before), ("due_after", &after)],
        )
        .await;
        assert_eq!(got, ["Bread and milk"]);
    }

    #[tokio::test]
    async fn totals_are_exact_up_to_the_cap_unless_asked_and_pages_tell_them() {
        let db = TempDb::new().await;
        let now = crate::domain::now();
        let n = COUNT_CAP as usize + 5;
        let seeds = (0..n).map(|_| seed("task")).collect();
        store(&db, "alice", seeds, now).await;
        let total = |pairs: &'static [(&'static str, &'static str)]| {
            let store = db.store.clone();
            async move {
                let page = store
                    .list_tasks("alice", &ListQuery::parse(pairs.iter().copied()).unwrap())
                    .await
                    .unwrap();
                (page.items.len(), page.total_count, page.total_count_exact)
            }
        };
        assert_eq!(total(&[]).await, (20, COUNT_CAP, false));
        assert_eq!(total(&[("count", "exact")]).await, (20, n as u64, true));
        assert_eq!(
            total(&[("page", "11"), ("page_size", "100")]).await,
            (5, n as u64, true)
        );
        assert_eq!(
            total(&[("page", "12"), ("page_size", "100")]).await,
            (0, n as u64, true)
        );
        assert_eq!(
            total(&[("search", "task"), ("page_size", "100")]).await,
            (100, COUNT_CAP, false)
        );
        assert_eq!(
            Total::counted(n as u64, Some(COUNT_CAP)),
            Total::AtLeast(COUNT_CAP),
            "the domain's rule, which the store follows"
        );
        assert_eq!(total(&[("search", "nothing")]).await, (0, 0, true));
    }

    #[tokio::test]
    async fn list_queries_use_the_user_indexes() {
        let db = TempDb::new().await;
        for (sort, order) in [
            ("due_at", "asc"),
            ("due_at", "desc"),
            ("title", "asc"),
            ("priority", "desc"),
            ("created_at", "desc"),
            ("updated_at", "asc"),
        ] {
            let query = ListQuery::parse([("sort_by", sort), ("sort_order", order)]).unwrap();
            let order = super::order(&query);
            let plan: Vec<String> = sqlx::query(&format!(
                "explain query plan select {} from tasks \
                 where user_id = 'alice' order by {order} limit 20",
                super::TASK_COLUMNS
            ))
            .fetch_all(db.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| sqlx::Row::get(row, "detail"))
            .collect();
            let plan = plan.join("; ");
            assert!(
                plan.contains("USING INDEX tasks_user_"),
                "{sort} {order}: {plan}"
            );
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{sort} {order} sorts: {plan}"
            );
        }
    }
}
