//! Listing a user's tasks: which indexes a list query can use, and the statements that
//! count and page it (see `list_tasks`).

use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::{classify, tag_names, task_from_row, PgStore, TASK_COLUMNS};
use crate::domain::{ListQuery, Page, SortBy, SortOrder, Status, Task, Total, COUNT_CAP};
use crate::store::{StoreError, TagCount};

impl PgStore {
    /// The user's tags with their open-task counts (`TaskStore::list_tags`), read from the
    /// tasks' own tag arrays so that a tag counts exactly where a task shows it. Names sort
    /// in byte order (`collate "C"`), as SQLite's do.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub(super) async fn tags(&self, user_id: &str) -> Result<Vec<TagCount>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "select tag, count(*) filter (where not completed) as open_tasks \
             from tasks cross join unnest(tags) as tag \
             where user_id = $1 \
             group by tag \
             order by open_tasks desc, tag collate \"C\"",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
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

    /// Word filters (search, tags) count first, through the (user, word) indexes, and the
    /// count picks how the page is read: up to `COUNT_CAP` matches (or up to `sorted_reach`,
    /// in the same pass as the count when the page lies within the cap, `count_and_page`),
    /// from those indexes and sorted; more, by walking the user's sort index and testing
    /// each row, which finds a page of a common word within a few hundred rows. The planner cannot
    /// choose between the two itself: it multiplies the word's selectivity (already one
    /// user's) by the user's share of the table, underestimates the matches by that share
    /// (10x for the benchmark's heavy user) and takes the sorted path for common words too
    /// (docs/BENCHMARKS.md, "user-keyed search"). For the same reason it cannot weigh a
    /// priority or due-date range against the word, so the store asks for the range's row
    /// estimate and ANDs the two indexes only when the range is narrow (`NARROW_USER_RANGE`).
    #[tracing::instrument(skip_all, fields(user_id))]
    pub(super) async fn list(
        &self,
        user_id: &str,
        query: &ListQuery,
    ) -> Result<Page<Task>, StoreError> {
        if Access::words_usable(query) {
            let words = if Access::user_range(query)
                && self.user_range_rows(user_id, query).await? <= NARROW_USER_RANGE
            {
                Access::WORD_AND_USER_INDEX
            } else {
                Access::WORD_INDEX
            };
            let (total, items) = if query.count_limit() == Some(COUNT_CAP) {
                self.count_and_page(user_id, query, words, sorted_reach(query))
                    .await?
            } else {
                let total = self.count_tasks(user_id, query, words).await?;
                let items = match total {
                    // No match, or the page starts past the last one: nothing to read.
                    Total::Exact(n) if n <= query.offset() => Some(Vec::new()),
                    Total::Exact(n) if n <= COUNT_CAP => {
                        Some(self.page_of_tasks(user_id, query, words).await?)
                    }
                    _ => None,
                };
                (total, items)
            };
            let items = match items {
                Some(items) => items,
                None => {
                    self.page_of_tasks(user_id, query, Access::USER_INDEX)
                        .await?
                }
            };
            return Ok(Page::new(items, total, query));
        }
        let items = self
            .page_of_tasks(user_id, query, Access::USER_INDEX)
            .await?;
        // A short page tells the total without counting (unless it is past the end).
        let total = if !items.is_empty() && items.len() < query.page_size as usize {
            Total::Exact(query.offset() + items.len() as u64)
        } else if items.is_empty() && query.page == 1 {
            Total::Exact(0)
        } else {
            self.count_tasks(user_id, query, Access::USER_INDEX).await?
        };
        Ok(Page::new(items, total, query))
    }
}

/// Which conditions of a list query are written so an index can serve them (see
/// `list_tasks`). The others are still applied, as `coalesce(<condition>, false)`: the same
/// test, opaque to the planner (it neither matches an index nor feeds the row estimate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Access {
    /// `user_id = $1`: the sort indexes, the covering count index.
    user: bool,
    /// The search and tag conditions: the (user, word) GIN indexes.
    words: bool,
}

/// How many matches `count_and_page` may read and sort for `query`'s page rather than walk
/// the user's sort index: past `COUNT_CAP` while that is the cheaper of the two. A match
/// read through the word index costs about what a row walked past in the sort index does,
/// so for a user of `HEAVY_USER_ROWS` tasks, a word of `m` matches costs `m` rows sorted
/// against `COUNT_CAP` counted and then `r · HEAVY_USER_ROWS / m` walked for a page ending
/// at row `r`; they break even at `m² − COUNT_CAP · m = r · HEAVY_USER_ROWS` (2,000 matches
/// for the first page of 20, 3,000 for the third). For a smaller user both cost little.
/// Only for the word filters alone: a status, priority or due-date condition is tested on
/// each word's row read, so reaching further reads more rows than it gains matches.
fn sorted_reach(query: &ListQuery) -> u64 {
    let words_alone =
        query.status == Status::All && !Access::user_range(query) && query.overdue.is_none();
    if !words_alone {
        return COUNT_CAP;
    }
    let cap = COUNT_CAP as f64;
    let r = (query.offset() + u64::from(query.page_size)) as f64;
    let even = (cap + (cap * cap + 4.0 * r * HEAVY_USER_ROWS).sqrt()) / 2.0;
    (even as u64).max(COUNT_CAP)
}

/// The user `sorted_reach` weighs for: the most tasks one user is expected to have (docs/
/// BENCHMARKS.md, "Task API").
const HEAVY_USER_ROWS: f64 = 100_000.0;

/// Up to this many rows expected from the user's priority and due-date conditions, a word
/// filter is ANDed with that range of a user index (`Access::WORD_AND_USER_INDEX`); past
/// it, the range's bitmap costs more than it saves and the word's rows are tested instead.
/// For the benchmark's heavy user: `fix` (7,974 matches) with P1 (10,006 rows) 4.3 ms
/// ANDed against 7.5 ms tested; with P1,P2 (~35,000 rows) and other broad ranges, p50
/// 9.5-11 ms ANDed against ~4 ms tested (docs/BENCHMARKS.md, "narrow ranges").
const NARROW_USER_RANGE: f64 = 15_000.0;

impl Access {
    const USER_INDEX: Access = Access {
        user: true,
        words: false,
    };
    const WORD_INDEX: Access = Access {
        user: false,
        words: true,
    };
    /// The word indexes ANDed with a narrow range of a user index (`NARROW_USER_RANGE`).
    const WORD_AND_USER_INDEX: Access = Access {
        user: true,
        words: true,
    };

    /// Whether the query has a condition that narrows a user index beyond the user: a
    /// priority or a due date, the conditions `push_filters` shows or hides with the user.
    fn user_range(query: &ListQuery) -> bool {
        !query.priorities.is_empty()
            || query.due_before.is_some()
            || query.due_after.is_some()
            || query.overdue == Some(true)
    }

    /// Whether the word indexes can find the matches: a tag filter or a usable search.
    fn words_usable(query: &ListQuery) -> bool {
        !query.tags.is_empty() || Self::search_usable(query)
    }

    /// A search with no `-excluded` term: a query of exclusions only would have GIN scan
    /// every user's entries, and with the user condition hidden the planner could scan the
    /// table instead.
    fn search_usable(query: &ListQuery) -> bool {
        query.search.as_deref().is_some_and(|s| {
            !s.split_whitespace()
                .any(|t| t.trim_start_matches('"').starts_with('-'))
        })
    }
}

impl PgStore {
    async fn page_of_tasks(
        &self,
        user_id: &str,
        query: &ListQuery,
        access: Access,
    ) -> Result<Vec<Task>, StoreError> {
        let mut select = QueryBuilder::new(format!("select {TASK_COLUMNS} from tasks"));
        push_filters(&mut select, user_id, query, access);
        push_page(&mut select, query, sort_key(query));
        let rows = self.list_rows(select).await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Counts the matches up to `COUNT_CAP` and sorts the page from up to `reach` of them
    /// (at least `COUNT_CAP`, `sorted_reach`), in one pass over the matching rows (a count
    /// and then a page would read them twice). The page is `None` when more than `reach`
    /// rows match: it cannot be told from the ones read. For pages within the first
    /// `COUNT_CAP` matches (`count_limit`).
    ///
    /// The matches are kept as their row address (`ctid`), sort key and id, and only the
    /// page's rows are fetched whole, by address: one statement sees one snapshot, so each
    /// address still holds the version that matched. When more rows match, the sort is
    /// skipped, and the statement costs about what the count alone does.
    async fn count_and_page(
        &self,
        user_id: &str,
        query: &ListQuery,
        access: Access,
        reach: u64,
    ) -> Result<(Total, Option<Vec<Task>>), StoreError> {
        debug_assert_eq!(query.count_limit(), Some(COUNT_CAP));
        debug_assert!(reach >= COUNT_CAP);
        let key = sort_key(query);
        let mut select = QueryBuilder::new(format!(
            "with matches as materialized (select ctid as found, {key} as sort_key, id from tasks"
        ));
        push_filters(&mut select, user_id, query, access);
        select
            .push(" limit ")
            .push_bind(reach as i64 + 1)
            .push(format!(
                ") select {TASK_COLUMNS}, total.n from (select count(*) as n from matches) as total \
                 left join lateral (select found from matches where total.n <= "
            ))
            .push_bind(reach as i64);
        push_page(&mut select, query, "sort_key");
        // One row with a null task when the page is empty.
        select.push(") as page on true left join tasks on tasks.ctid = page.found");
        push_order(&mut select, query, key);
        let rows = self.list_rows(select).await?;
        let n: i64 = match rows.first() {
            Some(row) => row.try_get("n").map_err(classify)?,
            None => 0, // not reached: the count's row is always there
        };
        let total = Total::counted(n as u64, Some(COUNT_CAP));
        if n as u64 > reach {
            return Ok((total, None));
        }
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            if row
                .try_get::<Option<Uuid>, _>("id")
                .map_err(classify)?
                .is_some()
            {
                items.push(task_from_row(row)?);
            }
        }
        Ok((total, Some(items)))
    }

    /// How many rows the planner expects the user's priority and due-date conditions to
    /// select (`explain`, no execution): its estimate for one user and one column is good,
    /// unlike its estimate for a keyed word (see `list_tasks`).
    async fn user_range_rows(&self, user_id: &str, query: &ListQuery) -> Result<f64, StoreError> {
        let range = ListQuery {
            search: None,
            tags: vec![],
            status: Status::All,
            ..query.clone()
        };
        let mut explain = QueryBuilder::new("explain (format json) select 1 from tasks");
        push_filters(&mut explain, user_id, &range, Access::USER_INDEX);
        let plan: serde_json::Value = self.one_value(explain).await?;
        plan[0]["Plan"]["Plan Rows"]
            .as_f64()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("explain gave no row estimate")))
    }

    /// Counts the matches up to `query.count_limit()`: finding one more row than the limit
    /// proves there are more.
    async fn count_tasks(
        &self,
        user_id: &str,
        query: &ListQuery,
        access: Access,
    ) -> Result<Total, StoreError> {
        let limit = query.count_limit();
        let mut count = QueryBuilder::new("select count(*) from (select 1 from tasks");
        push_filters(&mut count, user_id, query, access);
        if let Some(limit) = limit {
            count.push(" limit ").push_bind(limit as i64 + 1);
        }
        count.push(") as matches");
        let n: i64 = self.one_value(count).await?;
        Ok(Total::counted(n as u64, limit))
    }

    /// Runs a list statement unnamed: planned with the actual user and search term each
    /// time. A cached generic plan assumes an average user and turns a heavy user's search
    /// into a scan of all their rows (docs/BENCHMARKS.md, "generic plans").
    async fn list_rows(&self, mut q: QueryBuilder<'_, Postgres>) -> Result<Vec<PgRow>, StoreError> {
        q.build()
            .persistent(false)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)
    }

    /// The one value a list statement returns (count, explain), run unnamed (`list_rows`).
    async fn one_value<T>(&self, q: QueryBuilder<'_, Postgres>) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        let rows = self.list_rows(q).await?;
        let row = rows.first().ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("a one-value statement gave no row"))
        })?;
        row.try_get(0).map_err(classify)
    }
}

/// The expression the list sorts by.
fn sort_key(query: &ListQuery) -> &'static str {
    match query.sort_by {
        SortBy::DueAt => "due_at",
        SortBy::Priority => "priority",
        SortBy::Title => "lower(title)",
        SortBy::CreatedAt => "created_at",
        SortBy::UpdatedAt => "updated_at",
    }
}

/// The list's order by `key` (the sort key, or a column holding it): nulls last in both
/// directions, then id, which breaks ties so pages never overlap. Only a due date can be
/// null; the other keys get no `nulls last`, which lets a backward index scan serve `desc`.
fn push_order(q: &mut QueryBuilder<'_, Postgres>, query: &ListQuery, key: &str) {
    let dir = match query.sort_order {
        SortOrder::Asc => "asc",
        SortOrder::Desc => "desc",
    };
    let nulls = match query.sort_by {
        SortBy::DueAt => " nulls last",
        _ => "",
    };
    q.push(format!(" order by {key} {dir}{nulls}, id {dir}"));
}

/// The requested page in the list's order by `key` (see `push_order`).
fn push_page(q: &mut QueryBuilder<'_, Postgres>, query: &ListQuery, key: &str) {
    push_order(q, query, key);
    q.push(" limit ")
        .push_bind(query.page_size as i64)
        .push(" offset ")
        .push_bind(query.offset() as i64);
}

fn push_filters(
    q: &mut QueryBuilder<'_, Postgres>,
    user_id: &str,
    query: &ListQuery,
    access: Access,
) {
    let hidden = |indexable: bool| {
        if indexable {
            ("", "")
        } else {
            ("coalesce(", ", false)")
        }
    };
    let (open, close) = hidden(access.user);
    q.push(format!(" where {open}user_id = "))
        .push_bind(user_id.to_owned())
        .push(close);
    // `search` and the tag index hold words keyed by user (migration 6): one posting list
    // per (user, word). A search with exclusions stays hidden (see `search_usable`); the
    // plain `tags &&` keeps a key collision from widening the result.
    let (open, close) = hidden(access.words && Access::search_usable(query));
    if let Some(search) = &query.search {
        q.push(format!(" and {open}search @@ task_user_query("))
            .push_bind(user_id.to_owned())
            .push(", websearch_to_tsquery('english', ")
            .push_bind(search.clone())
            .push(format!(")){close}"));
    }
    if !query.tags.is_empty() {
        let names = tag_names(&query.tags);
        // The keyed tags only serve the index; testing them row by row costs a SQL
        // function call per row (8 µs), so a walk tests the plain tags alone.
        if access.words {
            q.push(" and task_user_tags(user_id, tags) && task_user_tags(")
                .push_bind(user_id.to_owned())
                .push(", ")
                .push_bind(names.clone())
                .push(")");
        }
        q.push(" and tags && ").push_bind(names);
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
    // Priority and due dates are second columns of the user's indexes: they are shown with
    // the user condition or hidden with it. Shown without it, the planner scans one of those
    // indexes over every user's entries and ANDs that with the word's (a search for `call`
    // due this fortnight: 56 ms; 9 ms with both hidden, which tests the word's rows; 4.6 ms
    // with both shown, `WORD_AND_USER_INDEX`).
    let (open, close) = hidden(access.user);
    if !query.priorities.is_empty() {
        let levels: Vec<i16> = query.priorities.iter().map(|p| p.level()).collect();
        q.push(format!(" and {open}priority = any("))
            .push_bind(levels)
            .push(format!("){close}"));
    }
    if let Some(before) = query.due_before {
        q.push(format!(" and {open}due_at < "))
            .push_bind(before)
            .push(close);
    }
    if let Some(after) = query.due_after {
        q.push(format!(" and {open}due_at > "))
            .push_bind(after)
            .push(close);
    }
    match query.overdue {
        None => {}
        Some(true) => {
            q.push(format!(
                " and not completed and {open}due_at < now(){close}"
            ));
        }
        Some(false) => {
            q.push(" and (completed or due_at is null or due_at >= now())");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{NewTask, Priority, TagName};
    use crate::store::TaskStore;

    /// The migrated store of `DATABASE_URL`, when that is PostgreSQL.
    async fn store() -> Option<PgStore> {
        let url = std::env::var("DATABASE_URL").unwrap_or_default();
        if !url.starts_with("postgres") {
            return None;
        }
        let store = PgStore::connect_lazy(&url, 2).unwrap();
        crate::store::postgres::MIGRATOR
            .run(&store.pool)
            .await
            .unwrap();
        Some(store)
    }

    /// The access paths only change the plan: each gives the same page and the same count,
    /// for word filters with and without the priority and due-date conditions they hide,
    /// read in two queries or in one (`count_and_page`).
    /// (Which one `list_tasks` takes depends on row estimates; on small test data it is
    /// always the narrow one, so the others are run here directly.)
    #[tokio::test]
    async fn every_access_path_gives_the_same_page_and_count() {
        let Some(store) = store().await else {
            return; // PostgreSQL's access paths: the run on PostgreSQL checks them
        };
        let user = format!("access-{}", Uuid::new_v4());
        let now = Utc::now();
        for i in 1..=60i64 {
            let new = NewTask {
                priority: Priority::from_level(1 + (i % 4) as i16).unwrap(),
                tags: vec![TagName::parse(if i % 5 == 0 { "work" } else { "home" }).unwrap()],
                due_at: (i % 7 != 0).then(|| now + chrono::Duration::days(i - 30)),
                ..NewTask::titled(&format!(
                    "task {i}{}",
                    if i % 3 == 0 { " call" } else { "" }
                ))
            };
            let mut task = Task::create(Uuid::new_v4(), &user, new, now);
            if i % 4 == 0 {
                task = task.set_completed(Some(true), now).unwrap();
            }
            store.create_task(&task, &|_| Vec::new()).await.unwrap();
        }
        let week = (Utc::now() + chrono::Duration::days(7)).to_rfc3339();
        let queries: [&[(&str, &str)]; 6] = [
            &[("search", "call")],
            &[
                ("search", "call"),
                ("priority", "P1,P2"),
                ("sort_by", "priority"),
            ],
            &[
                ("search", "call"),
                ("due_before", &week),
                ("sort_by", "due_at"),
            ],
            &[("tag", "work"), ("overdue", "true"), ("sort_by", "due_at")],
            &[
                ("search", "call"),
                ("overdue", "false"),
                ("sort_order", "asc"),
            ],
            &[
                ("tag", "home"),
                ("priority", "P3"),
                ("status", "pending"),
                ("sort_by", "title"),
                ("page", "2"),
                ("page_size", "3"),
            ],
        ];
        for pairs in queries {
            let query = ListQuery::parse(pairs.iter().copied()).unwrap();
            let mut answers = vec![];
            for access in [
                Access::USER_INDEX,
                Access::WORD_INDEX,
                Access::WORD_AND_USER_INDEX,
            ] {
                let page = store.page_of_tasks(&user, &query, access).await.unwrap();
                let ids: Vec<Uuid> = page.iter().map(|t| t.id).collect();
                let total = store.count_tasks(&user, &query, access).await.unwrap();
                // The one-pass count and page agrees with the two.
                let (one_total, one_page) = store
                    .count_and_page(&user, &query, access, COUNT_CAP)
                    .await
                    .unwrap();
                let one_ids: Option<Vec<Uuid>> =
                    one_page.map(|page| page.iter().map(|t| t.id).collect());
                assert_eq!(
                    (one_ids.as_ref(), one_total),
                    (Some(&ids), total),
                    "{pairs:?}: {access:?} in one pass"
                );
                answers.push((ids, total));
            }
            assert!(!answers[0].0.is_empty(), "{pairs:?} matches nothing");
            assert_eq!(answers[0], answers[1], "{pairs:?}: user vs word index");
            assert_eq!(
                answers[0], answers[2],
                "{pairs:?}: user vs word and user index"
            );
        }
    }

    /// A word just past `COUNT_CAP` is read and sorted from its matches (`sorted_reach`),
    /// giving the page the walk of the user's sort index gives, and the capped total.
    #[tokio::test]
    async fn a_word_just_past_the_cap_is_sorted_from_its_matches() {
        let Some(store) = store().await else {
            return; // PostgreSQL's access paths: the run on PostgreSQL checks them
        };
        let user = format!("reach-{}", Uuid::new_v4());
        let now = Utc::now();
        let matches = COUNT_CAP as usize + 50;
        for i in 0..matches + 30 {
            let word = if i < matches { "call" } else { "write" };
            let new = NewTask::titled(&format!("{word} {}", (i * 7919) % 1000));
            let task = Task::create(Uuid::new_v4(), &user, new, now);
            store.create_task(&task, &|_| Vec::new()).await.unwrap();
        }
        let pairs = [("search", "call"), ("sort_by", "title"), ("page", "2")];
        let query = ListQuery::parse(pairs).unwrap();
        let reach = sorted_reach(&query);
        assert!(reach > matches as u64, "{reach}");
        let walked: Vec<Uuid> = store
            .page_of_tasks(&user, &query, Access::USER_INDEX)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(walked.len(), query.page_size as usize);
        let capped = Total::AtLeast(COUNT_CAP);
        let (total, page) = store
            .count_and_page(&user, &query, Access::WORD_INDEX, COUNT_CAP)
            .await
            .unwrap();
        assert_eq!((total, page.is_none()), (capped, true), "past the cap");
        let (total, page) = store
            .count_and_page(&user, &query, Access::WORD_INDEX, reach)
            .await
            .unwrap();
        let sorted: Vec<Uuid> = page.unwrap().iter().map(|t| t.id).collect();
        assert_eq!((total, &sorted), (capped, &walked), "within the reach");
        let listed = store.list(&user, &query).await.unwrap();
        assert_eq!(
            listed.items.iter().map(|t| t.id).collect::<Vec<_>>(),
            walked
        );
        assert_eq!(
            (listed.total_count, listed.total_count_exact),
            (COUNT_CAP, false)
        );
    }
}
