//! The chat's conversations: one row each, the whole conversation as a JSON document and
//! its version (the etag), bumped by every save that names the version it read.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{classify, micros, time, SqliteStore};
use crate::domain::conversation::{Conversation, ConversationSummary};
use crate::store::{ConversationStore, Etag, StoreError};

#[async_trait]
impl ConversationStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn get_conversation(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<(Conversation, Etag)>, StoreError> {
        let row = sqlx::query(
            "select document, version from conversations where id = ?1 and user_id = ?2",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(classify)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let document: &str = row.try_get("document").map_err(classify)?;
        let version: i64 = row.try_get("version").map_err(classify)?;
        let conversation = serde_json::from_str(document)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("stored conversation {id}: {e}")))?;
        Ok(Some((conversation, Etag(version.to_string()))))
    }

    #[tracing::instrument(skip_all, fields(user_id = %conversation.user_id, id = %conversation.id))]
    async fn save_conversation(
        &self,
        conversation: &Conversation,
        expected: Option<&Etag>,
    ) -> Result<Etag, StoreError> {
        let document = serde_json::to_string(conversation)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("conversation as JSON: {e}")))?;
        let summary = conversation.summary();
        let messages = i64::try_from(summary.messages).unwrap_or(i64::MAX);
        let expected = match expected {
            None => None,
            // A version this backend never gave cannot be the stored one.
            Some(etag) => match etag.0.parse::<i64>() {
                Ok(version) => Some(version),
                Err(_) => return Err(changed(conversation.id)),
            },
        };
        let mut tx = self.begin().await?;
        let version: Option<i64> = match expected {
            None => sqlx::query_scalar(
                "insert into conversations \
                     (id, user_id, document, version, title, message_count, created_at, updated_at) \
                 values (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7) \
                 on conflict (id) do nothing returning version",
            )
            .bind(conversation.id)
            .bind(&conversation.user_id)
            .bind(&document)
            .bind(&summary.title)
            .bind(messages)
            .bind(micros(conversation.created_at))
            .bind(micros(conversation.updated_at))
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?,
            Some(expected) => sqlx::query_scalar(
                "update conversations set document = ?4, version = version + 1, \
                     title = ?5, message_count = ?6, updated_at = ?7 \
                 where id = ?1 and user_id = ?2 and version = ?3 returning version",
            )
            .bind(conversation.id)
            .bind(&conversation.user_id)
            .bind(expected)
            .bind(&document)
            .bind(&summary.title)
            .bind(messages)
            .bind(micros(conversation.updated_at))
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?,
        };
        let Some(version) = version else {
            return Err(changed(conversation.id));
        };
        tx.commit().await.map_err(classify)?;
        Ok(Etag(version.to_string()))
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn delete_conversation(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("delete from conversations where id = ?1 and user_id = ?2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn list_conversations(
        &self,
        user_id: &str,
        offset: u64,
        page_size: u32,
    ) -> Result<(Vec<ConversationSummary>, u64), StoreError> {
        // One snapshot for the page and the count.
        let mut tx = self.reader.begin().await.map_err(classify)?;
        let rows = sqlx::query(
            "select id, title, message_count, created_at, updated_at from conversations \
             where user_id = ?1 order by updated_at desc, id limit ?2 offset ?3",
        )
        .bind(user_id)
        .bind(i64::from(page_size))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(classify)?;
        let total: i64 =
            sqlx::query_scalar("select count(*) from conversations where user_id = ?1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        let summaries = rows
            .iter()
            .map(summary_from_row)
            .collect::<Result<_, _>>()?;
        Ok((summaries, u64::try_from(total).unwrap_or_default()))
    }
}

/// The conversation is no longer at the version the save started from (another save came
/// first; for a new one: it exists already).
fn changed(id: Uuid) -> StoreError {
    StoreError::Conflict(format!(
        "conversation {id} was saved by another request first"
    ))
}

fn summary_from_row(row: &SqliteRow) -> Result<ConversationSummary, StoreError> {
    let messages: i64 = row.try_get("message_count").map_err(classify)?;
    Ok(ConversationSummary {
        id: row.try_get("id").map_err(classify)?,
        title: row.try_get("title").map_err(classify)?,
        messages: usize::try_from(messages).unwrap_or_default(),
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}
