//! [ssr] The outbox worker: takes due messages from the outbox table and delivers them, with
//! retries and a growing wait after each failure. A request only writes the message into the
//! table (in the transaction of the change it tells of) and wakes the worker; sending never
//! holds up an answer, and a message queued before a crash is sent after the restart.

use super::postman::Postman;
use crate::store::{ClaimedMail, Store};
use lettre::message::Mailbox;
use std::{sync::Arc, time::Duration};
use time::OffsetDateTime;
use tokio::sync::Notify;

/// How long a taken message is left to its worker before another may take it: longer than a
/// delivery may last ([`super::postman::SEND_TIMEOUT`]).
const LEASE: Duration = Duration::from_secs(60);
/// How often the outbox is looked at without a wake-up: messages another instance queued, and
/// retries that came due.
const POLL: Duration = Duration::from_secs(2);

/// The wait before the next attempt, after `failures` failed ones: 2 s, doubling, at most 15
/// minutes. Never given up, except a message whose link has expired (it is discarded): a
/// message waits until the server takes it, and each failure's log line says how many wait.
pub fn backoff(failures: i64) -> Duration {
    let exponent = failures.clamp(1, 20) as u32 - 1;
    Duration::from_secs(2u64.saturating_mul(1 << exponent)).min(Duration::from_secs(15 * 60))
}

/// A worker that has not looked at the outbox for this long is stuck (`/readyz`): it looks
/// every [`POLL`], and a delivery lasts at most the lease.
pub const STUCK_AFTER: Duration = Duration::from_secs(2 * 60);

/// Runs until aborted, noting in `last_look` (unix seconds) each time it looks at the outbox.
pub async fn run(
    store: Arc<dyn Store>,
    postman: Postman,
    from: Mailbox,
    wake: Arc<Notify>,
    last_look: Arc<std::sync::atomic::AtomicI64>,
) {
    loop {
        last_look.store(
            OffsetDateTime::now_utc().unix_timestamp(),
            std::sync::atomic::Ordering::Relaxed,
        );
        match store.claim_mail(OffsetDateTime::now_utc(), LEASE).await {
            Ok(Some(claimed)) => deliver(store.as_ref(), &postman, &from, claimed).await,
            Ok(None) => {
                let _ = tokio::time::timeout(POLL, wake.notified()).await;
            }
            Err(e) => {
                tracing::warn!(error = %crate::error::chain(&e), "cannot read the mail outbox");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn deliver(store: &dyn Store, postman: &Postman, from: &Mailbox, claimed: ClaimedMail) {
    let id = &claimed.mail.id;
    match postman.send(from, &claimed.mail).await {
        Ok(()) => {
            crate::telemetry::metrics::mail_sent();
            tracing::info!(mail_id = %id, subject = %claimed.mail.subject, "mail delivered");
            if let Err(e) = store.mail_delivered(id).await {
                // Sent, but still in the outbox: it goes again once its lease is over. Twice
                // is better than never.
                tracing::warn!(mail_id = %id, error = %crate::error::chain(&e),
                    "mail delivered, but cannot take it out of the outbox");
            }
        }
        Err(why) => {
            crate::telemetry::metrics::mail_failed();
            let failures = claimed.attempts + 1;
            let wait = backoff(failures);
            let queued = store.outbox_backlog().await.map_or(-1, |(count, _)| count);
            tracing::warn!(mail_id = %id, attempts = failures, retry_in_s = wait.as_secs(),
                queued, error = %why, "mail not delivered; it stays queued");
            let next = OffsetDateTime::now_utc() + wait;
            if let Err(e) = store.mail_failed(id, next, &why.to_string()).await {
                tracing::warn!(mail_id = %id, error = %crate::error::chain(&e),
                    "cannot record a failed delivery; the message is retried after its lease");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_after_a_failure_doubles_from_two_seconds_up_to_fifteen_minutes() {
        let waits: Vec<u64> = (1..=11).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(backoff(1_000), Duration::from_secs(900));
    }
}
