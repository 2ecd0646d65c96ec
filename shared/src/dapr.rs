//! The Dapr sidecar's HTTP API on `127.0.0.1:DAPR_HTTP_PORT`, as the functions call it:
//! readiness (`/v1.0/healthz/outbound`, awaited once before the first call), publish (see
//! `events::publisher::DaprPublisher`) and the Jobs API (`/v1.0-alpha1/jobs`, which needs
//! the Dapr scheduler).

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, Utc};
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
    if response.status().is_success() {
        return Ok(());
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
