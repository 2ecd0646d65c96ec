//! `realtime` — pub/sub subscriptions on `task-updates` and `reminders`, served as each
//! user's Server-Sent Events stream at `GET /api/{user_id}/stream`. The handlers live in
//! `shared::handlers::realtime`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::realtime::FUNCTION).await
}
