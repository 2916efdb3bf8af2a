//! [ssr] The id that ties a request's log lines together, echoed to the client in
//! `X-Request-Id` so a person reporting a problem can quote it.
//!
//! A trusted proxy's id (`TRUSTED_PROXIES`) is kept, so one id follows the request from the
//! edge to the database; from anyone else the header is ignored, because a client choosing its
//! own id could make its requests look like another's in the log.

use crate::config::TrustedProxies;
use axum::{
    extract::ConnectInfo,
    http::{header::HeaderName, Extensions, HeaderMap, HeaderValue},
};
use std::{cell::Cell, net::SocketAddr};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longer ids from a proxy are replaced, not cut: a cut id would match nothing upstream.
const LONGEST: usize = 64;

/// A request's id: printable ASCII without spaces, at most 64 bytes.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The trusted proxy's id if it sent a well-formed one, otherwise a new one.
    pub fn of(extensions: &Extensions, headers: &HeaderMap, trusted: &TrustedProxies) -> Self {
        let from_proxy = || {
            let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
            if !trusted.contains(peer.to_canonical()) {
                return None;
            }
            headers.get(HEADER).filter(|v| well_formed(v.as_bytes())).cloned()
        };
        Self(from_proxy().unwrap_or_else(next))
    }

    pub fn as_str(&self) -> &str {
        // Checked ASCII either way (ours are hex, a proxy's passed `well_formed`).
        self.0.to_str().unwrap_or("")
    }

    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn well_formed(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= LONGEST
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

thread_local! {
    /// This thread's next id: a random start, then counting. Per thread, so that no counter
    /// shared by every core is written on every request (that cost `/me` measurably), and
    /// random, so that threads and instances do not meet (two 64-bit starts chosen at random
    /// are as far apart as any two ids can be).
    static NEXT: Cell<u64> = Cell::new(rand::random());
}

/// 16 hex digits, written by hand: `format!` took a third of this middleware's time on `/me`.
fn next() -> HeaderValue {
    let n = NEXT.get();
    NEXT.set(n.wrapping_add(1));
    let mut hex = [0u8; 16];
    for (i, digit) in hex.iter_mut().enumerate() {
        let nibble = (n >> (60 - 4 * i)) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("unnumbered"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn request_from(peer: &str, id: Option<&str>) -> (Extensions, HeaderMap) {
        let mut extensions = Extensions::new();
        let peer: IpAddr = peer.parse().unwrap();
        extensions.insert(ConnectInfo(SocketAddr::new(peer, 4000)));
        let mut headers = HeaderMap::new();
        if let Some(id) = id {
            headers.insert(HEADER, HeaderValue::from_str(id).unwrap());
        }
        (extensions, headers)
    }

    #[test]
    fn a_trusted_proxys_well_formed_id_is_kept() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let (ext, headers) = request_from("10.1.2.3", Some("edge-42:a.b_c"));
        assert_eq!(RequestId::of(&ext, &headers, &trusted).as_str(), "edge-42:a.b_c");
    }

    #[test]
    fn an_id_from_anyone_else_is_replaced() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let (ext, headers) = request_from("203.0.113.9", Some("looks-like-yours"));
        assert_ne!(RequestId::of(&ext, &headers, &trusted).as_str(), "looks-like-yours");
    }

    #[test]
    fn a_proxys_malformed_or_overlong_id_is_replaced() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        for bad in ["has space", "quote\"", &"x".repeat(65)] {
            let (ext, headers) = request_from("10.1.2.3", Some(bad));
            let id = RequestId::of(&ext, &headers, &trusted);
            assert_ne!(id.as_str(), bad);
            assert!(well_formed(id.as_str().as_bytes()));
        }
    }

    #[test]
    fn new_ids_differ_from_one_request_to_the_next() {
        let trusted = TrustedProxies::parse("").unwrap();
        let (ext, headers) = request_from("127.0.0.1", None);
        let a = RequestId::of(&ext, &headers, &trusted);
        let b = RequestId::of(&ext, &headers, &trusted);
        assert_ne!(a.as_str(), b.as_str());
        for id in [a.as_str(), b.as_str()] {
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        let (a, b) = (u64::from_str_radix(a.as_str(), 16), u64::from_str_radix(b.as_str(), 16));
        assert_eq!(b.unwrap(), a.unwrap().wrapping_add(1), "one thread counts up");
    }
}
