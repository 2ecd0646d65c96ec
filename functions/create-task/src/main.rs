//! `create-task` — `POST /api/{user_id}/tasks` — create a task; 201 with the task.
//! The handler lives in `shared::handlers::create_task`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::create_task::FUNCTION).await
}
