//! `on-completed` — pub/sub subscription on `task-events`: creates the next occurrence of a
//! completed recurring task. The handler lives in `shared::handlers::on_completed`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::on_completed::FUNCTION).await
}
