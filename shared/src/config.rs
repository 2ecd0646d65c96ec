//! Configuration from the environment. Secrets are wrapped so they never reach a log.

use anyhow::{bail, Context};

/// A secret value whose `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Where published events go (`PUBSUB_TRANSPORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Through the Dapr sidecar's publish API (default).
    Dapr,
    /// Straight to Kafka (`KAFKA_BROKERS`).
    Kafka,
    /// Not now: events wait in the outbox for a sweep.
    None,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL` (required).
    pub database_url: Secret,
    /// `DATABASE_MAX_CONNECTIONS`, default 10.
    pub database_max_connections: u32,
    /// `APP_PORT`, default 8080.
    pub app_port: u16,
    /// `JWT_SECRET` (required): the HS256 key shared with the auth service.
    pub jwt_secret: Secret,
    /// `LOG_FORMAT=json|pretty`; default json unless stdout is a terminal.
    pub log_format: LogFormat,
    /// `LOG_LEVEL` (an `EnvFilter` directive, e.g. `info` or `shared=debug`); default `info`.
    pub log_level: String,
    /// `PUBSUB_TRANSPORT=dapr|kafka|none`, default dapr.
    pub transport: Transport,
    /// `PUBSUB_NAME`, the Dapr pub/sub component; default `pubsub`.
    pub pubsub_name: String,
    /// `DAPR_HTTP_PORT`, default 3500.
    pub dapr_http_port: u16,
    /// `KAFKA_BROKERS` (for `PUBSUB_TRANSPORT=kafka`), default `127.0.0.1:9092`.
    pub kafka_brokers: String,
    /// `WEBHOOK_ALLOWED_HOSTS`: comma-separated host names or IPs that webhooks may target
    /// even though they are private or loopback (e.g. an in-cluster receiver); default none.
    pub webhook_allowed_hosts: Vec<String>,
    /// `APP_API_TOKEN`: when set (Dapr sends it as `dapr-api-token` on every call to the
    /// app), the routes only the sidecar should call (subscriptions, bindings, jobs)
    /// refuse requests without it.
    pub app_api_token: Option<Secret>,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let database_url = get("DATABASE_URL")
            .filter(|v| !v.is_empty())
            .context("DATABASE_URL is not set")?;
        let jwt_secret = get("JWT_SECRET")
            .filter(|v| !v.is_empty())
            .context("JWT_SECRET is not set")?;
        let app_port = match get("APP_PORT") {
            Some(p) => p
                .parse()
                .with_context(|| format!("APP_PORT={p:?} is not a port number"))?,
            None => 8080,
        };
        let database_max_connections = match get("DATABASE_MAX_CONNECTIONS") {
            Some(n) => n.parse().ok().filter(|n| *n > 0).with_context(|| {
                format!("DATABASE_MAX_CONNECTIONS={n:?} is not a positive number")
            })?,
            None => 10,
        };
        let log_format = match get("LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("pretty") | Some("text") => LogFormat::Pretty,
            Some(other) => bail!("LOG_FORMAT={other:?}: use json or pretty"),
            None if std::io::IsTerminal::is_terminal(&std::io::stdout()) => LogFormat::Pretty,
            None => LogFormat::Json,
        };
        let transport = match get("PUBSUB_TRANSPORT").as_deref() {
            None | Some("dapr") => Transport::Dapr,
            Some("kafka") => Transport::Kafka,
            Some("none") => Transport::None,
            Some(other) => bail!("PUBSUB_TRANSPORT={other:?}: use dapr, kafka or none"),
        };
        let dapr_http_port = match get("DAPR_HTTP_PORT") {
            Some(p) => p
                .parse()
                .with_context(|| format!("DAPR_HTTP_PORT={p:?} is not a port number"))?,
            None => 3500,
        };
        Ok(Config {
            transport,
            pubsub_name: get("PUBSUB_NAME").unwrap_or_else(|| "pubsub".into()),
            dapr_http_port,
            kafka_brokers: get("KAFKA_BROKERS").unwrap_or_else(|| "127.0.0.1:9092".into()),
            database_url: Secret(database_url),
            database_max_connections,
            app_port,
            jwt_secret: Secret(jwt_secret),
            log_format,
            log_level: get("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            app_api_token: get("APP_API_TOKEN").filter(|v| !v.is_empty()).map(Secret),
            webhook_allowed_hosts: get("WEBHOOK_ALLOWED_HOSTS")
                .map(|v| host_list(&v))
                .unwrap_or_default(),
        })
    }
}

/// A comma-separated list of host names or IPs (`WEBHOOK_ALLOWED_HOSTS`).
pub fn host_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn reads_required_and_defaults() {
        let c = Config::from_lookup(env(&[
            ("DATABASE_URL", "postgres://x"),
            ("JWT_SECRET", "s"),
            ("LOG_FORMAT", "json"),
        ]))
        .unwrap();
        assert_eq!(c.app_port, 8080);
        assert_eq!(c.database_max_connections, 10);
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.webhook_allowed_hosts.is_empty());
        assert!(
            !format!("{c:?}").contains("postgres://x"),
            "secrets must not be printed"
        );
    }

    #[test]
    fn reads_the_webhook_allow_list() {
        let c = Config::from_lookup(env(&[
            ("DATABASE_URL", "postgres://x"),
            ("JWT_SECRET", "s"),
            ("WEBHOOK_ALLOWED_HOSTS", " receiver.local, 127.0.0.1 ,,"),
        ]))
        .unwrap();
        assert_eq!(c.webhook_allowed_hosts, ["receiver.local", "127.0.0.1"]);
    }

    #[test]
    fn refuses_missing_or_bad_values() {
        assert!(Config::from_lookup(env(&[("JWT_SECRET", "s")])).is_err());
        assert!(Config::from_lookup(env(&[("DATABASE_URL", "postgres://x")])).is_err());
        assert!(Config::from_lookup(env(&[
            ("DATABASE_URL", "p"),
            ("JWT_SECRET", "s"),
            ("APP_PORT", "http")
        ]))
        .is_err());
    }
}
