//! Webhooks, the way reminders reach a user: which URLs may be registered, how each
//! delivery is signed, and the delivery itself.
//!
//! A webhook must be `http` or `https`, and every address its host resolves to must be a
//! public one: loopback, private, link-local and other special-purpose targets are refused
//! (so a user cannot aim the service at its own network) unless the host is listed in
//! `WEBHOOK_ALLOWED_HOSTS`. The check runs at registration and again at each delivery, and
//! the delivery connects only to the addresses that passed it, never follows redirects and
//! gives up after `TIMEOUT`.
//!
//! Each delivery is a JSON `POST` whose body is signed with HMAC-SHA256 under the
//! webhook's secret: `X-Todo-Signature: sha256=<hex>`. `X-Todo-Event-Id` carries the event
//! id, so a receiver can drop the rare duplicate.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::Sha256;

use crate::store::{DeliveryAttempt, WebhookTarget};

pub const SIGNATURE_HEADER: &str = "x-todo-signature";
pub const EVENT_ID_HEADER: &str = "x-todo-event-id";
pub const EVENT_TYPE_HEADER: &str = "x-todo-event-type";
/// One delivery attempt may take this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_URL_LEN: usize = 2000;

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

/// Whether `ip` is an ordinary public address (not loopback, private, link-local,
/// shared, documentation, multicast, unspecified or otherwise special).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64
        }
    }
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
    /// credentials or a fragment. (The address check is `resolve`.)
    pub fn parse_url(&self, raw: &str) -> Result<Url, String> {
        if raw.len() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        let url = Url::parse(raw.trim()).map_err(|e| format!("is not a valid URL ({e})"))?;
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
        Ok(url)
    }

    /// The addresses a delivery to `url` may connect to: all its host resolves to, each
    /// public unless the host is allowed.
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
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!(
                    "{} is not a public address (private, loopback and link-local targets are refused)",
                    bad.ip()
                ));
            }
        }
        Ok(addrs)
    }

    fn is_allowed(&self, host: &str) -> bool {
        let ip = host.parse::<IpAddr>().ok();
        self.allowed_hosts.iter().any(|allowed| {
            allowed == host || (ip.is_some() && allowed.parse::<IpAddr>().ok() == ip)
        })
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
        let failed = |status: Option<u16>, error: String| DeliveryAttempt {
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
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .resolve_to_addrs(&host, &addrs)
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

/// Lower case, without the brackets of an IPv6 literal.
fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
