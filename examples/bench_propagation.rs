//! Measures how long a session ended on one instance stays usable on another (`scripts/bench-load`
//! runs it against two release instances on one PostgreSQL). Each round logs in on A, checks the
//! access token on B, logs out on A, and polls `/me` on B every 0.2 ms until it answers 401; the
//! time from the logout's answer to that 401 is the propagation delay.
//!
//! Usage: bench_propagation <base URL of A> <base URL of B> [rounds, default 200]

use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_propagation <base URL of A> <base URL of B> [rounds]";
    let a = args.next().expect(usage);
    let b = args.next().expect(usage);
    let rounds: usize = args.next().map_or(200, |n| n.parse().expect(usage));
    let http = reqwest::Client::new();
    let mut delays = Vec::with_capacity(rounds);
    let mut at_once = 0;
    for _ in 0..rounds {
        let login = http
            .post(format!("{a}/api/auth/login"))
            .form(&[("login", "bench"), ("password", PASSWORD)])
            .send()
            .await
            .expect("login on A");
        assert!(
            login.status().is_success(),
            "login on A: {}",
            login.status()
        );
        let cookies: Vec<String> = login
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect();
        let cookie = cookies.join("; ");
        let me = |base: &str| {
            http.get(format!("{base}/api/auth/me"))
                .header(reqwest::header::COOKIE, &cookie)
                .send()
        };
        assert!(me(&b).await.expect("me on B").status().is_success());
        let logout = http
            .post(format!("{a}/api/auth/logout"))
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .await
            .expect("logout on A");
        assert!(logout.status().is_success());
        let ended = Instant::now();
        let mut still_accepted = 0;
        while me(&b).await.expect("me on B").status().is_success() {
            assert!(
                ended.elapsed() < Duration::from_secs(5),
                "never refused on B"
            );
            still_accepted += 1;
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        delays.push(ended.elapsed());
        at_once += usize::from(still_accepted == 0);
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
    println!(
        "propagation over {rounds} logouts: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; refused at the first check in {} of {rounds}",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        at_once,
    );
}
