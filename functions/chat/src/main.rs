//! `chat` — the Todo AI chatbot: `POST /api/{user_id}/chat` and the user's conversations.
//! It reaches the tasks through the `mcp` function's tools (Dapr service invocation) and
//! keeps conversations in the Dapr state store (`STATE_STORE`). The handlers live in
//! `shared::handlers::chat`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::harness::run(&shared::handlers::chat::FUNCTION).await
}
