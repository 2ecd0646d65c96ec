//! The Dapr sidecar's HTTP API on `127.0.0.1:DAPR_HTTP_PORT`, as the functions call it:
//! readiness (`/v1.0/healthz/outbound`, awaited once before the first call), publish (see
//! `events::publisher::DaprPublisher`), the Jobs API (`/v1.0-alpha1/jobs`, which needs
//! the Dapr scheduler) and the state API (`/v1.0/state`: bulk get and transactions, see
//! `store::dapr_state`).

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

pub struct Sidecar {
    client: reqwest::Client,
    base: String,
    ready: OnceCell<()>,
}

impl Sidecar {
    pub fn new(dapr_http_port: u16) -> Self {
        Sidecar {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
            base: format!("http://127.0.0.1:{dapr_http_port}"),
            ready: OnceCell::new(),
        }
    }

    /// The client, once the sidecar is ready for outbound calls (waits up to 10 s the
    /// first time).
    pub async fn client(&self) -> anyhow::Result<&reqwest::Client> {
        self.ready
            .get_or_try_init(|| async {
                let url = self.url("/v1.0/healthz/outbound");
                for _ in 0..50 {
                    if let Ok(r) = self.client.get(&url).send().await {
                        if r.status().is_success() {
                            return Ok(());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                bail!("the Dapr sidecar at {} is not ready", self.base)
            })
            .await?;
        Ok(&self.client)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Schedules (or replaces) the one-shot job `name`, due at `due`; the scheduler then
    /// has daprd call the app's `POST /job/<name>` with `data`.
    pub async fn schedule_job(
        &self,
        name: &str,
        due: DateTime<Utc>,
        data: &serde_json::Value,
    ) -> anyhow::Result<()> {
        let response = self
            .client()
            .await?
            .post(self.url(&format!("/v1.0-alpha1/jobs/{name}")))
            .json(&serde_json::json!({
                "dueTime": due.to_rfc3339_opts(SecondsFormat::Secs, true),
                "data": data,
                "overwrite": true,
            }))
            .send()
            .await
            .context("schedule a job through the Dapr sidecar")?;
        check(response, "schedule job", name).await
    }

    /// Deletes job `name`; a job that does not exist is not an error.
    pub async fn delete_job(&self, name: &str) -> anyhow::Result<()> {
        let response = self
            .client()
            .await?
            .delete(self.url(&format!("/v1.0-alpha1/jobs/{name}")))
            .send()
            .await
            .context("delete a job through the Dapr sidecar")?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        check(response, "delete job", name).await
    }
}

/// A key's value in a state store, and its ETag (its version, as the store gives it).
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub value: serde_json::Value,
    pub etag: Option<String>,
}

/// One write of a state transaction: `value` under `key`, only if the key is still at
/// `etag` (`None`: only if the key does not exist). Sent with `concurrency: first-write`,
/// so of two writes from the same version (or two first writes) at most one succeeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Upsert {
    pub key: String,
    pub value: serde_json::Value,
    pub etag: Option<String>,
}

/// A delete in a state transaction: `key`, only if it is still at `etag`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub key: String,
    pub etag: String,
}

/// An item of a bulk get's answer: a key that does not exist has neither data nor ETag.
#[derive(Deserialize)]
struct BulkItem {
    key: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Serialize)]
struct Operation<'a> {
    operation: &'static str,
    request: OperationRequest<'a>,
}

#[derive(Serialize)]
struct OperationRequest<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    options: OperationOptions,
}

#[derive(Serialize)]
struct OperationOptions {
    concurrency: &'static str,
}

impl Sidecar {
    /// The state of `keys` in state store `store`, in the order of `keys` (`None` for a key
    /// that does not exist). Through the bulk API (`POST /v1.0/state/<store>/bulk`), so the
    /// keys travel in the body, never escaped into a path.
    pub async fn get_bulk_state(
        &self,
        store: &str,
        keys: &[String],
    ) -> anyhow::Result<Vec<Option<State>>> {
        let response = self
            .client()
            .await?
            .post(self.url(&format!("/v1.0/state/{store}/bulk")))
            .json(&serde_json::json!({ "keys": keys, "parallelism": keys.len().max(1) }))
            .send()
            .await
            .context("get state through the Dapr sidecar")?;
        let response = checked(response, "get state from", store).await?;
        let items: Vec<BulkItem> = response
            .json()
            .await
            .context("the Dapr sidecar's bulk state answer")?;
        keys.iter()
            .map(|key| {
                let item = items
                    .iter()
                    .find(|item| &item.key == key)
                    .with_context(|| format!("the Dapr sidecar answered no state for key {key}"))?;
                if let Some(error) = &item.error {
                    bail!("Dapr get state {key} from {store} failed: {error}");
                }
                Ok(item.data.clone().map(|value| State {
                    value,
                    etag: item.etag.clone(),
                }))
            })
            .collect()
    }

    /// The state of `key` in state store `store` (see `get_bulk_state`).
    pub async fn get_state(&self, store: &str, key: &str) -> anyhow::Result<Option<State>> {
        let mut states = self.get_bulk_state(store, &[key.to_owned()]).await?;
        Ok(states.pop().flatten())
    }

    /// Writes `upserts` and `deletes` in one transaction of state store `store`
    /// (`POST /v1.0/state/<store>/transaction`): all of them or, when one key is no longer
    /// at its ETag, none. The sidecar answers a transaction that failed for a changed ETag
    /// as any other failure (PostgreSQL's store: 500), so a caller tells a lost race from
    /// an outage by reading the keys again.
    pub async fn transact_state(
        &self,
        store: &str,
        upserts: &[Upsert],
        deletes: &[Delete],
    ) -> anyhow::Result<()> {
        let operation = |operation, key, value, etag| Operation {
            operation,
            request: OperationRequest {
                key,
                value,
                etag,
                options: OperationOptions {
                    concurrency: "first-write",
                },
            },
        };
        let operations: Vec<Operation<'_>> = upserts
            .iter()
            .map(|u| operation("upsert", &u.key, Some(&u.value), u.etag.as_deref()))
            .chain(
                deletes
                    .iter()
                    .map(|d| operation("delete", &d.key, None, Some(d.etag.as_str()))),
            )
            .collect();
        let response = self
            .client()
            .await?
            .post(self.url(&format!("/v1.0/state/{store}/transaction")))
            .json(&serde_json::json!({ "operations": operations }))
            .send()
            .await
            .context("write state through the Dapr sidecar")?;
        check(response, "write state to", store).await
    }
}

/// The sidecar answered, but not with success.
#[derive(Debug, thiserror::Error)]
#[error("Dapr {what} answered {status}: {body}")]
pub struct Refused {
    pub what: String,
    pub status: reqwest::StatusCode,
    pub body: String,
}

impl Refused {
    /// A 4xx: the request itself is wrong, so sending it again cannot help.
    pub fn is_permanent(&self) -> bool {
        self.status.is_client_error()
    }
}

/// `Ok` for a 2xx answer, else a `Refused` error carrying the status and body.
pub async fn check(response: reqwest::Response, what: &str, name: &str) -> anyhow::Result<()> {
    checked(response, what, name).await.map(drop)
}

/// The answer if it is a 2xx, else a `Refused` error carrying the status and body.
async fn checked(
    response: reqwest::Response,
    what: &str,
    name: &str,
) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(Refused {
        what: format!("{what} {name}"),
        status,
        body,
    }
    .into())
}
