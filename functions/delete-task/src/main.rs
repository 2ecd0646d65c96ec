//! `delete-task` — `DELETE /api/{user_id}/tasks/{id}` — 204, or 404 when there is no such task of this user.
//! The handler lives in `shared::handlers::delete_task`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::delete_task::FUNCTION).await
}
