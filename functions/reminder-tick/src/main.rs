//! `reminder-tick` — Dapr cron input binding `reminder-cron` (`POST /reminder-cron`, every
//! minute). The handler lives in `shared::handlers::reminder_tick`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::reminder_tick::FUNCTION).await
}
