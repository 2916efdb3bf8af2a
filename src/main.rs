//! The server: config -> state (database, migrations) -> router -> serve. Wiring only. With a
//! command (`gatehouse users list`), the command line instead (see `admin`).

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use gatehouse::{admin, config::Config, server, telemetry};
    use leptos::config::get_configuration;
    use std::process::ExitCode;

    let cli = admin::Cli::parse();

    let fail = |message: String| {
        eprintln!("gatehouse: {message}");
        ExitCode::FAILURE
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(e.to_string()),
    };
    let serving = matches!(cli.command, None | Some(admin::Command::Serve));
    telemetry::init(config.serving.log_format, !serving);
    if let Some(command) = cli.command.filter(|c| !matches!(c, admin::Command::Serve)) {
        return match admin::run(command, cli.json, &config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(gatehouse::error::chain(&e)),
        };
    }
    let leptos_options = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(e) => return fail(format!("LEPTOS_SITE_ADDR or other LEPTOS_* setting: {e}")),
    };
    let addr = leptos_options.site_addr;
    if let Some(file) = &config.secrets_file {
        tracing::info!(file = %file.display(), "using generated token secrets");
    }
    let state = match server::build_state(config, leptos_options).await {
        Ok(state) => state,
        // The whole chain: "cannot open the database: database unavailable: … Connection
        // refused", not just its first link.
        Err(e) => return fail(gatehouse::error::chain(&e)),
    };
    gatehouse::store::spawn_pruning(
        state.store.clone(),
        state.config.access_ttl,
        gatehouse::security::limits::LONGEST_BUDGET_WINDOW,
        state.config.audit_retention,
    );
    if let Some(metrics_addr) = state.config.serving.metrics_addr {
        if metrics_addr == addr {
            return fail(
                "METRICS_ADDR: must differ from LEPTOS_SITE_ADDR, so metrics are never public"
                    .into(),
            );
        }
        let passwords = state.passwords.clone();
        let levels = gatehouse::telemetry::metrics::Levels {
            store: state.store.clone(),
            hash_queue: std::sync::Arc::new(move || passwords.queued()),
        };
        if let Err(e) = gatehouse::telemetry::metrics::serve(metrics_addr, levels).await {
            return fail(gatehouse::error::chain(&e));
        }
    }
    let descriptors = gatehouse::connections::raise_descriptor_limit();
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => return fail(format!("LEPTOS_SITE_ADDR: cannot listen on {addr}: {e}")),
    };
    tracing::info!(open_file_limit = descriptors, "listening on http://{addr}");
    // Ctrl-C, or SIGTERM: what systemd, containers and orchestrators send to stop a service.
    let shutdown = async {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still stops the server");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: finishing the requests in flight");
    };
    server::serve(listener, state, descriptors, shutdown).await;
    ExitCode::SUCCESS
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser side starts from `hydrate()` in lib.rs.
}
