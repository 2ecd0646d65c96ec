//! `reminder-jobs` — exact-time reminders with the Dapr Jobs API: schedules a job per armed
//! reminder (pub/sub on `task-events`) and fires it (`POST /job/reminder-<task_id>`). The
//! handlers live in `shared::handlers::reminder_jobs`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::reminder_jobs::FUNCTION).await
}
