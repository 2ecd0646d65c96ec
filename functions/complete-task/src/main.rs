//! `complete-task` — `PATCH /api/{user_id}/tasks/{id}/complete`: toggle, or set with `{"completed": bool}`.
//! The handler lives in `shared::functions::complete_task`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::functions::complete_task::FUNCTION).await
}
