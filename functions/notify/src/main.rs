//! `notify` — pub/sub subscription on `reminders`, delivering each to the user's signed
//! webhooks, and `/api/{user_id}/webhooks`. The handlers live in `shared::handlers::notify`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::notify::FUNCTION).await
}
