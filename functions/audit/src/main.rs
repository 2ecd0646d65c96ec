//! `audit` — pub/sub subscription on `task-events` into the audit log, and
//! `GET /api/{user_id}/tasks/{id}/history`. The handlers live in `shared::handlers::audit`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::audit::FUNCTION).await
}
