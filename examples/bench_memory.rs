//! The memory benchmark's load (`scripts/bench-memory`): drives a running server through
//! registrations, failed logins from many addresses, a `/me` flood and connections held open
//! half-way through a request, and after each reports
//! the server's resident memory (RSS), its high-water mark and its thread count, read from
//! `/proc/<pid>/status`. Reports only; it never fails on a figure.
//!
//! Usage: bench_memory <server pid> <base URL> [registrations, default 300]
//!        [failed logins, default 3000] [/me requests, default 200000]
//!        [half-open connections, default 2000]

use futures::{stream, StreamExt};
use std::{net::Ipv4Addr, time::Instant};

const PASSWORD: &str = "correct horse battery";
/// Requests in flight at once in each phase.
const IN_FLIGHT: usize = 64;
/// Failed logins come from 127.0.1.1 to 127.0.1.250, as from a botnet.
const ADDRESSES: u8 = 250;

/// One line of `/proc/<pid>/status`, in the unit it is written in (kB for memory).
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server runs");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn report(pid: u32, phase: &str, detail: &str) {
    let mib = |kb: u64| kb as f64 / 1024.0;
    println!(
        "| {phase} | {:.1} | {:.1} | {} | {detail} |",
        mib(status_field(pid, "VmRSS")),
        mib(status_field(pid, "VmHWM")),
        status_field(pid, "Threads"),
    );
}

fn client_from(address: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(address))
        .build()
        .expect("an HTTP client")
}

/// Counts of each status in `statuses`, as "200 ×12, 429 ×3".
fn tally(statuses: Vec<u16>) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for status in statuses {
        *counts.entry(status).or_insert(0usize) += 1;
    }
    counts
        .iter()
        .map(|(status, n)| format!("{status} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_memory <server pid> <base URL> [registrations] [failed logins] [me]";
    let pid: u32 = args.first().and_then(|p| p.parse().ok()).expect(usage);
    let base = args.get(1).expect(usage).trim_end_matches('/').to_owned();
    let count =
        |i: usize, default: usize| args.get(i).and_then(|n| n.parse().ok()).unwrap_or(default);
    let (registrations, failures, mes) = (count(2, 300), count(3, 3000), count(4, 200_000));
    let connections = count(5, 2000);
    let clients: Vec<reqwest::Client> = (1..=ADDRESSES)
        .map(|n| client_from(Ipv4Addr::new(127, 0, 1, n)))
        .collect();

    println!("| after | RSS MiB | peak RSS MiB | threads | answers |");
    println!("| --- | --- | --- | --- | --- |");
    report(pid, "start (idle)", "");

    let started = Instant::now();
    let statuses = stream::iter(0..registrations)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let base = base.clone();
            async move {
                let name = format!("mem{i}");
                let email = format!("{name}@example.org");
                let form = [
                    ("email", email.as_str()),
                    ("username", name.as_str()),
                    ("full_name", "Memory Bench"),
                    ("password", PASSWORD),
                ];
                let response = client
                    .post(format!("{base}/api/auth/register"))
                    .form(&form)
                    .send()
                    .await;
                (name, response.map_or(0, |r| r.status().as_u16()))
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let registered: Vec<String> = statuses
        .iter()
        .filter(|(_, status)| *status == 200)
        .map(|(name, _)| name.clone())
        .collect();
    let statuses = statuses.into_iter().map(|(_, status)| status).collect();
    let detail = format!("{} in {:.1?}", tally(statuses), started.elapsed());
    report(pid, &format!("{registrations} registrations"), &detail);

    // A login kept for the `/me` flood.
    let someone = registered.first().expect("at least one registration");
    let login = clients[0]
        .post(format!("{base}/api/auth/login"))
        .form(&[("login", someone.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .expect("log in");
    let cookies: Vec<String> = login
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let cookie = cookies.join("; ");

    let started = Instant::now();
    let registered = &registered;
    let statuses = stream::iter(0..failures)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let base = base.clone();
            async move {
                // Known accounts and unknown names in turn: both cost a hash.
                let login = if i % 2 == 0 {
                    registered[i % registered.len()].clone()
                } else {
                    format!("nobody{i}")
                };
                let response = client
                    .post(format!("{base}/api/auth/login"))
                    .form(&[("login", login.as_str()), ("password", "wrong password")])
                    .send()
                    .await;
                response.map_or(0, |r| r.status().as_u16())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let detail = format!("{} in {:.1?}", tally(statuses), started.elapsed());
    report(
        pid,
        &format!("{failures} failed logins, {ADDRESSES} addresses"),
        &detail,
    );

    let started = Instant::now();
    let statuses = stream::iter(0..mes)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let request = client
                .get(format!("{base}/api/auth/me"))
                .header(reqwest::header::COOKIE, &cookie);
            async move { request.send().await.map_or(0, |r| r.status().as_u16()) }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let detail = format!("{} in {:.1?}", tally(statuses), started.elapsed());
    report(pid, &format!("{mes} /me"), &detail);

    // Connections that send nearly all of the largest head allowed, and wait: the most each
    // open connection can cost.
    let mut held = Vec::new();
    for i in 0..connections {
        let source = Ipv4Addr::new(127, 0, 2, 1 + (i / 50) as u8);
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind((source, 0).into())
            .expect("bind a loopback address");
        let address = base
            .trim_start_matches("http://")
            .parse()
            .expect("host:port");
        match socket.connect(address).await {
            Ok(mut stream) => {
                use tokio::io::AsyncWriteExt;
                // Nearly the largest head the server takes (32 KiB), all but its end.
                let pad = "a".repeat(31_000);
                let head = format!("GET /api/auth/me HTTP/1.1\r\nX-Pad: {pad}\r\n");
                let _ = stream.write_all(head.as_bytes()).await;
                held.push(stream);
            }
            Err(_) => break,
        }
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    report(pid, &format!("{} half-open requests held", held.len()), "");
    drop(held);

    drop(clients);
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    report(pid, "15 s idle after", "");
}
