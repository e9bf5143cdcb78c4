//! Calls Tessera makes to addresses that tenants chose (key sets, connection callbacks,
//! webhooks) reach public addresses only (SPEC §11): a tenant admin must not be able to point
//! them at the server's own ports, the private network or a cloud metadata service. Host names
//! are resolved by [`PublicOnly`], and the client connects to the addresses it checked (no
//! second lookup to rebind); an address literal in a URL is checked by [`url_allowed`];
//! redirects are never followed. `--allow-private-callbacks` lifts this for closed networks and
//! tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address on the public internet: not loopback, private, link-local (the
/// metadata service at 169.254.169.254 included), unique-local, shared (CGNAT), multicast,
/// unspecified, broadcast or reserved for documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 (a metadata service) too
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0xdb8) // documentation
}

/// Whether Tessera may call `url`: its host, if an address literal, is public (host names are
/// checked when they are resolved).
pub fn url_allowed(url: &str, allow_private: bool) -> bool {
    if allow_private {
        return true;
    }
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => true,
        None => false,
    }
}

/// A resolver that answers only public addresses (all of them, unless private ones are
/// allowed); a name with none is an error.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly {
    pub allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the name resolves to no public address".into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client for calls to tenants' addresses: public addresses only (unless allowed),
/// no redirects, bounded in time. An error here stops the server from starting rather than
/// leaving it with a client without these limits.
pub fn client(timeout: Duration, allow_private: bool) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicOnly { allow_private }))
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Fetches started per second, over everything a cache fetches: a fetch can be set off by
/// anyone, without credentials (SPEC §11), and must not make Tessera a load generator.
pub struct FetchAllowance {
    per_second: u32,
    /// (second, fetches started in it).
    window: parking_lot::Mutex<(i64, u32)>,
}

impl FetchAllowance {
    pub fn new(per_second: u32) -> Self {
        FetchAllowance {
            per_second,
            window: parking_lot::Mutex::new((0, 0)),
        }
    }

    /// Counts a fetch at `now` (milliseconds); `false` once the second's allowance is used up.
    pub fn take(&self, now: i64) -> bool {
        let second = now.div_euclid(1000);
        let mut window = self.window.lock();
        if window.0 != second {
            *window = (second, 0);
        }
        if window.1 >= self.per_second {
            return false;
        }
        window.1 += 1;
        true
    }
}

/// A body fetched within its limits, and how long its server lets it be kept.
pub struct Fetched {
    pub body: Vec<u8>,
    /// `Cache-Control: max-age` in seconds; `Some(0)` for `no-store` or `no-cache`.
    pub max_age: Option<u64>,
}

/// GETs `uri` with `client`: a success status and at most `max` bytes, refused while reading
/// (a length announced or not). The error says why, for the log.
pub async fn fetch_bounded(
    client: &reqwest::Client,
    uri: &str,
    accept: &'static str,
    max: usize,
) -> Result<Fetched, String> {
    let mut response = client
        .get(uri)
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .map_err(|e| format!("could not be fetched: {}", describe(&e)))?;
    if !response.status().is_success() {
        return Err(format!("answered HTTP {}", response.status().as_u16()));
    }
    let too_large = || format!("answered more than {} KiB", max.div_ceil(1024));
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let max_age = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(cache_max_age);
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("could not be read: {}", describe(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { body, max_age })
}

/// RFC 9111 §5.2.2: `no-store` and `no-cache` keep nothing; otherwise `max-age`, if given.
fn cache_max_age(header: &str) -> Option<u64> {
    let mut max_age = None;
    for directive in header.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return Some(0),
            "max-age" => max_age = value.trim_matches('"').parse().ok(),
            _ => {}
        }
    }
    max_age
}

fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "it timed out"
    } else if e.is_connect() {
        "the connection failed"
    } else if e.is_redirect() {
        "it redirected, and redirects are not followed"
    } else {
        "the request failed"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_control_is_read_as_rfc_9111_says() {
        assert_eq!(cache_max_age("public, max-age=600"), Some(600));
        assert_eq!(cache_max_age("max-age=600, no-store"), Some(0));
        assert_eq!(cache_max_age("No-Cache"), Some(0));
        assert_eq!(cache_max_age("public"), None);
    }

    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn address_literals_in_urls_are_checked_and_names_left_to_the_resolver() {
        assert!(!url_allowed("http://127.0.0.1:8080/x", false));
        assert!(!url_allowed("https://[::1]/x", false));
        assert!(!url_allowed(
            "https://169.254.169.254/latest/meta-data",
            false
        ));
        assert!(url_allowed("https://1.1.1.1/x", false));
        assert!(url_allowed("https://keys.example.com/jwks", false));
        assert!(url_allowed("http://127.0.0.1:8080/x", true));
    }
}
