//! Mail as the tests receive it: the `.eml` files of an app's outbox folder (the default, with
//! no SMTP server set), or an in-process SMTP server that keeps what it is sent.

use super::TestApp;
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// A received message, its transfer encoding undone (enough for the tests: quoted-printable
/// and plain text).
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
}

impl Mail {
    pub fn parse(raw: &str) -> Self {
        Self {
            raw: decode_quoted_printable(raw),
        }
    }

    pub fn is_to(&self, address: &str) -> bool {
        self.raw
            .lines()
            .any(|line| line.starts_with("To:") && line.contains(address))
    }

    pub fn subject(&self) -> String {
        self.raw
            .lines()
            .find_map(|line| line.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned()
    }

    /// The first link in the message that leads to `path` (with its query).
    pub fn link_to(&self, path: &str) -> Option<String> {
        let start = self.raw.find(&format!("{path}?"))?;
        let link: String = self.raw[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '&'))
            .collect();
        Some(link)
    }
}

/// Undoes quoted-printable: soft line breaks go, `=XX` becomes its byte.
fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The app's outbox folder (`MAIL_OUTBOX`, set by the harness).
pub fn outbox_dir(app: &TestApp) -> PathBuf {
    app.dir.path().join("outbox")
}

/// Every message in the outbox folder `dir`.
pub fn outbox(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|raw| Mail::parse(&raw))
        .collect()
}

/// The subject of the verification mail that every registration sends.
pub const VERIFICATION_SUBJECT: &str = "Confirm your address for Gatehouse";

/// Waits until the app's outbox holds `count` messages to `address` besides verification mail
/// (failing after 10 s), and returns them.
pub async fn mails_to(app: &TestApp, address: &str, count: usize) -> Vec<Mail> {
    mails_where(app, address, count, |m| m.subject() != VERIFICATION_SUBJECT).await
}

/// Waits until the app's outbox holds `count` verification mails to `address`, and returns them.
pub async fn verification_mails(app: &TestApp, address: &str, count: usize) -> Vec<Mail> {
    mails_where(app, address, count, |m| m.subject() == VERIFICATION_SUBJECT).await
}

/// Waits until the app's outbox holds `count` messages to `address` that `pick` keeps.
pub async fn mails_where(
    app: &TestApp,
    address: &str,
    count: usize,
    pick: impl Fn(&Mail) -> bool,
) -> Vec<Mail> {
    let dir = outbox_dir(app);
    let started = std::time::Instant::now();
    loop {
        let found: Vec<Mail> = outbox(&dir)
            .into_iter()
            .filter(|m| m.is_to(address) && pick(m))
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} of {count} mails to {address} after 10 s",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An SMTP server on loopback that accepts every message and keeps it.
pub struct SmtpSink {
    pub host: std::net::Ipv4Addr,
    pub port: u16,
    pub received: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback address of its own for each SMTP server a test starts or leaves away, so that a
/// port let go by one (to be "away") is not taken meanwhile by another test's listener on
/// 127.0.0.1 (it was, once: `AddrInUse` when the server came back).
pub fn smtp_host() -> std::net::Ipv4Addr {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::net::Ipv4Addr::new(127, 0, 25, n)
}

impl SmtpSink {
    /// Listens on any free port of an address of its own.
    pub async fn start(port: u16) -> Self {
        assert_eq!(port, 0, "a given port needs its host: start_on");
        Self::start_on(smtp_host(), 0).await
    }

    /// Listens on `host`:`port` (0 for any free one).
    pub async fn start_on(host: std::net::Ipv4Addr, port: u16) -> Self {
        let listener = TcpListener::bind((host, port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, kept).await;
                });
            }
        });
        Self {
            host,
            port,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}:{}", self.host, self.port)
    }

    /// The messages received, besides the verification every registration sends.
    pub fn others(&self) -> Vec<Mail> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .filter(|m| m.subject() != VERIFICATION_SUBJECT)
            .cloned()
            .collect()
    }

    /// Waits until `count` messages besides verification mail have arrived (failing after
    /// `limit`).
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Mail> {
        let started = std::time::Instant::now();
        loop {
            let received = self.others();
            if received.len() >= count {
                return received;
            }
            assert!(
                started.elapsed() < limit,
                "{} of {count} mails after {limit:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One SMTP conversation (RFC 5321, the part a client sending mail uses).
async fn converse(
    stream: tokio::net::TcpStream,
    kept: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
            "DATA" => {
                write.write_all(b"354 go on\r\n").await?;
                let mut message = String::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    let line = line.strip_prefix('.').unwrap_or(&line);
                    message.push_str(line);
                    message.push_str("\r\n");
                }
                kept.lock().unwrap().push(Mail::parse(&message));
                b"250 kept\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(answer).await?;
    }
    Ok(())
}
