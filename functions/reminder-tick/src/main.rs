//! `reminder-tick` — Dapr cron input binding `reminder-cron` (`POST /reminder-cron`, every
//! minute). The handler lives in `shared::functions::reminder_tick`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::functions::reminder_tick::FUNCTION).await
}
