//! [ssr] Structured logs through `tracing`. `RUST_LOG` picks the level (default `info`);
//! `LOG_FORMAT` picks text for people or JSON lines for a log pipeline.

pub mod metrics;
pub mod request_id;

use crate::config::LogFormat;
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the log subscriber. The server logs to standard output; the command line
/// (`to_stderr`) to standard error, so its output stays the answer alone (`--json` parses).
pub fn init(format: LogFormat, to_stderr: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A line that cannot be written (a full disk, a closed pipe) is dropped. By default
    // `tracing` reports the failure with `eprintln!`, which panics when standard error is full
    // too, and a log line must never take a request, or the server, down.
    let writer = move || -> Box<dyn std::io::Write> {
        if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    };
    let builder = fmt()
        .with_writer(writer)
        .with_env_filter(filter)
        .with_target(false)
        .log_internal_errors(false);
    // `try_init`: tests start several servers in one process, and only the first may install it.
    let _ = match format {
        LogFormat::Text => {
            let colour = if to_stderr {
                std::io::IsTerminal::is_terminal(&std::io::stderr())
            } else {
                std::io::IsTerminal::is_terminal(&std::io::stdout())
            };
            builder.with_ansi(colour).try_init()
        }
        // One object per line: the event's fields at the top, and the request's span under
        // "span" (`span.request_id`), so a pipeline can group a request's lines.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
