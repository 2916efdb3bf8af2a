//! The server log of the apps a test runs, watched for server errors: events at ERROR level
//! (every internal error is logged so) and request lines with a 5xx status. A 503 (a fault that
//! passes, such as the database away) is counted apart, so a test of an outage can tell it from
//! a 500.
//!
//! All the integration tests run in one process, some of them causing errors on purpose (a full
//! disk, a database away). So each test counts only the events of its own apps: those emitted
//! on its own thread, where a `#[tokio::test]` runtime runs every task the test's apps spawn.
//! A test on a multi-threaded runtime builds it with [`runtime`], whose threads count into the
//! test's tally too.
//!
//! An event from any other thread (an app's hashing workers, a runtime not built by
//! [`runtime`]) cannot be told apart by test: it counts against every test, so that it can
//! fail a test wrongly but never let one pass wrongly.

use std::{
    cell::RefCell,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Once,
    },
};

#[derive(Default)]
struct Tally {
    internal: AtomicUsize,
    unavailable: AtomicUsize,
}

/// Events from threads that work for no test in particular.
static UNATTRIBUTED: Tally = Tally {
    internal: AtomicUsize::new(0),
    unavailable: AtomicUsize::new(0),
};

thread_local! {
    /// The tally of the test this thread works for: its own, on a test's thread (libtest
    /// names it after the test, `module::name`) or one [`runtime`] built; else none.
    static TALLY: RefCell<Option<Arc<Tally>>> = RefCell::new(
        std::thread::current()
            .name()
            .is_some_and(|name| name.contains("::"))
            .then(Arc::default),
    );
}

/// Runs `read` on this thread's tally, or on the unattributed one.
fn with_tally<T>(read: impl FnOnce(&Tally) -> T) -> T {
    TALLY.with(|tally| match &*tally.borrow() {
        Some(own) => read(own),
        None => read(&UNATTRIBUTED),
    })
}

struct CountServerErrors;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountServerErrors {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Status(u64);
        impl tracing::field::Visit for Status {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                if field.name() == "status" {
                    self.0 = value;
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut status = Status(0);
        event.record(&mut status);
        with_tally(|tally| {
            if status.0 == 503 {
                tally.unavailable.fetch_add(1, Ordering::SeqCst);
            } else if *event.metadata().level() == tracing::Level::ERROR || status.0 >= 500 {
                tally.internal.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
}

/// Installs the process's subscriber: the counting layer, and the apps' log lines written
/// through the test harness (shown with a failing test). Every app the harness starts calls it
/// first, so it is installed before anything logs.
pub fn watch() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("warn,gatehouse=info"))
            .with(tracing_subscriber::fmt::layer().with_test_writer())
            .with(CountServerErrors)
            .try_init();
    });
}

/// A multi-threaded runtime for a test whose threads all count into the calling test's tally.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    let shared = TALLY.with(|tally| tally.borrow_mut().get_or_insert_with(Arc::default).clone());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_start(move || TALLY.with(|tally| *tally.borrow_mut() = Some(shared.clone())))
        .build()
        .expect("a test runtime")
}

/// No 500 and no internal error so far in this test (nor on a thread of no test).
pub fn assert_no_internal_errors() {
    let count = |tally: &Tally| tally.internal.load(Ordering::SeqCst);
    assert_eq!(
        with_tally(count) + count(&UNATTRIBUTED),
        0,
        "the server logged a 500 or an internal error"
    );
}

/// No 5xx of any kind so far in this test, and no internal error.
pub fn assert_no_server_errors() {
    assert_no_internal_errors();
    let count = |tally: &Tally| tally.unavailable.load(Ordering::SeqCst);
    assert_eq!(
        with_tally(count) + count(&UNATTRIBUTED),
        0,
        "the server answered 503"
    );
}
