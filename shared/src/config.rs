//! Configuration from the environment. Secrets are wrapped so they never reach a log.

use std::net::IpAddr;

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

/// Connections a process serves at once unless `APP_MAX_CONNECTIONS` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

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
    /// `APP_HOST`, the address to listen on; default all interfaces (`0.0.0.0`), as a pod
    /// needs.
    pub app_host: IpAddr,
    /// `APP_PORT`, default 8080.
    pub app_port: u16,
    /// `APP_MAX_CONNECTIONS`, the connections served at once; default `DEFAULT_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// `JWT_SECRET` (required): the HS256 key shared with the auth service.
    pub jwt_secret: Secret,
    /// `JWT_AUDIENCE`: when set, a token must name it in `aud`; when unset, `aud` is not
    /// checked.
    pub jwt_audience: Option<String>,
    /// `LOG_FORMAT=json|pretty`; default json unless stdout is a terminal.
    pub log_format: LogFormat,
    /// `LOG_LEVEL` (an `EnvFilter` directive, e.g. `info` or `shared=debug`); default `info`.
    pub log_level: String,
    /// `PUBSUB_TRANSPORT=dapr|kafka|none`, default dapr: where a function binary publishes.
    /// `kafka` needs a build with the `kafka` feature, which the function binaries turn on
    /// (the library's default features do not). `todo-local` ignores it: its in-process bus
    /// carries the events.
    pub transport: Transport,
    /// `SUBSCRIBE_TRANSPORT=dapr|kafka`, default dapr: how a function with subscriptions
    /// receives its events, from its sidecar, or straight from Kafka
    /// (`events::kafka_subscriber`; the function then lists no subscriptions to a sidecar).
    /// `kafka` needs the `kafka` feature too; `todo-local` ignores the setting.
    pub subscribe_transport: Transport,
    /// `PUBSUB_NAME`, the Dapr pub/sub component; default `pubsub`.
    pub pubsub_name: String,
    /// `DAPR_HTTP_PORT`, default 3500.
    pub dapr_http_port: u16,
    /// `KAFKA_BROKERS` (for `PUBSUB_TRANSPORT=kafka` and `SUBSCRIBE_TRANSPORT=kafka`),
    /// default `127.0.0.1:9092`.
    pub kafka_brokers: String,
    /// `WEBHOOK_ALLOWED_HOSTS`: comma-separated host names or IPs that webhooks may target
    /// even though they are private or loopback (e.g. an in-cluster receiver); default none.
    pub webhook_allowed_hosts: Vec<String>,
    /// `STATE_STORE`: the Dapr state store component the chat keeps its conversations in
    /// (`statestore` in the chart); unset, they live in the database.
    pub state_store: Option<String>,
    /// `MCP_URL`: where the chat reaches the MCP tools; default the `mcp` app through the
    /// Dapr sidecar (`/v1.0/invoke/mcp/method/mcp`).
    pub mcp_url: Option<String>,
    /// `DAPR_API_TOKEN`: sent as `dapr-api-token` on the chat's calls to the MCP tools (at
    /// `MCP_URL`, by default through its sidecar), for a sidecar that requires one
    /// (`dapr.io/api-token-secret`, which the chart does not set). The other calls to the
    /// sidecar (publish, jobs, state) do not send it.
    pub dapr_api_token: Option<Secret>,
    /// `MCP_ALLOWED_HOSTS`: comma-separated `Host` names (or `host:port`) the MCP endpoint
    /// answers, besides the defaults (`default_mcp_hosts`); `*` answers any.
    pub mcp_allowed_hosts: Vec<String>,
    /// Who may call the routes only the sidecar should call (subscriptions, bindings,
    /// jobs): `APP_API_TOKEN` or `UNSAFE_OPEN_EVENT_ROUTES=true`; with neither, nobody.
    pub sidecar_access: SidecarAccess,
}

/// Who may call a function's sidecar routes (`/events/...`, `/reminder-cron`, `/job/...`,
/// `/dapr/subscribe`). Whoever can call them can forge any user's events, so they are
/// closed unless the deployment says otherwise.
#[derive(Debug, Clone)]
pub enum SidecarAccess {
    /// `APP_API_TOKEN`: callers must send it in `dapr-api-token`, as daprd does when it has
    /// the same token (the chart's `dapr.io/app-token-secret`).
    Token(Secret),
    /// `UNSAFE_OPEN_EVENT_ROUTES=true`: anyone who reaches the port may call them (only
    /// where the network already guarantees the caller is the sidecar).
    Open,
    /// Neither is set: every call is refused.
    Closed,
}

impl SidecarAccess {
    /// Reads `APP_API_TOKEN` and `UNSAFE_OPEN_EVENT_ROUTES` (`true` or `false`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let token = get("APP_API_TOKEN").filter(|v| !v.is_empty());
        let open = match get("UNSAFE_OPEN_EVENT_ROUTES").as_deref() {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => bail!("UNSAFE_OPEN_EVENT_ROUTES={other:?}: use true or false"),
        };
        Ok(match (token, open) {
            (Some(_), true) => bail!(
                "APP_API_TOKEN and UNSAFE_OPEN_EVENT_ROUTES=true are both set: keep the token"
            ),
            (Some(token), false) => SidecarAccess::Token(Secret(token)),
            (None, true) => SidecarAccess::Open,
            (None, false) => SidecarAccess::Closed,
        })
    }

    /// Logs what an operator should know about this setting at start.
    pub fn warn_if_unsafe(&self) {
        match self {
            SidecarAccess::Token(_) => {}
            SidecarAccess::Open => tracing::warn!(
                "UNSAFE_OPEN_EVENT_ROUTES=true: anyone who reaches this port can deliver \
                 events, fire bindings and jobs; set APP_API_TOKEN instead"
            ),
            SidecarAccess::Closed => tracing::warn!(
                "APP_API_TOKEN is not set: the event, binding and job routes refuse every \
                 call (set it, and the same token in the Dapr sidecar)"
            ),
        }
    }
}

/// What a setting is when the environment leaves it out. A function binary in a pod must be
/// given its database and secret, and listens on every interface (`Defaults::function`);
/// `todo-local` on a laptop has a database file of its own, a development secret, and
/// listens on loopback only.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub database_url: Option<String>,
    pub jwt_secret: Option<String>,
    pub app_host: IpAddr,
}

impl Defaults {
    pub fn function() -> Self {
        Defaults {
            database_url: None,
            jwt_secret: None,
            app_host: IpAddr::from([0, 0, 0, 0]),
        }
    }
}

impl Config {
    /// A function binary's settings.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Self::with_defaults(get, &Defaults::function())
    }

    /// The settings in `get`, with `defaults` for those it leaves out.
    pub fn with_defaults(
        get: impl Fn(&str) -> Option<String>,
        defaults: &Defaults,
    ) -> anyhow::Result<Self> {
        let database_url = get("DATABASE_URL")
            .filter(|v| !v.is_empty())
            .or_else(|| defaults.database_url.clone())
            .context("DATABASE_URL is not set")?;
        let jwt_secret = get("JWT_SECRET")
            .filter(|v| !v.is_empty())
            .or_else(|| defaults.jwt_secret.clone())
            .context("JWT_SECRET is not set")?;
        let app_port = match get("APP_PORT") {
            Some(p) => p
                .parse()
                .with_context(|| format!("APP_PORT={p:?} is not a port number"))?,
            None => 8080,
        };
        let app_host = match get("APP_HOST") {
            Some(h) => h
                .parse()
                .with_context(|| format!("APP_HOST={h:?} is not an IP address"))?,
            None => defaults.app_host,
        };
        let database_max_connections = match get("DATABASE_MAX_CONNECTIONS") {
            Some(n) => n.parse().ok().filter(|n| *n > 0).with_context(|| {
                format!("DATABASE_MAX_CONNECTIONS={n:?} is not a positive number")
            })?,
            None => 10,
        };
        let max_connections =
            match get("APP_MAX_CONNECTIONS") {
                Some(n) => n.parse().ok().filter(|n| *n > 0).with_context(|| {
                    format!("APP_MAX_CONNECTIONS={n:?} is not a positive number")
                })?,
                None => DEFAULT_MAX_CONNECTIONS,
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
        let subscribe_transport = match get("SUBSCRIBE_TRANSPORT").as_deref() {
            None | Some("dapr") => Transport::Dapr,
            Some("kafka") => Transport::Kafka,
            Some(other) => bail!("SUBSCRIBE_TRANSPORT={other:?}: use dapr or kafka"),
        };
        let dapr_http_port = match get("DAPR_HTTP_PORT") {
            Some(p) => p
                .parse()
                .with_context(|| format!("DAPR_HTTP_PORT={p:?} is not a port number"))?,
            None => 3500,
        };
        Ok(Config {
            transport,
            subscribe_transport,
            pubsub_name: get("PUBSUB_NAME").unwrap_or_else(|| "pubsub".into()),
            dapr_http_port,
            kafka_brokers: get("KAFKA_BROKERS").unwrap_or_else(|| "127.0.0.1:9092".into()),
            database_url: Secret(database_url),
            database_max_connections,
            app_host,
            app_port,
            max_connections,
            jwt_secret: Secret(jwt_secret),
            jwt_audience: get("JWT_AUDIENCE").filter(|v| !v.is_empty()),
            log_format,
            log_level: get("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            sidecar_access: SidecarAccess::from_lookup(&get)?,
            state_store: get("STATE_STORE").filter(|v| !v.is_empty()),
            mcp_url: get("MCP_URL").filter(|v| !v.is_empty()),
            dapr_api_token: get("DAPR_API_TOKEN").filter(|v| !v.is_empty()).map(Secret),
            mcp_allowed_hosts: default_mcp_hosts()
                .into_iter()
                .chain(
                    get("MCP_ALLOWED_HOSTS")
                        .map(|v| host_list(&v))
                        .unwrap_or_default(),
                )
                .collect(),
            webhook_allowed_hosts: get("WEBHOOK_ALLOWED_HOSTS")
                .map(|v| host_list(&v))
                .unwrap_or_default(),
        })
    }
}

/// The `Host` names the MCP endpoint always answers: loopback (a local client, or a Dapr
/// sidecar invoking it) and the function's Service name, `mcp`.
pub fn default_mcp_hosts() -> Vec<String> {
    ["localhost", "127.0.0.1", "::1", "mcp"]
        .into_iter()
        .map(String::from)
        .collect()
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
        assert_eq!(c.subscribe_transport, Transport::Dapr);
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
    fn the_sidecar_routes_are_closed_unless_a_token_or_the_unsafe_opt_out_is_set() {
        let access = |pairs| SidecarAccess::from_lookup(env(pairs));
        assert!(matches!(access(&[]).unwrap(), SidecarAccess::Closed));
        assert!(matches!(
            access(&[("APP_API_TOKEN", "")]).unwrap(),
            SidecarAccess::Closed
        ));
        assert!(matches!(
            access(&[("APP_API_TOKEN", "t")]).unwrap(),
            SidecarAccess::Token(_)
        ));
        assert!(matches!(
            access(&[("UNSAFE_OPEN_EVENT_ROUTES", "true")]).unwrap(),
            SidecarAccess::Open
        ));
        assert!(matches!(
            access(&[("UNSAFE_OPEN_EVENT_ROUTES", "false")]).unwrap(),
            SidecarAccess::Closed
        ));
        assert!(access(&[("UNSAFE_OPEN_EVENT_ROUTES", "yes")]).is_err());
        assert!(access(&[("APP_API_TOKEN", "t"), ("UNSAFE_OPEN_EVENT_ROUTES", "true")]).is_err());
    }

    #[test]
    fn reads_the_listen_address() {
        let base = [("DATABASE_URL", "postgres://x"), ("JWT_SECRET", "s")];
        let c = Config::from_lookup(env(&base)).unwrap();
        assert_eq!(c.app_host.to_string(), "0.0.0.0");
        let c = Config::from_lookup(env(&[base[0], base[1], ("APP_HOST", "127.0.0.1")])).unwrap();
        assert_eq!(c.app_host.to_string(), "127.0.0.1");
        assert!(
            Config::from_lookup(env(&[base[0], base[1], ("APP_HOST", "localhost:1")])).is_err()
        );
    }

    #[test]
    fn reads_the_subscribe_transport() {
        let base = [("DATABASE_URL", "postgres://x"), ("JWT_SECRET", "s")];
        let with = |value| {
            let mut pairs = base.to_vec();
            pairs.push(("SUBSCRIBE_TRANSPORT", value));
            Config::from_lookup(env(&pairs)).map(|c| c.subscribe_transport)
        };
        assert_eq!(with("kafka").unwrap(), Transport::Kafka);
        assert_eq!(with("dapr").unwrap(), Transport::Dapr);
        let refused = with("none").unwrap_err().to_string();
        assert!(refused.contains("SUBSCRIBE_TRANSPORT"), "{refused}");
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
