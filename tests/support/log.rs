//! The server log of every app a test binary runs, watched for server errors: events at ERROR
//! level (every internal error is logged so) and request lines with a 5xx status. A 503 (a
//! fault that passes, such as the database away) is counted apart, so a test of an outage can
//! tell it from a 500.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Once,
};

static INTERNAL: AtomicUsize = AtomicUsize::new(0);
static UNAVAILABLE: AtomicUsize = AtomicUsize::new(0);

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
        if status.0 == 503 {
            UNAVAILABLE.fetch_add(1, Ordering::SeqCst);
        } else if *event.metadata().level() == tracing::Level::ERROR || status.0 >= 500 {
            INTERNAL.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Installs the counting layer. Call it before any app starts, so it is the process's
/// subscriber (the apps' own `telemetry::init` then finds one installed).
pub fn watch() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("warn,gatehouse=info"))
            .with(CountServerErrors)
            .try_init();
    });
}

/// No 500 and no internal error so far.
pub fn assert_no_internal_errors() {
    assert_eq!(
        INTERNAL.load(Ordering::SeqCst),
        0,
        "the server logged a 500 or an internal error"
    );
}

/// No 5xx of any kind so far, and no internal error.
pub fn assert_no_server_errors() {
    assert_no_internal_errors();
    assert_eq!(
        UNAVAILABLE.load(Ordering::SeqCst),
        0,
        "the server answered 503"
    );
}
