//! Hostile connections against the real server: clients that send their headers a byte at a
//! time, keep-alive connections left idle, bodies that never finish, and one address holding
//! thousands of connections while someone else logs in.

use crate::support;

use reqwest::StatusCode;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};
use support::{spawn_app_with, TestApp, PASSWORD};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

fn address_of(app: &TestApp) -> SocketAddr {
    app.base
        .trim_start_matches("http://")
        .parse()
        .expect("the app's address")
}

/// A raw connection to the app from `127.0.0.<n>`.
async fn connect_from(app: &TestApp, n: u8) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)), 0))?;
    socket.connect(address_of(app)).await
}

/// Whether the server closed the connection within `limit` (end of stream or a reset), reading
/// and discarding whatever it sends first.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A client that sends half a header and then a byte every 300 ms is disconnected once the
/// header timeout passes (at ef7d2e1 it was still connected after 240 s).
#[tokio::test]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_disconnected_after_the_header_timeout() {
    let app = spawn_app_with(&[("HEADER_TIMEOUT", "1s")]).await;
    let mut stream = connect_from(&app, 1).await.unwrap();
    stream
        .write_all(b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut dropped = false;
    for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stream.write_all(&[*byte]).await.is_err() {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped || closed_within(&mut stream, Duration::from_secs(3)).await,
        "a trickling header kept its connection past the header timeout"
    );
}

/// A keep-alive connection left idle after its answer is closed once the header timeout passes
/// (at ef7d2e1: still open after 290 s).
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(&[("HEADER_TIMEOUT", "1s")]).await;
    let mut stream = connect_from(&app, 1).await.unwrap();
    stream
        .write_all(b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 1024];
    let read = stream.read(&mut answer).await.unwrap();
    assert!(
        answer[..read].starts_with(b"HTTP/1.1 401"),
        "an answer first"
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(4)).await,
        "an idle keep-alive connection stayed open"
    );
}

/// A request whose body never finishes is answered 408 once the request timeout passes.
#[tokio::test]
async fn a_request_whose_body_never_finishes_gets_408() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT", "1s"), ("HEADER_TIMEOUT", "30s")]).await;
    let mut stream = connect_from(&app, 1).await.unwrap();
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nlogin=a",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 408"), "{head:?}");
}

/// One address opens 2,000 connections that trickle half a header; another person logs in
/// meanwhile. The address gets its share of connections and the rest are closed at once; the
/// login is answered, and nothing answers 500. (At ef7d2e1 the slow connections were all held,
/// and with a 1,100-descriptor limit logins answered 500.)
#[tokio::test]
async fn a_login_is_answered_while_one_address_holds_thousands_of_slow_connections() {
    support::raise_descriptor_limit();
    let app = spawn_app_with(&[
        ("HEADER_TIMEOUT", "30s"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "100"),
    ])
    .await;
    app.register("patient").await;
    let mut held = Vec::new();
    for _ in 0..2000 {
        match connect_from(&app, 2).await {
            Ok(mut stream) => {
                let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
                held.push(stream);
            }
            Err(e) => panic!("connecting: {e}"),
        }
    }
    let login = app.visitor_from(3).try_login("patient", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let mut closed = 0;
    for stream in &mut held {
        if closed_within(stream, Duration::from_millis(20)).await {
            closed += 1;
        }
    }
    println!("of 2,000 slow connections from one address, {closed} were closed at once");
    assert!(closed >= 1900, "{closed} closed");
    assert!(closed < 2000, "the address keeps its share");
}

/// A request head (request line and headers) over 32 KiB is refused with 431, so one
/// connection can make the server hold no more than that (hyper's default let each hold about
/// 400 KiB: 5,000 connections, 2 GB). A head just under the cap is served.
#[tokio::test]
async fn a_request_head_over_32_kib_is_refused_with_431_and_one_under_is_served() {
    let app = spawn_app_with(&[]).await;
    let head_of = |bytes: usize| {
        format!(
            "GET /api/auth/me HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(bytes)
        )
    };
    for (bytes, expected) in [(30_000, "401"), (40_000, "431")] {
        let mut stream = connect_from(&app, 1).await.unwrap();
        stream.write_all(head_of(bytes).as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        let status_line = String::from_utf8_lossy(&answer);
        let status_line = status_line.lines().next().unwrap_or_default();
        assert!(
            status_line.starts_with(&format!("HTTP/1.1 {expected}")),
            "a {bytes}-byte header: {status_line:?}"
        );
    }
}

/// A client that sends many requests and never reads the answers is disconnected once a write
/// to it has made no progress for `REQUEST_TIMEOUT`, instead of holding its connection, and
/// the answers waiting in memory, for good.
#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_disconnected_after_the_request_timeout() {
    // One connection per address: while the server holds the stalled one, another from the
    // same address is refused, which tells from outside, without reading, when it lets go.
    let app = spawn_app_with(&[
        ("REQUEST_TIMEOUT", "1s"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "1"),
    ])
    .await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7)), 0))
        .unwrap();
    let mut stream = socket.connect(address_of(&app)).await.unwrap();
    // 2,000 pipelined requests for a page: far more answer than the socket buffers hold.
    const REQUESTS: usize = 2000;
    let requests = "GET /login HTTP/1.1\r\nHost: x\r\n\r\n".repeat(REQUESTS);
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        stream.write_all(requests.as_bytes()),
    )
    .await;
    // Reading would let the server go on, so wait without reading until it has let the
    // connection go: however long rendering takes beside another test's load. (A fixed sleep
    // before reading was not always long enough once the tests shared one process.)
    let mut last_probe = String::new();
    let let_go = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match admitted_from(&app, 7).await {
                Ok(()) => break,
                Err(why) => last_probe = why,
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    assert!(
        let_go.is_ok(),
        "the server still held the connection after 60 s (last probe: {last_probe})"
    );
    // Now read all there is: a connection the server ended gives out before the last answer.
    let mut answers = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        // The end of the stream, or a reset: either way the server closed it.
        let mut chunk = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            answers.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the connection was still open after 20 s");
    let answered = String::from_utf8_lossy(&answers)
        .matches("HTTP/1.1 200")
        .count();
    assert!(answered > 0, "no answer at all: the requests were refused");
    assert!(
        answered < REQUESTS,
        "all {answered} answers arrived: the connection waited for the client to read"
    );
}

/// Whether a connection from `127.0.0.<n>` is served now (not refused at the per-address cap),
/// or what happened instead.
async fn admitted_from(app: &TestApp, n: u8) -> Result<(), String> {
    let mut probe = connect_from(app, n)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let request = b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    probe
        .write_all(request)
        .await
        .map_err(|e| format!("writing: {e}"))?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), probe.read_to_end(&mut answer)).await;
    if answer.starts_with(b"HTTP/1.1 200") {
        return Ok(());
    }
    let head = String::from_utf8_lossy(&answer[..answer.len().min(40)]).into_owned();
    Err(format!("read {read:?}, answer {head:?}"))
}
