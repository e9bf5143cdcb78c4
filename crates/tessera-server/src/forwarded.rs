//! Who the client is when Tessera runs behind a proxy (SPEC §13): only a connection from a
//! trusted proxy (`--trusted-proxies`) may say, in `Forwarded` (RFC 7239) or
//! `X-Forwarded-For` / `X-Forwarded-Proto`, which address and scheme the request came from.
//! From anyone else those headers are ignored, so a client cannot pick the address the
//! failed-authentication limiter counts against.
//!
//! The chain is walked from the right (the hop nearest to Tessera): each trusted proxy is
//! passed over, and the first address that is not a trusted proxy is the client. An entry that
//! does not parse (`unknown`, an obfuscated name, garbage) ends the walk at the proxy that
//! reported it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The proxies whose forwarding headers count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `CIDR,CIDR,…` (a bare address is a /32 or /128); the error names the entry at fault.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "`{entry}` is not an address or a CIDR range (like 10.0.0.0/8 or fd00::/8)"
                    )
                })?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether no proxy is trusted (the headers never count).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address as resolved here: the request extension the rest of the server reads
/// (`extract::PeerAddress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The client, and whether it reached the proxy over https, from a connection by `peer`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> (IpAddr, bool) {
    let peer = canonical(peer);
    if trusted.is_empty() || !trusted.trusts(peer) {
        return (peer, false);
    }
    let forwarded = all_values(headers, &header::FORWARDED);
    let (chain, https) = if forwarded.is_empty() {
        let chain = all_values(headers, "x-forwarded-for")
            .into_iter()
            .map(|hop| parse_hop(&hop))
            .collect::<Vec<_>>();
        let proto = all_values(headers, "x-forwarded-proto").pop();
        (
            chain,
            proto.is_some_and(|p| p.eq_ignore_ascii_case("https")),
        )
    } else {
        let elements: Vec<Vec<(String, String)>> = forwarded.iter().map(|e| pairs(e)).collect();
        let chain = elements
            .iter()
            .map(|pairs| {
                pairs
                    .iter()
                    .find(|(k, _)| k == "for")
                    .and_then(|(_, v)| parse_hop(v))
            })
            .collect();
        // The nearest proxy's element says how the request reached it.
        let proto = elements.last().and_then(|pairs| {
            pairs
                .iter()
                .find(|(k, _)| k == "proto")
                .map(|(_, v)| v.clone())
        });
        (
            chain,
            proto.is_some_and(|p| p.eq_ignore_ascii_case("https")),
        )
    };
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        let Some(hop) = hop else { break };
        client = canonical(hop);
        if !trusted.trusts(client) {
            break;
        }
    }
    (client, https)
}

/// Every comma-separated value of every `name` header, in order.
fn all_values(headers: &HeaderMap, name: impl header::AsHeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The `key=value` pairs of one `Forwarded` element (keys lower-cased, quotes removed).
fn pairs(element: &str) -> Vec<(String, String)> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_owned(),
            )
        })
        .collect()
}

/// An address as proxies write it: `a.b.c.d`, `a.b.c.d:port`, `[v6]`, `[v6]:port` or a bare
/// IPv6 address; anything else (`unknown`, `_hidden`) is none.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|v6| v6.parse().ok())
}

/// The layer (only with trusted proxies; `router` leaves it out otherwise): puts the client's
/// address on the request; a request that reached a trusted
/// proxy over https gets its cookies marked `Secure` even when the last hop was plain http.
pub async fn client_address(
    State(trusted): State<std::sync::Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let trusted = &*trusted;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let Some(peer) = peer else {
        return next.run(request).await;
    };
    let (client, https) = resolve(peer, request.headers(), trusted);
    request.extensions_mut().insert(ClientAddress(client));
    let mut response = next.run(request).await;
    if https {
        mark_cookies_secure(response.headers_mut());
    }
    response
}

fn mark_cookies_secure(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let text = cookie.to_str().unwrap_or_default();
        let marked = if text.is_empty() || text.contains("; Secure") {
            cookie
        } else {
            HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
        };
        headers.append(header::SET_COOKIE, marked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_parse_cidrs_and_addresses_and_name_a_bad_entry() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.5 ,fd00::/8").unwrap();
        assert_eq!(t.to_string(), "10.0.0.0/8,192.168.1.5/32,fd00::/8");
        assert!(t.trusts(ip("10.1.2.3")) && t.trusts(ip("::ffff:10.1.2.3")));
        assert!(!t.trusts(ip("11.0.0.1")));
        let bad = TrustedProxies::parse("10.0.0.0/8,10.0.0.0/33").unwrap_err();
        assert!(bad.contains("`10.0.0.0/33`"), "{bad}");
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    /// (peer, headers, the client, https)
    type Case<'a> = (&'a str, &'a [(&'static str, &'a str)], &'a str, bool);

    /// Resolves each case behind proxies in 10.0.0.0/8.
    fn resolves(cases: &[Case]) {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        for (peer, given, client, https) in cases {
            let got = resolve(ip(peer), &headers(given), &t);
            assert_eq!(got, (ip(client), *https), "{peer} {given:?}");
        }
    }

    #[test]
    fn only_a_trusted_peer_may_name_the_client_and_the_walk_stops_at_the_first_untrusted_hop() {
        resolves(&[
            // Not from a trusted proxy: the headers do not count.
            (
                "203.0.113.9",
                &[
                    ("x-forwarded-for", "198.51.100.1"),
                    ("x-forwarded-proto", "https"),
                ],
                "203.0.113.9",
                false,
            ),
            // From one: the client it names.
            (
                "10.0.0.2",
                &[
                    ("x-forwarded-for", "198.51.100.1"),
                    ("x-forwarded-proto", "https"),
                ],
                "198.51.100.1",
                true,
            ),
            // A forged left part is passed over: the nearest untrusted hop is the client.
            (
                "10.0.0.2",
                &[("x-forwarded-for", "1.2.3.4, 198.51.100.1, 10.0.0.7")],
                "198.51.100.1",
                false,
            ),
            // Several headers read as one list.
            (
                "10.0.0.2",
                &[
                    ("x-forwarded-for", "1.2.3.4"),
                    ("x-forwarded-for", "198.51.100.1"),
                ],
                "198.51.100.1",
                false,
            ),
            // Every hop trusted: the leftmost.
            (
                "10.0.0.2",
                &[("x-forwarded-for", "10.9.9.9, 10.0.0.7")],
                "10.9.9.9",
                false,
            ),
            // Garbage stops the walk at the proxy that reported it.
            (
                "10.0.0.2",
                &[("x-forwarded-for", "1.2.3.4, nonsense, 10.0.0.7")],
                "10.0.0.7",
                false,
            ),
        ]);
        // With no trusted proxy nothing counts.
        let none = TrustedProxies::default();
        let forged = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &forged, &none),
            (ip("10.0.0.2"), false)
        );
    }

    #[test]
    fn the_forwarded_header_of_rfc_7239_is_read_and_wins_over_x_forwarded_for() {
        resolves(&[
            // RFC 7239, with ports, quotes, IPv6 and the nearest element's proto.
            (
                "10.0.0.2",
                &[(
                    "forwarded",
                    "for=1.2.3.4;proto=http, for=\"[2001:db8::17]:4711\";proto=https",
                )],
                "2001:db8::17",
                true,
            ),
            (
                "10.0.0.2",
                &[("forwarded", "for=198.51.100.1:55000;proto=http")],
                "198.51.100.1",
                false,
            ),
            (
                "10.0.0.2",
                &[("forwarded", "for=unknown")],
                "10.0.0.2",
                false,
            ),
            // Forwarded wins over X-Forwarded-For when both are there.
            (
                "10.0.0.2",
                &[
                    ("forwarded", "for=198.51.100.2"),
                    ("x-forwarded-for", "198.51.100.3"),
                ],
                "198.51.100.2",
                false,
            ),
            // No header: the proxy itself.
            ("10.0.0.2", &[], "10.0.0.2", false),
        ]);
    }

    #[test]
    fn cookies_of_an_https_request_are_marked_secure_once() {
        let mut h = headers(&[
            ("set-cookie", "a=1; Path=/; HttpOnly"),
            ("set-cookie", "b=2; Path=/; Secure"),
        ]);
        mark_cookies_secure(&mut h);
        let all: Vec<&str> = h
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            all,
            ["a=1; Path=/; HttpOnly; Secure", "b=2; Path=/; Secure"]
        );
    }
}
