//! [ssr] The listening socket, and what it lets in.
//!
//! Each connection is served by hyper's HTTP/1 with a header-read timeout, which hyper starts
//! whenever the connection is ready for a request: it closes a client that sends its headers
//! too slowly and an idle keep-alive connection alike. Connections are capped per client
//! address (IPv6 by /64) and in total; one over a cap is closed at once. A request's body has a
//! time limit too (`server::api_boundary`), and so has a client that stops reading its answers. Before this, a client sending half a header and then a byte every ten
//! seconds held its connection for good: 20,000 of them ran the server out of file descriptors,
//! and logins answered 500.
//!
//! On shutdown, the listener closes first, connections finish the request they are serving,
//! and whatever is still running after the grace period is dropped.

use crate::config::{Serving, TrustedProxies};
use axum::{extract::ConnectInfo, Router};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Descriptors kept back from connections: the database pool, the log, the files served.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises this process's open-file limit to its hard limit (a soft limit of 1,024 is common and
/// is where the descriptors ran out), and returns the limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Connections open at once when `MAX_CONNECTIONS` is not set (fewer if the descriptor limit
/// leaves less room): each sending a head near [`MAX_HEADER_BYTES`] costs about 41 KiB (its
/// task, hyper's state and read buffer; `scripts/bench-memory`), so about 200 MiB in all.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 5_000;

/// The most a request's head (request line and headers) may take; more is answered 431. Also
/// hyper's read buffer limit, so what one connection can make the server hold. Browsers send a
/// few KiB; nginx allows 32 KiB by default too.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The most connections open at once: `MAX_CONNECTIONS`, or [`DEFAULT_MAX_CONNECTIONS`] or
/// what the descriptor limit leaves, whichever is less.
pub fn connection_cap(serving: &Serving, descriptors: u64) -> usize {
    let room = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(64);
    serving
        .max_connections
        .map_or(room.min(DEFAULT_MAX_CONNECTIONS), u64::from) as usize
}

/// Counts open connections, in total and per client address.
struct Open {
    total: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    most: usize,
    most_per_address: usize,
    trusted: TrustedProxies,
    last_warning: Mutex<Option<Instant>>,
}

/// One open connection's place in the count; given back when dropped.
struct Place {
    open: Arc<Open>,
    address: Option<IpAddr>,
}

impl Open {
    /// A place for a connection from `address`, or `None` when it is over a cap.
    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Place> {
        if self.total.fetch_add(1, Ordering::SeqCst) >= self.most {
            self.total.fetch_sub(1, Ordering::SeqCst);
            self.warn("connection limit reached; closing new connections");
            return None;
        }
        let address = address.to_canonical();
        // Behind a trusted proxy, every client shares the proxy's address. IPv6 counts by /64,
        // the block one subscriber gets, as the attempt limits count it.
        let counted =
            (!self.trusted.contains(address)).then(|| crate::security::limits::bucket(address));
        if let Some(address) = counted {
            let mut per = self
                .per_address
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let held = per.entry(address).or_default();
            if *held >= self.most_per_address {
                drop(per);
                self.total.fetch_sub(1, Ordering::SeqCst);
                self.warn("an address reached its connection limit; closing its new connections");
                return None;
            }
            *held += 1;
        }
        Some(Place {
            open: Arc::clone(self),
            address: counted,
        })
    }

    /// A warning at most once a second: a flood must not flood the log too.
    fn warn(&self, message: &'static str) {
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            *last = Some(Instant::now());
            tracing::warn!(open = self.total.load(Ordering::SeqCst), "{message}");
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.open.total.fetch_sub(1, Ordering::SeqCst);
        if let Some(address) = self.address {
            let mut per = self
                .open
                .per_address
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(held) = per.get_mut(&address) {
                *held -= 1;
                if *held == 0 {
                    per.remove(&address);
                }
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains for at most
/// `serving.shutdown_grace`. Every request carries its connection's peer as
/// `ConnectInfo<SocketAddr>`, which the attempt limits count by.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    serving: &Serving,
    trusted: TrustedProxies,
    most: usize,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Open {
        total: AtomicUsize::new(0),
        per_address: Mutex::new(HashMap::new()),
        most,
        most_per_address: serving.max_connections_per_address as usize,
        trusted,
        last_warning: Mutex::new(None),
    });
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(serving.header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(MAX_HEADER_BYTES);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or the connection was gone before we took it: wait a
                    // moment rather than spin, and go on.
                    open.warn("accepting a connection failed");
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(place) = open.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = tower::service_fn(move |mut request: axum::extract::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        // A client that stops reading its answers would hold its connection (and the
        // response's memory) for good: a write that makes no progress for `REQUEST_TIMEOUT`
        // ends the connection.
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(serving.request_timeout));
        let connection = http.serve_connection(
            TokioIo::new(Box::pin(stream)),
            TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _place = place;
            // A client that goes away or is timed out ends its connection with an error; that
            // is its business, not the log's.
            let _ = connection.await;
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections finished"),
        () = tokio::time::sleep(serving.shutdown_grace) => {
            tracing::warn!("shutdown grace period over; dropping the connections still open");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(most: usize, per_address: usize, trusted: &str) -> Arc<Open> {
        Arc::new(Open {
            total: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
            most,
            most_per_address: per_address,
            trusted: TrustedProxies::parse(trusted).unwrap(),
            last_warning: Mutex::new(None),
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_holds_at_most_its_share_and_others_still_get_in() {
        let open = open(100, 2, "");
        let held: Vec<_> = (0..2)
            .map(|_| open.admit(ip("192.0.2.1")).unwrap())
            .collect();
        assert!(open.admit(ip("192.0.2.1")).is_none());
        assert!(open.admit(ip("192.0.2.2")).is_some());
        drop(held);
        assert!(open.admit(ip("192.0.2.1")).is_some(), "places come back");
    }

    #[test]
    fn the_total_is_capped_and_every_place_is_given_back() {
        let open = open(3, 10, "");
        let held: Vec<_> = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            .iter()
            .map(|a| open.admit(ip(a)).unwrap())
            .collect();
        assert!(open.admit(ip("192.0.2.4")).is_none());
        drop(held);
        assert_eq!(open.total.load(Ordering::SeqCst), 0);
        assert!(open.per_address.lock().unwrap().is_empty());
    }

    #[test]
    fn ipv6_addresses_in_one_slash_64_share_one_addresss_share() {
        let open = open(100, 2, "");
        let _a = open.admit(ip("2001:db8:1:2::1")).unwrap();
        let _b = open.admit(ip("2001:db8:1:2::ffff")).unwrap();
        assert!(open.admit(ip("2001:db8:1:2:abcd::9")).is_none());
        assert!(open.admit(ip("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn a_trusted_proxy_is_not_held_to_one_addresss_share() {
        let open = open(100, 1, "10.0.0.1");
        let _a = open.admit(ip("10.0.0.1")).unwrap();
        let _b = open.admit(ip("10.0.0.1")).unwrap();
        assert!(open.admit(ip("192.0.2.9")).is_some());
    }

    #[test]
    fn the_default_cap_is_bounded_and_leaves_descriptors_for_everything_else() {
        let serving = crate::config::Serving::from_lookup(|_| None).unwrap();
        assert_eq!(connection_cap(&serving, 65_536), 5_000);
        assert_eq!(connection_cap(&serving, 2_048), 1_792);
        assert_eq!(connection_cap(&serving, 100), 64);
        let set = crate::config::Serving::from_lookup(|name| {
            (name == "MAX_CONNECTIONS").then(|| "500".to_owned())
        })
        .unwrap();
        assert_eq!(connection_cap(&set, 65_536), 500);
    }
}
