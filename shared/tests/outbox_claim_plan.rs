//! The sweep's claim stays cheap however many published rows are kept (72 hours of them in
//! production): PostgreSQL's plan for it reads the index of the pending rows by id, not the
//! primary key, which it walked past every published row before that index existed (50 ms
//! a claim then, docs/BENCHMARKS.md). A plan is PostgreSQL's; SQLite has no such choice to
//! get wrong (its claim is checked by the sweep's behaviour tests).

mod common;

use shared::store::postgres::CLAIM_PENDING;

/// Published rows kept, as a busy day leaves them...
const KEPT: i64 = 50_000;
/// ...after them, the pending rows due for the sweep.
const PENDING: i64 = 2_000;

#[tokio::test]
async fn the_claim_reads_the_pending_rows_by_id_past_any_number_of_published_ones() {
    // A database of its own: the plan follows the whole table's statistics, which other
    // tests' rows (pending, due or not, published, deleted) would otherwise shift.
    if common::Backend::current() != common::Backend::Postgres {
        return;
    }
    let (pool, name) = common::own_postgres_database("plan_test").await;
    sqlx::query(
        "insert into outbox (event_id, topic, partition_key, payload, published_at, next_attempt_at) \
         select gen_random_uuid(), 'task-events', 'plan', '{}'::jsonb, \
                case when g <= $2 then now() end, now() - interval '1 minute' \
         from generate_series(1, $1) g",
    )
    .bind(KEPT + PENDING)
    .bind(KEPT)
    .execute(&pool)
    .await
    .expect("keep published rows, and some pending");
    sqlx::query("analyze outbox").execute(&pool).await.unwrap();

    let plan: serde_json::Value =
        sqlx::query_scalar(&format!("explain (format json) {CLAIM_PENDING}"))
            .bind(1000_i64)
            .bind(60.0_f64)
            .fetch_one(&pool)
            .await
            .expect("explain the claim");
    common::drop_database(pool, &name).await;

    // The rows the claim walks are read under its `Limit` (the outer update then fetches
    // the claimed ones by primary key, which is fine).
    let limit = find(&plan, "Limit").unwrap_or_else(|| panic!("a Limit in the plan:\n{plan:#}"));
    let mut scans = Vec::new();
    scans_under(limit, &mut scans);
    assert_eq!(
        scans,
        ["Index Scan using outbox_pending_id"],
        "the claim reads the pending rows by id, nothing else:\n{plan:#}"
    );
}

/// The first plan node of `node_type` in `plan`.
fn find<'a>(plan: &'a serde_json::Value, node_type: &str) -> Option<&'a serde_json::Value> {
    match plan {
        serde_json::Value::Object(map) if map.get("Node Type").is_some_and(|t| t == node_type) => {
            Some(plan)
        }
        serde_json::Value::Object(map) => map.values().find_map(|v| find(v, node_type)),
        serde_json::Value::Array(items) => items.iter().find_map(|v| find(v, node_type)),
        _ => None,
    }
}

/// Each scan below `node`, as "<Node Type>[ using <Index Name>]".
fn scans_under(node: &serde_json::Value, out: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(kind) = map.get("Node Type").and_then(|t| t.as_str()) {
                if kind.ends_with("Scan") {
                    out.push(match map.get("Index Name").and_then(|i| i.as_str()) {
                        Some(index) => format!("{kind} using {index}"),
                        None => kind.to_owned(),
                    });
                }
            }
            map.values().for_each(|v| scans_under(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| scans_under(v, out)),
        _ => {}
    }
}
