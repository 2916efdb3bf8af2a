//! [ssr] Mail: what each message says ([`letters`]), the outbox worker that delivers them with
//! retries ([`worker`]), and the transport it hands them to ([`postman`]). Flows never send:
//! they put a message into the outbox table with the change it tells of, then wake the worker.

pub mod letters;
mod postman;
pub mod worker;

use crate::{
    config::{Delivery, Mail},
    store::{Store, StoreError},
};
use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
use tokio::sync::{Notify, Semaphore};

/// Mail-causing work a flow may run after its answer, at once: past it, more is dropped (and
/// logged) rather than queued without end. A flood of reset requests costs the attacker one
/// request each, and each would otherwise be a task with two writes.
const MOST_IN_BACKGROUND: usize = 64;

/// What flows need of mail: where links lead, and a way to wake the worker.
pub struct Mailer {
    /// The origin links in mails point to (`PUBLIC_URL`, or the address the server listens on).
    origin: String,
    wake: Arc<Notify>,
    background: Arc<Semaphore>,
    /// Stopped with the state that holds the mailer (a test's app, a server shutting down).
    worker: tokio::task::JoinHandle<()>,
    /// When the worker last looked at the outbox (unix seconds), for `/readyz`.
    last_look: Arc<AtomicI64>,
}

impl Drop for Mailer {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

impl Mailer {
    /// Starts the outbox worker. Fails only if the outbox folder cannot be made.
    pub fn start(
        settings: &Mail,
        listening_on: std::net::SocketAddr,
        store: Arc<dyn Store>,
    ) -> Result<Self, std::io::Error> {
        let postman = postman::Postman::new(&settings.delivery)?;
        if let Delivery::Outbox(dir) = &settings.delivery {
            tracing::warn!(outbox = %dir.display(),
                "mail is not being delivered (SMTP_URL is not set): each message is written to \
                 the outbox folder as an .eml file");
        } else {
            tracing::info!(smtp = %settings.delivery.describe(), "mail goes to an SMTP server");
        }
        let wake = Arc::new(Notify::new());
        let last_look = Arc::new(AtomicI64::new(now_secs()));
        let worker = tokio::spawn(worker::run(
            store,
            postman,
            settings.from.clone(),
            wake.clone(),
            last_look.clone(),
        ));
        Ok(Self {
            origin: settings
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{listening_on}")),
            wake,
            background: Arc::new(Semaphore::new(MOST_IN_BACKGROUND)),
            worker,
            last_look,
        })
    }

    /// An absolute link to `path_and_query` on this site, for a mail.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin)
    }

    /// Runs `work` after the answer (so the answer says nothing by its timing about what the
    /// work finds), if a place is free (see [`MOST_IN_BACKGROUND`]); otherwise drops it with a
    /// log line. `what` names it in the log.
    pub fn after_answer<F>(&self, what: &'static str, work: F)
    where
        F: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        let Ok(place) = self.background.clone().try_acquire_owned() else {
            tracing::warn!(what, "too many mail requests in progress; one was dropped");
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = work.await {
                tracing::warn!(what, error = %crate::error::chain(&e), "cannot queue a mail");
            }
            drop(place);
        });
    }

    /// Whether the outbox worker is running and has looked at the outbox lately: it looks every
    /// few seconds, and one delivery lasts at most `postman::SEND_TIMEOUT`.
    pub fn worker_alive(&self) -> bool {
        let since = now_secs() - self.last_look.load(Ordering::Relaxed);
        !self.worker.is_finished() && since < worker::STUCK_AFTER.as_secs() as i64
    }

    /// A message was committed to the outbox: the worker takes it now rather than at its next
    /// look.
    pub fn queued(&self) {
        self.wake.notify_one();
    }
}
