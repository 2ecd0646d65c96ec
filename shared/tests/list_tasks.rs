//! `GET /api/{user_id}/tasks` (the list-tasks function): filters alone and combined,
//! web-search syntax, sorting with nulls last and a stable tie-break, pagination; and
//! `GET /api/{user_id}/tags`, the user's tags with their open-task counts.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{assert_error, time, titles, TestApp};
use serde_json::{json, Value};

/// Six tasks with known properties (the past and far-future dates keep `overdue` stable).
async fn seed(app: &TestApp, user: &str) {
    let tasks = [
        json!({"title": "Buy milk today", "description": "from the corner shop", "tags": ["groceries", "home"],
               "priority": "P2", "due_at": "2020-01-01T12:00:00Z"}),
        json!({"title": "Milk, then buy bread", "tags": ["groceries"], "priority": "P3", "due_at": "2099-01-01T12:00:00Z"}),
        json!({"title": "Write report", "description": "quarterly numbers for finance", "tags": ["work"],
               "priority": "P1", "due_at": "2020-06-01T12:00:00Z"}),
        json!({"title": "Call plumber", "description": "kitchen sink leaks", "tags": ["home"], "priority": "P4"}),
        json!({"title": "Plan holiday", "tags": ["travel"], "priority": "urgent", "due_at": "2099-06-01T12:00:00Z"}),
        json!({"title": "Pay taxes", "tags": ["finance", "work"], "priority": "high", "due_at": "2030-01-01T12:00:00Z"}),
    ];
    for body in tasks {
        let task = app.create(user, body).await;
        if ["Write report", "Pay taxes"].contains(&task["title"].as_str().unwrap()) {
            let (status, _) = app
                .call(
                    user,
                    "PATCH",
                    &format!(
                        "/api/{user}/tasks/{}/complete",
                        task["id"].as_str().unwrap()
                    ),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
}

/// The titles matching `query` (order-insensitive), checking `total_count` agrees.
async fn matching(app: &TestApp, user: &str, query: &str) -> BTreeSet<String> {
    let sep = if query.is_empty() { "" } else { "&" };
    let page = app.list(user, &format!("{query}{sep}page_size=100")).await;
    let found: BTreeSet<String> = titles(&page).into_iter().collect();
    assert_eq!(page["total_count"], found.len(), "?{query}: {page}");
    found
}

fn set(titles: &[&str]) -> BTreeSet<String> {
    titles.iter().map(|s| s.to_string()).collect()
}

const MILK: &str = "Buy milk today";
const BREAD: &str = "Milk, then buy bread";
const REPORT: &str = "Write report";
const PLUMBER: &str = "Call plumber";
const HOLIDAY: &str = "Plan holiday";
const TAXES: &str = "Pay taxes";

#[tokio::test]
async fn each_filter_alone() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    seed(&app, &user).await;
    let all = set(&[MILK, BREAD, REPORT, PLUMBER, HOLIDAY, TAXES]);
    for (query, want) in [
        ("", all.clone()),
        ("status=all", all.clone()),
        ("status=pending", set(&[MILK, BREAD, PLUMBER, HOLIDAY])),
        ("status=completed", set(&[REPORT, TAXES])),
        ("priority=P1", set(&[REPORT, HOLIDAY])),
        ("priority=P1,P2", set(&[MILK, REPORT, HOLIDAY, TAXES])),
        ("priority=urgent,high", set(&[MILK, REPORT, HOLIDAY, TAXES])),
        ("priority=P4", set(&[PLUMBER])),
        ("tag=home", set(&[MILK, PLUMBER])),
        ("tag=HOME", set(&[MILK, PLUMBER])),
        ("tag=home,work", set(&[MILK, PLUMBER, REPORT, TAXES])),
        ("tag=nothing", set(&[])),
        ("due_before=2025-01-01T00:00:00Z", set(&[MILK, REPORT])),
        (
            "due_after=2025-01-01T00:00:00Z",
            set(&[BREAD, HOLIDAY, TAXES]),
        ),
        (
            "due_after=2025-01-01T00:00:00Z&due_before=2050-01-01T00:00:00Z",
            set(&[TAXES]),
        ),
        ("overdue=true", set(&[MILK])),
        (
            "overdue=false",
            set(&[BREAD, REPORT, PLUMBER, HOLIDAY, TAXES]),
        ),
    ] {
        assert_eq!(matching(&app, &user, query).await, want, "?{query}");
    }
}

#[tokio::test]
async fn search_covers_title_description_and_tags_with_websearch_syntax() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    seed(&app, &user).await;
    for (search, want) in [
        ("milk", set(&[MILK, BREAD])),
        ("MILK", set(&[MILK, BREAD])),
        ("plumber", set(&[PLUMBER])),       // title only
        ("quarterly", set(&[REPORT])),      // description only
        ("kitchen sink", set(&[PLUMBER])),  // description words, all required
        ("travel", set(&[HOLIDAY])),        // tag only
        ("finance", set(&[REPORT, TAXES])), // description of one, tag of the other
        ("groceries", set(&[MILK, BREAD])),
        ("\"buy milk\"", set(&[MILK])),        // quoted phrase
        ("milk -bread", set(&[MILK])),         // exclusion
        ("milk -\"buy milk\"", set(&[BREAD])), // excluded phrase: words apart still match
        ("\"milk buy\"", set(&[])),
        ("-milk", set(&[REPORT, PLUMBER, HOLIDAY, TAXES])), // exclusions only
        ("plumber or holiday", set(&[PLUMBER, HOLIDAY])),
        ("zebra", set(&[])),
    ] {
        let query = format!("search={}", urlencode(search));
        assert_eq!(
            matching(&app, &user, &query).await,
            want,
            "search {search:?}"
        );
    }
    // `q` is an alias of `search`.
    assert_eq!(matching(&app, &user, "q=plumber").await, set(&[PLUMBER]));
}

#[tokio::test]
async fn filters_combine_with_and() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    seed(&app, &user).await;
    for (query, want) in [
        ("status=pending&tag=groceries&priority=P2", set(&[MILK])),
        ("search=milk&overdue=false", set(&[BREAD])),
        ("search=milk&overdue=true", set(&[MILK])),
        ("search=milk&priority=P2,P3", set(&[MILK, BREAD])),
        ("search=milk&due_after=2050-01-01T00:00:00Z", set(&[BREAD])),
        ("search=milk&status=completed", set(&[])),
        ("tag=work&status=completed&due_after=2025-01-01T00:00:00Z", set(&[TAXES])),
        ("priority=P1&status=pending", set(&[HOLIDAY])),
        ("tag=home,groceries&due_before=2050-01-01T00:00:00Z", set(&[MILK])),
        ("overdue=false&priority=P1,P2&status=pending", set(&[HOLIDAY])),
        (
            "search=finance&tag=work&priority=P1,P2&status=completed&due_after=2019-01-01T00:00:00Z\
             &due_before=2031-01-01T00:00:00Z&overdue=false",
            set(&[REPORT, TAXES]),
        ),
    ] {
        assert_eq!(matching(&app, &user, query).await, want, "?{query}");
    }
}

#[tokio::test]
async fn lists_only_the_users_own_tasks() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (TestApp::user(), TestApp::user());
    app.create(&alice, json!({"title": "alice's", "tags": ["shared"]}))
        .await;
    app.create(&bob, json!({"title": "bob's", "tags": ["shared"]}))
        .await;
    assert_eq!(matching(&app, &alice, "").await, set(&["alice's"]));
    assert_eq!(
        matching(&app, &alice, "tag=shared").await,
        set(&["alice's"])
    );
    assert_eq!(matching(&app, &bob, "search=alice").await, set(&[]));
}

#[tokio::test]
async fn pagination_reports_totals_and_past_the_end_pages() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();

    let page = app.list(&user, "").await;
    assert_eq!(
        page,
        json!({"items": [], "total_count": 0, "page": 1, "page_size": 20, "total_pages": 0,
               "total_count_exact": true})
    );
    let page = app.list(&user, "page=3").await;
    assert_eq!(
        (
            page["items"].as_array().unwrap().len(),
            &page["total_count"],
            &page["total_pages"]
        ),
        (0, &json!(0), &json!(0))
    );

    for i in 0..7 {
        app.create(&user, json!({"title": format!("task {i}")}))
            .await;
    }
    // Plain and with a search (which counts first, then reads the page).
    for filter in ["", "search=task&"] {
        for (page_no, len) in [(1, 3), (2, 3), (3, 1), (4, 0), (100, 0)] {
            let page = app
                .list(&user, &format!("{filter}page={page_no}&page_size=3"))
                .await;
            assert_eq!(
                page["items"].as_array().unwrap().len(),
                len,
                "{filter}page {page_no}: {page}"
            );
            assert_eq!(page["total_count"], 7, "{filter}page {page_no}");
            assert_eq!(page["total_pages"], 3, "{filter}page {page_no}");
            assert_eq!(page["page"], page_no);
            assert_eq!(page["page_size"], 3);
        }
    }
    let page = app.list(&user, "page_size=7").await;
    assert_eq!(
        (&page["total_count"], &page["total_pages"]),
        (&json!(7), &json!(1))
    );
    let page = app.list(&user, "page_size=100").await;
    assert_eq!(
        (
            &page["total_count"],
            &page["total_pages"],
            page["items"].as_array().unwrap().len()
        ),
        (&json!(7), &json!(1), 7)
    );
    // Totals follow the filter.
    let page = app.list(&user, "search=task&page_size=2&page=2").await;
    assert_eq!(
        (&page["total_count"], &page["total_pages"]),
        (&json!(7), &json!(4))
    );
}

/// Past `COUNT_CAP` matches `total_count` is a lower bound (flagged), unless the client asks
/// for `count=exact`; a page past the cap counts at least to its own end.
#[tokio::test]
async fn total_count_is_capped_unless_exact_is_asked_for() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    app.seed(&user, 1005, |i| shared::domain::NewTask {
        priority: shared::domain::Priority::from_level(1 + (i % 4) as i16).unwrap(),
        ..common::new_task(&format!("bulk task {i}"))
    })
    .await;
    let totals = |page: &Value| {
        (
            page["items"].as_array().unwrap().len(),
            page["total_count"].as_u64().unwrap(),
            page["total_pages"].as_u64().unwrap(),
            page["total_count_exact"].as_bool().unwrap(),
        )
    };
    for (query, want) in [
        ("", (20, 1000, 50, false)),
        ("count=exact", (20, 1005, 51, true)),
        ("count=capped", (20, 1000, 50, false)),
        ("search=bulk", (20, 1000, 50, false)),
        ("search=bulk&count=exact", (20, 1005, 51, true)),
        ("priority=P1", (20, 251, 13, true)), // i % 4 == 0
        ("search=bulk&priority=P1&page=13", (11, 251, 13, true)),
        ("search=bulk&priority=P1&page=14", (0, 251, 13, true)), // past the end
        ("search=bulk&page=50", (20, 1000, 50, false)),
        ("page=50", (20, 1000, 50, false)),
        ("page=51", (5, 1005, 51, true)), // a short page tells the total
        ("page=60", (0, 1005, 51, true)), // counted to the page's end (1,200)
        ("page=11&page_size=100", (5, 1005, 11, true)),
    ] {
        assert_eq!(totals(&app.list(&user, query).await), want, "?{query}");
    }
    // Another user's tasks never count.
    let other = TestApp::user();
    assert_eq!(
        totals(&app.list(&other, "search=bulk").await),
        (0, 0, 0, true)
    );
}

/// 25 tasks with many equal sort keys (priorities, due dates, titles differing only in
/// case, null due dates).
async fn seed_for_sorting(app: &TestApp, user: &str) -> Vec<Value> {
    let titles = ["apple", "Banana", "cherry", "APPLE", "banana"];
    let dues = [
        Some("2030-01-01T00:00:00Z"),
        None,
        Some("2029-01-01T00:00:00Z"),
        Some("2030-01-01T00:00:00Z"),
        None,
    ];
    let mut tasks = Vec::new();
    for i in 0..25 {
        let mut body = json!({
            "title": titles[i % 5],
            "priority": format!("P{}", 1 + (i * 7) % 4),
            "tags": ["sorted"],
        });
        if let Some(due) = dues[(i / 5 + i) % 5] {
            body["due_at"] = json!(due);
        }
        tasks.push(app.create(user, body).await);
    }
    // Touch some so updated_at order differs from created_at order.
    for i in [3, 17, 8] {
        let id = tasks[i]["id"].as_str().unwrap().to_owned();
        let (status, _) = app
            .call(
                user,
                "PATCH",
                &format!("/api/{user}/tasks/{id}"),
                Some(json!({"description": "touched"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    tasks
}

fn id_of(task: &Value) -> uuid::Uuid {
    uuid::Uuid::parse_str(task["id"].as_str().unwrap()).unwrap()
}

/// Compares two tasks by `sort_by` (nulls last regardless of direction), then by id, in `order`.
fn compare(sort_by: &str, order: &str, a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let dir = |o: Ordering| if order == "desc" { o.reverse() } else { o };
    let key = match sort_by {
        "due_at" => match (time(&a["due_at"]), time(&b["due_at"])) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => return Ordering::Greater, // nulls last in both orders
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) => dir(x.cmp(&y)),
        },
        "priority" => dir(a["priority"].as_str().cmp(&b["priority"].as_str())),
        "title" => dir(a["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .cmp(&b["title"].as_str().unwrap().to_lowercase())),
        "created_at" | "updated_at" => dir(time(&a[sort_by]).cmp(&time(&b[sort_by]))),
        other => panic!("{other}"),
    };
    key.then_with(|| dir(id_of(a).cmp(&id_of(b))))
}

#[tokio::test]
async fn every_sort_in_both_orders_pages_without_overlap_or_gaps() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let tasks = seed_for_sorting(&app, &user).await;
    let all_ids: BTreeSet<_> = tasks.iter().map(id_of).collect();

    // Unfiltered (the user's sort indexes) and with a tag every task has (the tag index,
    // counted and sorted in one pass).
    for filter in ["", "tag=sorted&"] {
        for sort_by in ["due_at", "priority", "title", "created_at", "updated_at"] {
            for order in ["asc", "desc"] {
                let full = app
                    .list(
                        &user,
                        &format!("{filter}sort_by={sort_by}&sort_order={order}&page_size=100"),
                    )
                    .await;
                let items = full["items"].as_array().unwrap().clone();
                assert_eq!(items.len(), 25);
                for pair in items.windows(2) {
                    assert_eq!(
                        compare(sort_by, order, &pair[0], &pair[1]),
                        std::cmp::Ordering::Less,
                        "{sort_by} {order}: {} before {}",
                        pair[0],
                        pair[1]
                    );
                }
                if sort_by == "due_at" {
                    let nulls: Vec<bool> = items.iter().map(|t| t["due_at"].is_null()).collect();
                    let first_null = nulls
                        .iter()
                        .position(|n| *n)
                        .expect("some tasks have no due date");
                    assert!(
                        nulls[first_null..].iter().all(|n| *n),
                        "due_at {order}: nulls last"
                    );
                }

                // Paging through gives the same sequence: no overlap, no gap.
                let mut paged = Vec::new();
                for page_no in 1..=7 {
                    let page = app
                        .list(
                            &user,
                            &format!(
                                "{filter}sort_by={sort_by}&sort_order={order}&page_size=4&page={page_no}"
                            ),
                        )
                        .await;
                    assert_eq!(page["total_count"], 25);
                    assert_eq!(page["total_pages"], 7);
                    paged.extend(page["items"].as_array().unwrap().iter().map(id_of));
                }
                let full_ids: Vec<_> = items.iter().map(id_of).collect();
                assert_eq!(
                    paged, full_ids,
                    "{sort_by} {order}: pages concatenate to the full list"
                );
                assert_eq!(paged.iter().copied().collect::<BTreeSet<_>>(), all_ids);
            }
        }
    }
}

#[tokio::test]
async fn default_orders() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let a = app
        .create(
            &user,
            json!({"title": "b first", "priority": "P4", "due_at": "2031-01-01T00:00:00Z"}),
        )
        .await;
    let _b = app
        .create(&user, json!({"title": "a second", "priority": "P1"}))
        .await;
    let _c = app
        .create(
            &user,
            json!({"title": "c third", "priority": "P2", "due_at": "2030-01-01T00:00:00Z"}),
        )
        .await;
    // Update the oldest (P4 to P3: still the least urgent): it becomes the most recently
    // updated. (An update that changes nothing would not.)
    let (status, _) = app
        .call(
            &user,
            "PUT",
            &format!("/api/{user}/tasks/{}", a["id"].as_str().unwrap()),
            Some(json!({"priority": "medium"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let order = |page: Value| titles(&page);
    // No sort: newest first.
    assert_eq!(
        order(app.list(&user, "").await),
        ["c third", "a second", "b first"]
    );
    assert_eq!(
        order(app.list(&user, "sort_by=created_at").await),
        ["c third", "a second", "b first"]
    );
    assert_eq!(
        order(app.list(&user, "sort_by=updated_at").await),
        ["b first", "c third", "a second"]
    );
    // Dates, priorities and titles ascend by default.
    assert_eq!(
        order(app.list(&user, "sort_by=due_at").await),
        ["c third", "b first", "a second"]
    );
    assert_eq!(
        order(app.list(&user, "sort_by=due_at&sort_order=desc").await),
        ["b first", "c third", "a second"]
    );
    assert_eq!(
        order(app.list(&user, "sort_by=priority").await),
        ["a second", "c third", "b first"]
    );
    assert_eq!(
        order(app.list(&user, "sort_by=title").await),
        ["a second", "b first", "c third"]
    );
    assert_eq!(
        order(app.list(&user, "sort_by=created_at&sort_order=asc").await),
        ["b first", "a second", "c third"]
    );
}

#[tokio::test]
async fn bad_list_parameters_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let long_tag = format!("tag={}", "x".repeat(51));
    for (query, field) in [
        (long_tag.as_str(), "tag"),
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("sort_by=colour", "sort_by"),
        ("sort_order=up", "sort_order"),
        ("status=done", "status"),
        ("priority=P9", "priority"),
        ("due_before=soon", "due_before"),
        ("due_after=2030-13-01T00:00:00Z", "due_after"),
        (
            "due_after=2031-01-01T00:00:00Z&due_before=2030-01-01T00:00:00Z",
            "due_after",
        ),
        ("overdue=maybe", "overdue"),
        ("colour=red", "colour"),
        ("status=pending&status=completed", "status"),
    ] {
        let (status, body) = app
            .call(&user, "GET", &format!("/api/{user}/tasks?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "?{query}: {body}");
        assert_error(&body, "bad_request", Some(field));
    }
}

/// The functions' connections run without parallel query: a list statement reads one
/// user's rows and stops early, and starting workers cost more than it saved (BENCHMARKS).
#[tokio::test]
async fn function_connections_run_without_parallel_query() {
    let db = common::Db::open(1).await;
    let Some(pool) = db.postgres() else {
        return; // a PostgreSQL setting: nothing to check on SQLite
    };
    let store =
        shared::store::PgStore::connect_lazy(&std::env::var("DATABASE_URL").unwrap(), 1).unwrap();
    let setting: String = sqlx::query_scalar("show max_parallel_workers_per_gather")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(setting, "0");
    // The server default is left alone for everyone else.
    let default: String = sqlx::query_scalar("show max_parallel_workers_per_gather")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_ne!(default, "0");
}

/// `GET /api/{user}/tags` as `user`; asserts 200 and answers `[(name, open_tasks)]`.
async fn tags(app: &TestApp, user: &str) -> Vec<(String, u64)> {
    let (status, body) = app
        .call(user, "GET", &format!("/api/{user}/tags"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap_or_else(|| panic!("an array: {body}"))
        .iter()
        .map(|t| {
            assert_eq!(
                t.as_object().unwrap().len(),
                2,
                "name and open_tasks only: {t}"
            );
            (
                t["name"].as_str().unwrap().to_owned(),
                t["open_tasks"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn counts(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    expected.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

#[tokio::test]
async fn tags_count_open_tasks_most_first_then_by_name_in_byte_order() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    assert_eq!(tags(&app, &user).await, counts(&[]), "no tasks, no tags");
    for (title, tags) in [
        ("one", vec!["home", "work"]),
        ("two", vec!["Work", "zebra"]),
        ("three", vec!["ärger", "alpha"]),
        ("four", vec![]),
    ] {
        app.create(&user, json!({"title": title, "tags": tags}))
            .await;
    }
    let done = app
        .create(&user, json!({"title": "five", "tags": ["errands", "work"]}))
        .await;
    let (status, _) = app
        .call(
            &user,
            "PATCH",
            &format!(
                "/api/{user}/tasks/{}/complete",
                done["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // `work` is on three tasks, two of them open; `errands` only on a completed one. Ties
    // sort by name as bytes on both backends: `ärger` after `zebra` (a locale would put it
    // first).
    assert_eq!(
        tags(&app, &user).await,
        counts(&[
            ("work", 2),
            ("alpha", 1),
            ("home", 1),
            ("zebra", 1),
            ("ärger", 1),
            ("errands", 0),
        ])
    );
}

#[tokio::test]
async fn tags_follow_retagging_and_deletion() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(&user, json!({"title": "a", "tags": ["old", "kept"]}))
        .await;
    let id = task["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            &user,
            "PATCH",
            &format!("/api/{user}/tasks/{id}"),
            Some(json!({"tags": ["kept", "new"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        tags(&app, &user).await,
        counts(&[("kept", 1), ("new", 1)]),
        "a tag left on no task is not listed"
    );
    let (status, _) = app
        .call(&user, "DELETE", &format!("/api/{user}/tasks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(tags(&app, &user).await, counts(&[]));
}

#[tokio::test]
async fn tags_are_the_users_own() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (TestApp::user(), TestApp::user());
    app.create(
        &alice,
        json!({"title": "a", "tags": ["shared", "alice-only"]}),
    )
    .await;
    app.create(&bob, json!({"title": "b", "tags": ["shared", "bob-only"]}))
        .await;
    app.create(&bob, json!({"title": "c", "tags": ["shared"]}))
        .await;
    assert_eq!(
        tags(&app, &alice).await,
        counts(&[("alice-only", 1), ("shared", 1)])
    );
    assert_eq!(
        tags(&app, &bob).await,
        counts(&[("shared", 2), ("bob-only", 1)])
    );
    // Another user's tags: 403, as for their tasks; no token: 401.
    let (status, body) = app
        .call(&alice, "GET", &format!("/api/{bob}/tags"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden", None);
    let (status, body) = app
        .request("GET", &format!("/api/{alice}/tags"), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized", None);
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
