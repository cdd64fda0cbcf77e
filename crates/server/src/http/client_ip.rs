//! Who the client is: the TCP peer, or, when the peer is one of our own reverse proxies, the
//! address that proxy reports in `X-Forwarded-For`. Anyone can send that header, so it is only
//! believed from a configured proxy (`TRUSTED_PROXIES`); otherwise a client could pick a fresh
//! address for every request and never be rate limited.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client address of this request, as [`assign`] resolved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Addresses and networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of addresses (`10.0.0.5`) and networks (`10.0.0.0/8`).
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an IP address or network such as 10.0.0.0/8"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`. `X-Forwarded-For` lists the hops left to right, each proxy
    /// appending the address it received from; reading from the right and skipping our own
    /// proxies, the first address we do not control is the client. Entries further left were
    /// written by the client itself and prove nothing.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match IpAddr::from_str(hop) {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // A garbled entry: nothing to its left can be attributed; stop at the last
                // address a trusted hop vouched for.
                Err(_) => return client,
            }
        }
        client
    }
}

/// IPv4 clients of a dual-stack listener arrive as `::ffff:a.b.c.d`; they are one client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Resolves the client address once per request, for the rate limits, the security log and
/// the handlers alike.
pub async fn assign(State(trusted): State<Arc<TrustedProxies>>, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = trusted.client_ip(peer.ip(), request.headers());
        request.extensions_mut().insert(ClientIp(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_header_is_ignored_from_an_untrusted_peer() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(trusted.client_ip(ip("203.0.113.9"), &forwarded(&["198.51.100.1"])), ip("203.0.113.9"));
        assert_eq!(TrustedProxies::default().client_ip(ip("10.0.0.2"), &forwarded(&["1.2.3.4"])), ip("10.0.0.2"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").unwrap();
        // The client forged the first entry; our edge proxy (192.0.2.7) saw 198.51.100.1.
        let headers = forwarded(&["6.6.6.6, 198.51.100.1", "192.0.2.7"]);
        assert_eq!(trusted.client_ip(ip("10.1.2.3"), &headers), ip("198.51.100.1"));
    }

    #[test]
    fn a_chain_of_only_trusted_hops_or_garbage_stops_at_the_last_vouched_address() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &forwarded(&["10.0.0.9"])), ip("10.0.0.9"));
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &forwarded(&["1.1.1.1, nonsense, 10.0.0.9"])), ip("10.0.0.9"));
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        assert_eq!(trusted.client_ip(ip("::ffff:127.0.0.1"), &forwarded(&["203.0.113.5"])), ip("203.0.113.5"));
    }

    #[test]
    fn bad_entries_are_named() {
        let problem = TrustedProxies::parse("10.0.0.0/8, proxy.internal").unwrap_err();
        assert!(problem.contains("proxy.internal"), "{problem}");
    }
}
