//! `update-task` — `PUT|PATCH /api/{user_id}/tasks/{id}`: partial update.
//! The handler lives in `shared::handlers::update_task`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::update_task::FUNCTION).await
}
