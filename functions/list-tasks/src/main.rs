//! `list-tasks` — `GET /api/{user_id}/tasks` with search, filters, sorting and pagination.
//! The handler lives in `shared::handlers::list_tasks`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::list_tasks::FUNCTION).await
}
