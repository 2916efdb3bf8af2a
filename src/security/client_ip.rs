//! [ssr] Who the client is, for counting attempts: the socket's peer, unless that peer is a
//! proxy named in `TRUSTED_PROXIES`, and only then the address that proxy saw, from the one
//! header it writes (`FORWARDED_HEADER`: `X-Forwarded-For`, or RFC 7239 `Forwarded`). Anyone
//! can write those headers, so they are never believed from anyone else, and the other one,
//! which the proxy passes through from the client, never at all. Hops are read as proxies write them: with a port
//! (`203.0.113.9:5555`) or in brackets (`[2001:db8::1]:443`); before, such a hop was not
//! understood, so the proxy itself became the client and everyone behind it shared one budget.
//! The scheme a trusted proxy was reached with (`X-Forwarded-Proto`, `Forwarded: proto=`) is
//! read the same way, for the cross-site check.

use crate::config::{ForwardedHeader, TrustedProxies};
use axum::{
    extract::ConnectInfo,
    http::{Extensions, HeaderMap},
};
use std::net::{IpAddr, SocketAddr};

/// The client of a request, from its connection's peer (`None` when the server runs without
/// connect info, which `server::serve` always provides).
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
    let hops = forwarded_for(headers, trusted.header());
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip.to_canonical();
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

/// The hops of the header the proxies write: `X-Forwarded-For`, or the `for=` of each
/// `Forwarded` element.
fn forwarded_for(headers: &HeaderMap, which: ForwardedHeader) -> Vec<&str> {
    let values = |name: &'static str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
    };
    match which {
        ForwardedHeader::XForwardedFor => values("x-forwarded-for").collect(),
        // An element without `for=` still counts as a hop (one we cannot read), so the walk
        // stops there instead of believing what lies to its left.
        ForwardedHeader::Forwarded => values("forwarded")
            .map(|element| forwarded_param(element, "for").unwrap_or(""))
            .collect(),
    }
}

/// The value of `name` in one `Forwarded` element (`for=…;proto=…`), unquoted.
fn forwarded_param<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"'))
    })
}

/// One hop as proxies write it: `203.0.113.9`, `203.0.113.9:5555`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`. `None` for anything else (`unknown`, obfuscated
/// identifiers, garbage).
pub fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok
            .then(|| inside.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6))
            .flatten();
    }
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    let (address, port) = hop.split_once(':')?;
    is_port(port)
        .then(|| address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4))
        .flatten()
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The scheme the client used to reach us: what a trusted proxy says it was reached with
/// (`X-Forwarded-Proto`, or `Forwarded: proto=`, as `FORWARDED_HEADER` says, the hop nearest
/// to us), otherwise `http`, the only scheme this server speaks itself.
pub fn scheme_of_request(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> &'static str {
    let trusted_peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|info| trusted.contains(info.0.ip().to_canonical()));
    if !trusted_peer {
        return "http";
    }
    let last = |name: &'static str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .next_back()
            .map(str::trim)
    };
    let said = match trusted.header() {
        ForwardedHeader::XForwardedFor => last("x-forwarded-proto"),
        ForwardedHeader::Forwarded => {
            last("forwarded").and_then(|element| forwarded_param(element, "proto"))
        }
    };
    match said {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
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
            seen(&proxies, "198.51.100.7", "10.0.0.1"),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn hops_with_ports_and_brackets_are_read_as_proxies_write_them() {
        for (hop, expected) in [
            ("203.0.113.9", "203.0.113.9"),
            ("203.0.113.9:5555", "203.0.113.9"),
            (" 203.0.113.9:80 ", "203.0.113.9"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
        ] {
            assert_eq!(parse_hop(hop), Some(ip(expected)), "{hop}");
        }
        for bad in [
            "unknown",
            "_hidden",
            "[2001:db8::1",
            "[2001:db8::1]:x",
            "1.2.3.4:",
            "1.2.3.4:99999x",
            "[1.2.3.4]",
            "",
        ] {
            assert_eq!(parse_hop(bad), None, "{bad}");
        }
    }

    /// The client address worked out for a request from `peer` carrying `X-Forwarded-For: header`.
    fn seen(proxies: &TrustedProxies, peer: &str, header: &'static str) -> IpAddr {
        client_ip(ip(peer), &forwarded(header), proxies)
    }

    #[test]
    fn behind_a_trusted_proxy_a_client_hop_with_a_port_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            seen(&proxies, "10.0.0.1", "203.0.113.9:5555"),
            ip("203.0.113.9")
        );
        assert_eq!(
            seen(&proxies, "10.0.0.1", "[2001:db8::1]:443, 10.0.0.2:80"),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        let proxies = TrustedProxies::parse("10.0.0.0/8")
            .unwrap()
            .writing(ForwardedHeader::Forwarded);
        let mut headers = HeaderMap::new();
        // The client's own X-Forwarded-For, passed through by a proxy that writes Forwarded.
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        headers.insert("forwarded", HeaderValue::from_static("for=198.51.100.7"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &proxies),
            ip("198.51.100.7")
        );
        let xff = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let mut forged = HeaderMap::new();
        forged.insert("forwarded", HeaderValue::from_static("for=6.6.6.6"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &forged, &xff),
            ip("10.0.0.1"),
            "a client's Forwarded is not read when the proxies write X-Forwarded-For"
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_the_proxies_write_it() {
        let proxies = TrustedProxies::parse("10.0.0.0/8")
            .unwrap()
            .writing(ForwardedHeader::Forwarded);
        let mut headers = HeaderMap::new();
        headers.insert(
            "forwarded",
            HeaderValue::from_static(
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.2",
            ),
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &proxies),
            ip("2001:db8:cafe::17")
        );
        let mut obfuscated = HeaderMap::new();
        obfuscated.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4, for=_proxy2"),
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &obfuscated, &proxies),
            ip("10.0.0.1"),
            "an unreadable hop stops the walk: nothing to its left is believed"
        );
    }

    #[test]
    fn the_scheme_is_believed_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::parse("10.0.0.1").unwrap();
        let with_peer = |peer: &str| {
            let mut extensions = Extensions::new();
            extensions.insert(ConnectInfo(SocketAddr::new(ip(peer), 1234)));
            extensions
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(
            scheme_of_request(&with_peer("10.0.0.1"), &headers, &proxies),
            "https"
        );
        assert_eq!(
            scheme_of_request(&with_peer("198.51.100.7"), &headers, &proxies),
            "http"
        );
        let mut forwarded = HeaderMap::new();
        forwarded.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4;proto=https"),
        );
        assert_eq!(
            scheme_of_request(&with_peer("10.0.0.1"), &forwarded, &proxies),
            "http",
            "not the header these proxies write"
        );
        let rfc = proxies.clone().writing(ForwardedHeader::Forwarded);
        assert_eq!(
            scheme_of_request(&with_peer("10.0.0.1"), &forwarded, &rfc),
            "https"
        );
        assert_eq!(
            scheme_of_request(&with_peer("10.0.0.1"), &HeaderMap::new(), &proxies),
            "http"
        );
    }

    #[test]
    fn a_garbled_header_from_a_trusted_proxy_stops_at_the_last_good_hop() {
        let proxies = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(seen(&proxies, "10.0.0.1", "junk"), ip("10.0.0.1"));
        assert_eq!(
            seen(&proxies, "10.0.0.1", "junk, 198.51.100.7"),
            ip("198.51.100.7")
        );
    }
}
