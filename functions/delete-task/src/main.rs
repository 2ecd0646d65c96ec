//! `delete-task` — `DELETE /api/{user_id}/tasks/{id}` — 204, or 404 when there is no such task of this user.
//! The handler lives in `shared::functions::delete_task`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::functions::delete_task::FUNCTION).await
}
