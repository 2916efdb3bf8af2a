//! [ssr] Structured logs through `tracing`. `RUST_LOG` picks the level (default `info`).

use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `try_init`: tests start several servers in one process, and only the first may install it.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        // A line that cannot be written (a full disk, a closed pipe) is dropped. By default
        // `tracing` reports the failure with `eprintln!`, which panics when standard error is
        // full too, and a log line must never take a request, or the server, down.
        .log_internal_errors(false)
        .try_init();
}
