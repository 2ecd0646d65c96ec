//! `web` — the web app (`web/`, built into `WEB_DIR`) as static files at `/`, with
//! `GET /config.json`. The handler lives in `shared::handlers::web`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::web::FUNCTION).await
}
