//! [ssr] Who the client is, for counting attempts: the socket's peer, unless that peer is a
//! proxy named in `TRUSTED_PROXIES`, and only then the address that proxy saw, from
//! `X-Forwarded-For`. Anyone can write that header, so it is never believed from anyone else.

use crate::config::TrustedProxies;
use axum::{
    extract::ConnectInfo,
    http::{Extensions, HeaderMap},
};
use std::net::{IpAddr, SocketAddr};

/// The client of a request, from its connection's peer (`None` when the server runs without
/// connect info, which `server::app` always provides).
pub fn of_request(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(client_ip(peer, headers, trusted))
}

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    // Each proxy appends the address it saw, so read from the right: the first hop that is not
    // one of our proxies is the client. Anything to its left was written by the client itself.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(value));
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert_eq!(
            client_ip(ip("203.0.113.9"), &forwarded("1.2.3.4"), &none),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_last_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client forged the first entry; the proxy appended the address it really saw.
        let headers = forwarded("6.6.6.6, 198.51.100.7, 10.0.0.2");
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &proxies),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_pose_as_anyone_through_the_header() {
        let proxies = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(
            client_ip(ip("198.51.100.7"), &forwarded("10.0.0.1"), &proxies),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_garbled_header_from_a_trusted_proxy_stops_at_the_last_good_hop() {
        let proxies = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(
            client_ip(ip("10.0.0.1"), &forwarded("junk"), &proxies),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &forwarded("junk, 198.51.100.7"), &proxies),
            ip("198.51.100.7")
        );
    }
}
