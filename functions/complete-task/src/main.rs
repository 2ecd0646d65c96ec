//! `complete-task` — `PATCH /api/{user_id}/tasks/{id}/complete`: toggle, or set with `{"completed": bool}`.
//! The handler lives in `shared::handlers::complete_task`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::complete_task::FUNCTION).await
}
