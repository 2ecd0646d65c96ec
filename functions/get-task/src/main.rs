//! `get-task` — `GET /api/{user_id}/tasks/{id}` — one task, or 404 (also for another user's task).
//! The handler lives in `shared::handlers::get_task`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::get_task::FUNCTION).await
}
