//! `mcp` — the task operations as Model Context Protocol tools, over Streamable HTTP at
//! `/mcp` (Bearer JWT). The tools live in `shared::handlers::mcp`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::mcp::FUNCTION).await
}
