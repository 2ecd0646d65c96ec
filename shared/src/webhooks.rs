//! Webhooks, the way reminders reach a user: which URLs may be registered, how each
//! delivery is signed, and the delivery itself.
//!
//! A webhook must be `http` or `https`, at most `MAX_URL_LEN` characters as stored (the
//! normalised URL: percent-encoded, punycode host), free of control characters, and every
//! address its host resolves to must be a public one: every block the IANA special-purpose
//! registries mark as not globally reachable is refused (loopback, private, link-local,
//! shared, documentation, IPv6 site-local, discard, ...), and so are multicast, reserved
//! space and IPv6 outside 2000::/3; an IPv6 address that leads to an IPv4 address
//! (IPv4-mapped, NAT64, 6to4) is judged by that address, and the deprecated IPv4-compatible
//! and IPv4-translated forms are refused outright (`not_public` has the table). So a user
//! cannot aim the service at its own network, unless the host is listed in
//! `WEBHOOK_ALLOWED_HOSTS`. The check runs at registration and again at each delivery (a DNS
//! answer can change in between), and the delivery connects only to the addresses that
//! passed it: its HTTP client resolves no other name, never uses a proxy (HTTP_PROXY and
//! the like are ignored for webhooks), never follows redirects and gives up after `TIMEOUT`.
//!
//! Each delivery is a JSON `POST` whose body is signed with HMAC-SHA256 under the
//! webhook's secret: `X-Todo-Signature: sha256=<hex>`. `X-Todo-Event-Id` carries the event
//! id, so a receiver can drop the rare duplicate.
//!
//! A failed delivery is retried from the database, never by handing its event back to the
//! broker (which would hold up the event's partition, and every other user's reminders
//! behind it, for as long as one endpoint is down): the attempt is recorded with the time
//! of the next one (`next_attempt_at`: exponential backoff), and the retry sweep
//! (`retry_due`, run by the reminder tick) sends it again then, until it is delivered or
//! has had `MAX_DELIVERY_ATTEMPTS`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use serde::Serialize;
use sha2::Sha256;
use uuid::Uuid;

use crate::store::{DeliveryAttempt, DueRetry, Store, StoreError, WebhookTarget};

pub const SIGNATURE_HEADER: &str = "x-todo-signature";
pub const EVENT_ID_HEADER: &str = "x-todo-event-id";
pub const EVENT_TYPE_HEADER: &str = "x-todo-event-type";
/// One delivery attempt may take this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest webhook URL, in characters as stored (normalised): the database's
/// `webhooks.url` check, `length(url) between 1 and 2000` (migrations/*_reminders_webhooks.sql).
pub const MAX_URL_LEN: usize = 2000;

/// A (event, webhook) pair is attempted at most this many times.
pub const MAX_DELIVERY_ATTEMPTS: i32 = 8;
/// After failed attempt n the next one waits `RETRY_BASE * 2^(n-1)`, at most `RETRY_MAX`:
/// the last attempt comes about an hour after the first. The sweep runs on the reminder
/// tick, so a retry is as punctual as the tick.
pub const RETRY_BASE: Duration = Duration::from_secs(30);
pub const RETRY_MAX: Duration = Duration::from_secs(3600);
/// How long a claimed attempt (a first one, or a retry) stays claimed: one never recorded
/// (its process died, or its caller stopped waiting) is due again after this, well past
/// one attempt's `TIMEOUT`.
pub const RETRY_LEASE: Duration = Duration::from_secs(300);
/// Retries one sweep claims and attempts, all at once: a sweep then takes at most about
/// one `TIMEOUT`, however many endpoints are down, and the next sweep takes the rest.
pub const RETRIES_PER_SWEEP: usize = 200;

/// When to try again after `attempts` failed attempts; `None`: give up.
pub fn next_attempt_at(attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= MAX_DELIVERY_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).clamp(0, 16) as u32;
    let wait = RETRY_BASE.saturating_mul(1 << doublings).min(RETRY_MAX);
    Some(now + chrono::Duration::from_std(wait).expect("at most RETRY_MAX"))
}

/// Until when an attempt claimed at `now` stays claimed.
fn leased_from(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(RETRY_LEASE).expect("a few minutes")
}

/// What one retry sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    /// Retries attempted, those that were delivered, and those given up after their last.
    pub attempted: usize,
    pub delivered: usize,
    pub given_up: usize,
}

/// HMAC-SHA256 of `body` under `secret`, ready to finalize or verify.
fn mac(secret: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    mac
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

/// Checks a signature header in constant time (what a receiver does).
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    mac(secret, body).verify_slice(&sig).is_ok()
}

/// The address blocks a webhook may not target, first match naming it: every block the IANA
/// IPv4 and IPv6 Special-Purpose Address Registries mark as not globally reachable (as of
/// 2025), plus multicast, reserved and deprecated space. A block is (network, prefix length,
/// what it is).
///
/// Globally reachable exceptions inside a refused block are refused with it (none is a
/// webhook endpoint): 192.0.0.9 and 192.0.0.10 (PCP and TURN anycast) in 192.0.0.0/24,
/// 192.88.99.2 (6a44 relay anycast) in 192.88.99.0/24; in 2001::/23, 2001:1::1-3 (PCP, TURN,
/// DNS-SD SRP anycast), 2001:3::/32 (AMT), 2001:4:112::/48 (AS112-v6), 2001:20::/28
/// (ORCHIDv2, identifiers rather than locators) and 2001:30::/28 (drone remote ID).
/// The globally reachable blocks 192.31.196.0/24 and 192.175.48.0/24 (AS112) and
/// 192.52.193.0/24 (AMT) are not refused.
#[rustfmt::skip]
const V4_NOT_PUBLIC: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0),         8,  "\"this network\", 0.0.0.0/8"),
    (Ipv4Addr::new(10, 0, 0, 0),        8,  "private-use, 10.0.0.0/8"),
    (Ipv4Addr::new(100, 64, 0, 0),      10, "shared address space (carrier-grade NAT), 100.64.0.0/10"),
    (Ipv4Addr::new(127, 0, 0, 0),       8,  "loopback, 127.0.0.0/8"),
    (Ipv4Addr::new(169, 254, 0, 0),     16, "link-local, 169.254.0.0/16"),
    (Ipv4Addr::new(172, 16, 0, 0),      12, "private-use, 172.16.0.0/12"),
    (Ipv4Addr::new(192, 0, 0, 0),       24, "IETF protocol assignments, 192.0.0.0/24"),
    (Ipv4Addr::new(192, 0, 2, 0),       24, "documentation (TEST-NET-1), 192.0.2.0/24"),
    (Ipv4Addr::new(192, 88, 99, 0),     24, "6to4 relay anycast (deprecated), 192.88.99.0/24"),
    (Ipv4Addr::new(192, 168, 0, 0),     16, "private-use, 192.168.0.0/16"),
    (Ipv4Addr::new(198, 18, 0, 0),      15, "benchmarking, 198.18.0.0/15"),
    (Ipv4Addr::new(198, 51, 100, 0),    24, "documentation (TEST-NET-2), 198.51.100.0/24"),
    (Ipv4Addr::new(203, 0, 113, 0),     24, "documentation (TEST-NET-3), 203.0.113.0/24"),
    (Ipv4Addr::new(224, 0, 0, 0),       4,  "multicast, 224.0.0.0/4"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "limited broadcast, 255.255.255.255/32"),
    (Ipv4Addr::new(240, 0, 0, 0),       4,  "reserved, 240.0.0.0/4"),
];

/// IPv6 blocks that carry an IPv4 address: such an address is exactly as public as the IPv4
/// address it leads to, which is the 32 bits `shift` bits from the right.
///
/// 6to4 (2002::/16) is "N/A" for global reachability in the registry (RFC 7526 deprecated
/// it): an address there is read as reachable exactly when its embedded IPv4 address is, so
/// 2002:7f00:1:: (127.0.0.1) is refused and 2002:808:808:: (8.8.8.8) is not.
#[rustfmt::skip]
const V6_EMBEDDING_V4: &[(Ipv6Addr, u8, u32, &str)] = &[
    // (network, prefix length, shift, name)
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),    96, 0,  "IPv4-mapped"),
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, 0,  "NAT64"),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),    16, 80, "6to4"),
];

/// IPv6 blocks a webhook may not target (see `V4_NOT_PUBLIC`), first match naming it.
/// Besides these, anything outside 2000::/3, the only space IANA allocates for global
/// unicast, is refused.
#[rustfmt::skip]
const V6_NOT_PUBLIC: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),            128, "unspecified, ::/128"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1),            128, "loopback, ::1/128"),
    (Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0),       96,  "IPv4-translated (SIIT), ::ffff:0:0:0/96"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),            96,  "IPv4-compatible (deprecated), ::/96"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),    48,  "local-use IPv4/IPv6 translation, 64:ff9b:1::/48"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),        64,  "discard-only, 100::/64"),
    (Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),        64,  "dummy prefix, 100:0:0:1::/64"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),       32,  "Teredo, 2001::/32"),
    (Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 0),     48,  "benchmarking, 2001:2::/48"),
    (Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0),    28,  "ORCHID (deprecated), 2001:10::/28"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),       23,  "IETF protocol assignments, 2001::/23"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),   32,  "documentation, 2001:db8::/32"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),       20,  "documentation, 3fff::/20"),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),       16,  "SRv6 SIDs, 5f00::/16"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),       7,   "unique local, fc00::/7"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),       10,  "link-local, fe80::/10"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),       10,  "site-local (deprecated), fec0::/10"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),       8,   "multicast, ff00::/8"),
];

/// Global unicast, 2000::/3: the only IPv6 space allocated for public addresses.
const V6_GLOBAL_UNICAST: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

fn in_v4_block(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6_block(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// Why `ip` is not an ordinary public address (the block it is in), or `None` when it is
/// one. An IPv6 address that leads to an IPv4 address (IPv4-mapped, NAT64, 6to4) is judged
/// by that IPv4 address.
pub fn not_public(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => V4_NOT_PUBLIC
            .iter()
            .find(|(net, len, _)| in_v4_block(v4, *net, *len))
            .map(|(_, _, name)| (*name).to_owned()),
        IpAddr::V6(v6) => {
            if let Some((_, _, shift, name)) = V6_EMBEDDING_V4
                .iter()
                .find(|(net, len, _, _)| in_v6_block(v6, *net, *len))
            {
                // Truncation keeps exactly the 32 bits of the embedded address.
                let v4 = Ipv4Addr::from((u128::from(v6) >> shift) as u32);
                return not_public(IpAddr::V4(v4)).map(|why| format!("{name} form of {v4}: {why}"));
            }
            if let Some((_, _, name)) = V6_NOT_PUBLIC
                .iter()
                .find(|(net, len, _)| in_v6_block(v6, *net, *len))
            {
                return Some((*name).to_owned());
            }
            let (net, len) = V6_GLOBAL_UNICAST;
            (!in_v6_block(v6, net, len))
                .then(|| "outside global unicast 2000::/3 (reserved by the IETF)".to_owned())
        }
    }
}

/// Whether `ip` is an ordinary public address (see `not_public`).
pub fn is_public(ip: IpAddr) -> bool {
    not_public(ip).is_none()
}

/// Which webhook targets are acceptable, and delivery to them.
#[derive(Debug, Default)]
pub struct Webhooks {
    /// Host names (lower case) and IP addresses exempt from the public-address rule.
    allowed_hosts: Vec<String>,
}

impl Webhooks {
    pub fn new(allowed_hosts: impl IntoIterator<Item = String>) -> Self {
        Webhooks {
            allowed_hosts: allowed_hosts
                .into_iter()
                .map(|h| normalize_host(h.trim()))
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Parses a URL a user wants to register: absolute http(s), with a host, without
    /// credentials or a fragment, free of control characters, and at most `MAX_URL_LEN`
    /// characters as sent and as stored (normalised: percent-encoded, punycode host). The
    /// address check is `resolve`.
    pub fn parse_url(&self, raw: &str) -> Result<Url, String> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        // The URL parser would silently drop tabs and newlines and encode the rest.
        if raw.chars().any(char::is_control) {
            return Err(
                "must not contain control characters (such as a newline, tab or NUL)".into(),
            );
        }
        let url = Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".into());
        }
        if url.host_str().filter(|h| !h.is_empty()).is_none() {
            return Err("must name a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials; use the webhook secret".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        // One receiver, one URL (RFC 3986 §6.2.2): `/ok/%6E?` is `/ok/n`, so registering it
        // again is the conflict it is.
        let mut url = url;
        let path = decode_unreserved(url.path());
        url.set_path(&path);
        match url.query().map(decode_unreserved) {
            Some(query) if query.is_empty() => url.set_query(None),
            Some(query) => url.set_query(Some(&query)),
            None => {}
        }
        // What is stored is the normalised form, which can be longer than what was sent.
        let stored = url.as_str().chars().count();
        if stored > MAX_URL_LEN {
            return Err(format!(
                "must be at most {MAX_URL_LEN} characters once normalised (this one is \
                 {stored} with its non-ASCII characters percent-encoded and its host in \
                 punycode); shorten it"
            ));
        }
        Ok(url)
    }

    /// The addresses a delivery to `url` may connect to: all its host resolves to, each
    /// public (see `not_public`) unless the host is allowed.
    pub async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, String> {
        let host = url.host_str().ok_or("must name a host")?;
        let host = normalize_host(host);
        let port = url.port_or_known_default().ok_or("has no port")?;
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| format!("host {host} does not resolve"))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(format!("host {host} does not resolve"));
        }
        if !self.is_allowed(&host) {
            check_public(&addrs)?;
        }
        Ok(addrs)
    }

    fn is_allowed(&self, host: &str) -> bool {
        let ip = host.parse::<IpAddr>().ok();
        self.allowed_hosts.iter().any(|allowed| {
            allowed == host || (ip.is_some() && allowed.parse::<IpAddr>().ok() == ip)
        })
    }

    /// The first attempts of `payload` (event `event_id` of `event_type`) to each of the
    /// user's webhooks that has had none, all at once, each claimed before it is made (see
    /// `WebhookStore::claim_first_deliveries`): a redelivered event is never sent twice to
    /// a webhook, not even while the first attempt is in flight. Failures are left to the
    /// retry sweep.
    pub async fn deliver_first(
        &self,
        store: &dyn Store,
        user_id: &str,
        event_id: Uuid,
        event_type: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        let targets = store
            .claim_first_deliveries(
                user_id,
                event_id,
                payload,
                leased_from(crate::domain::now()),
            )
            .await?;
        let outcomes = futures::future::join_all(
            targets
                .iter()
                .map(|target| self.attempt(store, target, event_id, event_type, 0, payload)),
        )
        .await;
        for outcome in outcomes {
            outcome?;
        }
        Ok(())
    }

    /// Delivers `payload` (an event of `event_type`) to `target`, which has had `attempts`
    /// attempts of it so far, and records the outcome with the time of the next attempt
    /// should one be owed. True when it was delivered.
    pub async fn attempt(
        &self,
        store: &dyn Store,
        target: &WebhookTarget,
        event_id: Uuid,
        event_type: &str,
        attempts: i32,
        payload: &str,
    ) -> Result<DeliveryAttempt, StoreError> {
        let outcome = self
            .deliver(target, event_id, event_type, payload.as_bytes())
            .await;
        let next = match outcome.delivered() {
            true => None,
            false => next_attempt_at(attempts + 1, outcome.at),
        };
        store
            .record_delivery(event_id, target.id, &outcome, next, payload)
            .await?;
        let counted = match (outcome.delivered(), next) {
            (true, _) => "delivered",
            (false, Some(_)) => "retrying",
            (false, None) => "failed",
        };
        metrics::counter!("webhook_deliveries_total", "outcome" => counted).increment(1);
        match &outcome.error {
            None => tracing::info!(webhook_id = %target.id, %event_id, "delivered"),
            Some(error) => match next {
                Some(next) => {
                    tracing::warn!(webhook_id = %target.id, %event_id, %error, %next, "delivery failed; retrying later")
                }
                None => {
                    tracing::warn!(webhook_id = %target.id, %event_id, %error, "delivery failed; given up after the last attempt")
                }
            },
        }
        Ok(outcome)
    }

    /// The retry sweep: claims the failed deliveries whose next attempt is due and attempts
    /// them again, concurrently.
    pub async fn retry_due(&self, store: &dyn Store) -> Result<RetryReport, StoreError> {
        let now = crate::domain::now();
        let due = store
            .claim_due_retries(RETRIES_PER_SWEEP, now, leased_from(now))
            .await?;
        // All at once: `RETRIES_PER_SWEEP` bounds them.
        let outcomes =
            futures::future::join_all(due.iter().map(|retry| self.retry(store, retry))).await;
        let mut report = RetryReport::default();
        for outcome in outcomes {
            let (delivered, attempts) = outcome?;
            report.attempted += 1;
            if delivered {
                report.delivered += 1;
            } else if attempts >= MAX_DELIVERY_ATTEMPTS {
                report.given_up += 1;
            }
        }
        Ok(report)
    }

    /// One claimed retry: (delivered, attempts made).
    async fn retry(&self, store: &dyn Store, retry: &DueRetry) -> Result<(bool, i32), StoreError> {
        let event_type = serde_json::from_str::<EventType>(&retry.payload)
            .map(|e| e.event_type)
            .unwrap_or_default();
        let outcome = self
            .attempt(
                store,
                &retry.webhook,
                retry.event_id,
                &event_type,
                retry.attempts,
                &retry.payload,
            )
            .await?;
        Ok((outcome.delivered(), retry.attempts + 1))
    }

    /// One signed delivery of `body` (event `event_id` of `event_type`) to `target`.
    /// Success is a 2xx answer within `TIMEOUT`; redirects are not followed.
    pub async fn deliver(
        &self,
        target: &WebhookTarget,
        event_id: uuid::Uuid,
        event_type: &str,
        body: &[u8],
    ) -> DeliveryAttempt {
        let at = crate::domain::now();
        let failed = |status: Option<u16>, error: String| DeliveryAttempt {
            at,
            status,
            error: Some(error),
        };
        let url = match self.parse_url(&target.url) {
            Ok(url) => url,
            Err(e) => return failed(None, format!("the URL {e}")),
        };
        let addrs = match self.resolve(&url).await {
            Ok(addrs) => addrs,
            Err(e) => return failed(None, format!("the URL {e}")),
        };
        let host = normalize_host(url.host_str().unwrap_or_default());
        // The client connects only to `addrs`: it never uses a proxy (one would resolve the
        // host itself), and its resolver answers only for this host, with these addresses,
        // checked again. (An IP-literal host is never looked up: it is `addrs`.)
        let resolver = PinnedResolver {
            public_only: !self.is_allowed(&host),
            host,
            addrs,
        };
        let client = match reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .dns_resolver(Arc::new(resolver))
            .build()
        {
            Ok(client) => client,
            Err(e) => return failed(None, format!("HTTP client: {e}")),
        };
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::USER_AGENT, "todo-notify/1")
            .header(SIGNATURE_HEADER, sign(target.secret.expose(), body))
            .header(EVENT_ID_HEADER, event_id.to_string())
            .header(EVENT_TYPE_HEADER, event_type)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => DeliveryAttempt {
                at,
                status: Some(response.status().as_u16()),
                error: None,
            },
            Ok(response) => failed(
                Some(response.status().as_u16()),
                format!("the endpoint answered {}", response.status()),
            ),
            Err(e) if e.is_timeout() => failed(None, format!("no answer within {TIMEOUT:?}")),
            Err(e) => failed(None, format!("{:#}", anyhow::Error::from(e.without_url()))),
        }
    }
}

/// The type of a stored event (`X-Todo-Event-Type` of its retries).
#[derive(serde::Deserialize)]
struct EventType {
    event_type: String,
}

/// Refuses `addrs` unless every one is public, naming the first that is not.
fn check_public(addrs: &[SocketAddr]) -> Result<(), String> {
    match addrs
        .iter()
        .find_map(|a| Some((a.ip(), not_public(a.ip())?)))
    {
        None => Ok(()),
        Some((ip, why)) => Err(format!(
            "leads to {ip}, which is not a public address ({why}); a webhook must be reachable \
             on the public internet"
        )),
    }
}

/// The DNS resolver of a delivery's HTTP client: it answers only for the webhook's host, with
/// the addresses checked before the delivery (checked again here, so that no lookup the
/// client makes can reach an address that was not), and refuses every other name.
struct PinnedResolver {
    host: String,
    addrs: Vec<SocketAddr>,
    public_only: bool,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let answer = if normalize_host(name.as_str()) != self.host {
            Err(format!(
                "the delivery to {} tried to look up {}",
                self.host,
                name.as_str()
            ))
        } else if self.public_only {
            check_public(&self.addrs).map(|()| self.addrs.clone())
        } else {
            Ok(self.addrs.clone())
        };
        Box::pin(std::future::ready(
            answer
                .map(|addrs| Box::new(addrs.into_iter()) as Addrs)
                .map_err(|e| e.into()),
        ))
    }
}

/// Lower case, without the brackets of an IPv6 literal.
/// `text` with its percent-encoded unreserved characters (letters, digits, `-._~`) decoded
/// and the other escapes in upper case: equivalent URLs written one way (RFC 3986 §6.2.2).
fn decode_unreserved(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(b) if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                out.push(b as char);
                i += 3;
            }
            Some(b) => {
                out.push_str(&format!("%{b:02X}"));
                i += 3;
            }
            None => {
                let c = text[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    out
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_the_maximum_then_give_up() {
        let now = crate::domain::now();
        let waits: Vec<i64> = (1..MAX_DELIVERY_ATTEMPTS)
            .map(|n| (next_attempt_at(n, now).unwrap() - now).num_seconds())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920]);
        assert_eq!(next_attempt_at(MAX_DELIVERY_ATTEMPTS, now), None);
        assert_eq!(next_attempt_at(i32::MAX, now), None);
    }

    #[test]
    fn signatures_verify_only_with_the_same_secret_and_body() {
        let sig = sign("s3cret-s3cret-s3cret", b"{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify("s3cret-s3cret-s3cret", b"{\"a\":1}", &sig));
        assert!(!verify("another-secret-here", b"{\"a\":1}", &sig));
        assert!(!verify("s3cret-s3cret-s3cret", b"{\"a\":2}", &sig));
        assert!(!verify("s3cret-s3cret-s3cret", b"{\"a\":1}", "sha256=zz"));
        assert!(!verify("s3cret-s3cret-s3cret", b"{\"a\":1}", &sig[7..]));
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        let sig = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    /// Every not globally reachable block of the IANA special-purpose registries (and
    /// multicast, reserved, deprecated space), at its edges, with the name the refusal gives.
    #[test]
    fn special_purpose_addresses_are_refused_with_their_block() {
        for (ip, block) in [
            // IPv4
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.255.255.255", "0.0.0.0/8"),
            ("10.0.0.0", "10.0.0.0/8"),
            ("10.255.255.255", "10.0.0.0/8"),
            ("100.64.0.0", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.255.254", "127.0.0.0/8"),
            ("169.254.0.0", "169.254.0.0/16"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("172.16.0.0", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.0.0.0", "192.0.0.0/24"),
            ("192.0.0.8", "192.0.0.0/24"),
            ("192.0.0.9", "192.0.0.0/24"), // PCP anycast: globally reachable, refused anyway
            ("192.0.0.170", "192.0.0.0/24"),
            ("192.0.0.255", "192.0.0.0/24"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("192.88.99.0", "192.88.99.0/24"),
            ("192.88.99.255", "192.88.99.0/24"),
            ("192.168.0.0", "192.168.0.0/16"),
            ("192.168.255.255", "192.168.0.0/16"),
            ("198.18.0.0", "198.18.0.0/15"),
            ("198.19.255.255", "198.18.0.0/15"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.7", "203.0.113.0/24"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("239.255.255.255", "224.0.0.0/4"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.254", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255/32"),
            // IPv6
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("::127.0.0.1", "::/96"),
            ("::169.254.169.254", "::/96"),
            ("::8.8.8.8", "::/96"), // IPv4-compatible is deprecated whatever it embeds
            ("::ffff:127.0.0.1", "127.0.0.0/8"),
            ("::ffff:169.254.169.254", "169.254.0.0/16"),
            ("::ffff:0:127.0.0.1", "::ffff:0:0:0/96"),
            ("::ffff:0:8.8.8.8", "::ffff:0:0:0/96"),
            ("64:ff9b::127.0.0.1", "127.0.0.0/8"),
            ("64:ff9b::10.0.0.1", "10.0.0.0/8"),
            ("64:ff9b:1::1", "64:ff9b:1::/48"),
            ("64:ff9b:1:ffff::8.8.8.8", "64:ff9b:1::/48"),
            ("100::", "100::/64"),
            ("100::ffff:ffff:ffff:ffff", "100::/64"),
            ("100:0:0:1::1", "100:0:0:1::/64"),
            ("2001::1", "2001::/32"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32"),
            ("2001:1::1", "2001::/23"),
            ("2001:2::1", "2001:2::/48"),
            ("2001:3::1", "2001::/23"),
            ("2001:10::1", "2001:10::/28"),
            ("2001:1f::1", "2001:10::/28"),
            ("2001:20::1", "2001::/23"),
            ("2001:2f::1", "2001::/23"),
            ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23"),
            ("2001:db8::1", "2001:db8::/32"),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"),
            ("2002:7f00:1::1", "127.0.0.0/8"),
            ("2002:a00:1::", "10.0.0.0/8"),
            ("2002:a9fe:a9fe::1", "169.254.0.0/16"),
            ("2002:c0a8:101::1", "192.168.0.0/16"),
            ("2002::1", "0.0.0.0/8"),
            ("3fff::1", "3fff::/20"),
            ("3fff:fff:ffff::1", "3fff::/20"),
            ("5f00::1", "5f00::/16"),
            ("5f00:ffff::1", "5f00::/16"),
            ("fc00::1", "fc00::/7"),
            ("fdff:ffff::1", "fc00::/7"),
            ("fe80::1", "fe80::/10"),
            ("febf:ffff::1", "fe80::/10"),
            ("fec0::1", "fec0::/10"),
            ("feff:ffff::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("ff0e::1", "ff00::/8"),
            // Outside 2000::/3, reserved by the IETF
            ("1::1", "2000::/3"),
            ("1fff:ffff::1", "2000::/3"),
            ("4000::1", "2000::/3"),
            ("e000::1", "2000::/3"),
        ] {
            let why = not_public(ip.parse().unwrap());
            assert!(
                why.as_deref().is_some_and(|w| w.contains(block)),
                "{ip} should be refused as {block}: {why:?}"
            );
        }
    }

    #[test]
    fn ordinary_public_addresses_are_accepted() {
        for ip in [
            // IPv4, including the neighbours of refused blocks and the globally reachable
            // special-purpose blocks (AS112, AMT)
            "1.1.1.1",
            "8.8.8.8",
            "9.9.9.9",
            "93.184.216.34",
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "192.175.48.1",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            // IPv6
            "2606:4700::1111",
            "2606:4700:4700::1001",
            "2001:4860:4860::8888",
            "2a00:1450:4001:82b::200e",
            "2620:fe::fe",
            "2620:4f:8000::1",
            "2001:200::1",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::1",
            "2000::1",
            "2003::1",
            "3ffe::1",
            "3fff:1000::1",
            "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            // Embedding a public IPv4 address
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2002:5db8:d822::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(not_public(ip), None, "{ip} is public");
        }
    }

    /// Equivalent ways to write one URL are stored as one, so registering it again is 409.
    #[test]
    fn equivalent_urls_are_one_url() {
        let w = Webhooks::default();
        let url = |raw: &str| w.parse_url(raw).unwrap().to_string();
        let plain = url("http://example.com/ok/n");
        for same in [
            "http://example.com/ok/n?",
            "http://example.com/ok/%6E",
            "HTTP://EXAMPLE.com/ok/%6e?",
        ] {
            assert_eq!(url(same), plain, "{same}");
        }
        assert_eq!(
            url("http://e.com/a%2fb?q=%7e%3d"),
            "http://e.com/a%2Fb?q=~%3D"
        );
        assert_eq!(
            url("http://e.com/caf%C3%A9?x=%"),
            "http://e.com/caf%C3%A9?x=%"
        );
    }

    #[test]
    fn urls_must_be_plain_http_or_https() {
        let w = Webhooks::default();
        assert!(w.parse_url("https://example.com/hook?x=1").is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "not a url",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "/relative",
        ] {
            assert!(w.parse_url(bad).is_err(), "{bad}");
        }
        assert!(w
            .parse_url(&format!("https://e.com/{}", "a".repeat(2000)))
            .is_err());
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        let strict = Webhooks::default();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
            "http://localhost:8080/",
            "http://10.0.0.5/",
        ] {
            let url = strict.parse_url(url).unwrap();
            assert!(strict.resolve(&url).await.is_err(), "{url}");
        }
        let allowed = Webhooks::new(["127.0.0.1".to_owned(), "LocalHost".to_owned()]);
        let url = allowed.parse_url("http://127.0.0.1:9/x").unwrap();
        assert_eq!(
            allowed.resolve(&url).await.unwrap(),
            vec!["127.0.0.1:9".parse().unwrap()]
        );
        let url = allowed.parse_url("http://localhost:9/x").unwrap();
        assert!(allowed.resolve(&url).await.is_ok());
        let url = allowed.parse_url("http://10.0.0.5/").unwrap();
        assert!(allowed.resolve(&url).await.is_err());
    }

    #[tokio::test]
    async fn other_spellings_of_private_addresses_are_refused_by_resolve() {
        let strict = Webhooks::default();
        for raw in [
            "http://[::127.0.0.1]/",
            "http://[::169.254.169.254]/latest/meta-data",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:0:127.0.0.1]/",
            "http://[2002:7f00:1::1]/",
            "http://[2001:0::1]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://[fec0::1]/",
            "http://[100::1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[64:ff9b:1::1]/",
            "http://[0:0:0:0:0:0:0:1]:8080/",
            "http://[::]/",
            "http://[ff02::1]/",
            "http://192.88.99.1/",
            "http://2130706433/", // 127.0.0.1 as one number
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0/",
            "http://[::ffff:a9fe:a9fe]/",
        ] {
            let url = strict
                .parse_url(raw)
                .unwrap_or_else(|e| panic!("{raw} parses: {e}"));
            let err = strict.resolve(&url).await.expect_err(raw);
            assert!(err.contains("not a public address"), "{raw}: {err}");
        }
        // A zone id is no way around it either.
        assert!(strict.parse_url("http://[fe80::1%25eth0]/").is_err());
        for raw in [
            "http://[2606:4700::1111]/hook",
            "https://8.8.8.8:8443/x",
            "http://[::ffff:8.8.8.8]/",
            "http://[2002:808:808::1]/",
        ] {
            let url = strict.parse_url(raw).unwrap();
            assert!(strict.resolve(&url).await.is_ok(), "{raw}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        let w = Webhooks::default();
        for bad in [
            "https://example.com/a\nb",
            "https://exa\tmple.com/",
            "https://example.com/\r\nX-Injected: 1",
            "https://example.com/\u{0}",
            "https://example.com/?q=\u{7f}",
            "https://example.com/\u{85}x",
        ] {
            let err = w.parse_url(bad).expect_err(bad);
            assert!(err.contains("control characters"), "{bad:?}: {err}");
        }
        // Blanks around the URL are trimmed, as everywhere.
        assert_eq!(
            w.parse_url(" https://example.com/hook \n")
                .unwrap()
                .as_str(),
            "https://example.com/hook"
        );
    }

    #[test]
    fn the_length_limit_is_the_databases_and_holds_once_normalised() {
        let migration = include_str!("../../migrations/20261122000003_reminders_webhooks.sql");
        assert!(
            migration.contains(&format!("check (length(url) between 1 and {MAX_URL_LEN})")),
            "MAX_URL_LEN is the webhooks.url check"
        );
        let w = Webhooks::default();
        let base = "https://example.com/";
        let longest = format!("{base}{}", "a".repeat(MAX_URL_LEN - base.len()));
        assert_eq!(w.parse_url(&longest).unwrap().as_str(), longest);
        let err = w.parse_url(&format!("{longest}a")).unwrap_err();
        assert!(err.contains("at most 2000 characters"), "{err}");
        // Short as sent, long once normalised: each "ü" is stored as "%C3%BC", each blank
        // in the query as "%20", and a Unicode host in punycode.
        for short in [
            format!("{base}{}", "ü".repeat(400)),
            format!("{base}?q={}", "a b".repeat(600)),
            format!(
                "https://{}.example.com/{}",
                "ü".repeat(20),
                "a".repeat(MAX_URL_LEN - 41) // 2000 characters as sent
            ),
        ] {
            assert!(short.chars().count() <= MAX_URL_LEN, "short as sent");
            let err = match w.parse_url(&short) {
                Ok(url) => panic!(
                    "accepted, {} characters once normalised",
                    url.as_str().len()
                ),
                Err(e) => e,
            };
            assert!(err.contains("once normalised"), "{err}");
        }
    }

    #[tokio::test]
    async fn the_delivery_resolver_answers_only_the_checked_addresses_of_its_host() {
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let resolver = PinnedResolver {
            host: "hooks.example.com".into(),
            addrs: vec![public],
            public_only: true,
        };
        let name = |n: &str| n.parse::<Name>().unwrap();
        let got: Vec<_> = resolver
            .resolve(name("Hooks.Example.COM"))
            .await
            .unwrap()
            .collect();
        assert_eq!(got, [public]);
        assert!(resolver.resolve(name("other.example.com")).await.is_err());
        assert!(resolver.resolve(name("localhost")).await.is_err());
        let private = PinnedResolver {
            host: "hooks.example.com".into(),
            addrs: vec![public, "10.0.0.1:443".parse().unwrap()],
            public_only: true,
        };
        assert!(private.resolve(name("hooks.example.com")).await.is_err());
        let allowed = PinnedResolver {
            public_only: false,
            ..private
        };
        assert_eq!(
            allowed
                .resolve(name("hooks.example.com"))
                .await
                .unwrap()
                .count(),
            2
        );
    }

    /// Starts a webhook receiver on loopback; answers its port and how many requests it got.
    async fn receiver() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::future::ready("ok")
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (port, hits)
    }

    fn target(url: String) -> WebhookTarget {
        WebhookTarget {
            id: uuid::Uuid::new_v4(),
            url,
            secret: crate::config::Secret::new("s3cret-s3cret-s3cret"),
        }
    }

    #[tokio::test]
    async fn delivery_by_host_name_goes_through_the_checked_addresses() {
        let (port, hits) = receiver().await;
        let url = format!("http://localhost:{port}/hook");
        let id = uuid::Uuid::new_v4();
        // Allowed: looked up, checked, and connected to through the pinned resolver.
        let allowed = Webhooks::new(["localhost".to_owned()]);
        let sent = allowed
            .deliver(&target(url.clone()), id, "reminder.due", b"{}")
            .await;
        assert_eq!(sent.error, None);
        assert_eq!(sent.status, Some(200));
        // Not allowed: refused before any connection.
        let strict = Webhooks::default();
        let refused = strict
            .deliver(&target(url), id, "reminder.due", b"{}")
            .await;
        let error = refused.error.unwrap();
        assert!(error.contains("not a public address (loopback"), "{error}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
