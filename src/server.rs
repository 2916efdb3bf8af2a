//! [ssr] Start-up and the HTTP stack: state from config, the router, and the middleware that
//! owns the `/api` boundary.

use crate::{
    app::{shell, App},
    auth::{detour, me_route, link_detour, resume_route, ME_PATH, RESUME_PATH},
    caches::{follow::Caches, revoked::RevokedSessions, user_cache::UserCache},
    config::{Config, DatabaseKind, LogRequests},
    credentials::{
        devices::DeviceKeys,
        factors::FactorKeys,
        passwords::{Passwords, QueueLimits},
        tokens::TokenKeys,
    },
    error::{AppError, WHOLE_BODY},
    security::{self, headers::set_fixed_headers, limits::AttemptLimits},
    state::{AbortOnDrop, AppState},
    store::StoreError,
    telemetry::request_id::{self, RequestId},
};
use axum::{
    body::{to_bytes, Body, HttpBody},
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Router,
};
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list_with_exclusions, AxumRouteListing, LeptosRoutes};
use std::{sync::Arc, time::Instant};

/// Request bodies above this are refused with 413: every real form here is far smaller.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why the server could not start; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("DATABASE_URL: cannot open the database")]
    Database(#[source] StoreError),
    #[error(
        "DATABASE_URL: {database} is missing, but {witness} beside it records that it was \
         created: it was deleted or moved. Restore it from a backup, or delete {witness} to \
         start afresh with no accounts"
    )]
    DatabaseMissing { database: String, witness: String },
    #[error("cannot prepare password hashing")]
    Passwords(#[source] crate::credentials::passwords::HashError),
    #[error("MAIL_OUTBOX: cannot make the outbox folder {0}")]
    Outbox(String, #[source] std::io::Error),
}

/// Opens the database (running migrations) and builds everything requests share. On PostgreSQL
/// it also starts following the changes other instances make (see `caches::follow`).
pub async fn build_state(
    config: Config,
    leptos_options: LeptosOptions,
) -> Result<AppState, StartupError> {
    let passkeys =
        crate::credentials::passkeys::RelyingParty::new(config.mail.public_url.as_deref());
    let unrecorded = database_witness(&config)?;
    let store =
        crate::store::connect_patiently(&config.database, config.serving.database_wait_at_start)
            .await
            .map_err(StartupError::Database)?;
    if let Some(witness) = unrecorded {
        if let Err(e) = crate::config::mark_database_created(witness) {
            tracing::warn!(file = %witness.display(), error = %e,
                "cannot record that the database exists; a deleted one would not be noticed");
        }
    }
    let caches = Caches {
        store: store.clone(),
        revoked: Arc::new(RevokedSessions::new(config.access_ttl)),
        users: Arc::new(UserCache::new(UserCache::DEFAULT_CAPACITY)),
        tokens: Arc::new(TokenKeys::new(&config)),
        keys_reload: Arc::default(),
        listening: Arc::new(std::sync::atomic::AtomicBool::new(true)),
    };
    // Following starts before the load below, so a session ending in between is not missed.
    let follower = {
        let caches = caches.clone();
        store.follow(Box::new(move |change| caches.apply(change)))
    }
    .await
    .map_err(StartupError::Database)?
    .map(|task| Arc::new(AbortOnDrop(task)));
    caches
        .load_revoked()
        .await
        .map_err(StartupError::Database)?;
    caches.load_keys().await.map_err(StartupError::Database)?;
    let cookie_prefixes_since = store
        .upgraded_at("cookie_prefixes")
        .await
        .map_err(StartupError::Database)?
        .unwrap_or(0);
    let passwords = Passwords::new(QueueLimits::of(&config.limits))
        .await
        .map_err(StartupError::Passwords)?;
    let mailer = crate::mail::Mailer::start(&config.mail, leptos_options.site_addr, store.clone())
        .map_err(|e| StartupError::Outbox(config.mail.delivery.describe(), e))?;
    // Both databases announce changes; a store that did not would have nothing to hear.
    let listening = follower.as_ref().map(|_| caches.listening.clone());
    Ok(AppState {
        listening,
        mailer: Arc::new(mailer),
        revoked: caches.revoked,
        users: caches.users,
        leptos_options,
        tokens: caches.tokens,
        limits: Arc::new(AttemptLimits::new(&config)),
        devices: Arc::new(DeviceKeys::new(&config)),
        factors: Arc::new(FactorKeys::new(config.factor_secret.expose())),
        passkeys: Arc::new(passkeys),
        config: Arc::new(config),
        store,
        passwords: Arc::new(passwords),
        follower,
        cookie_prefixes_since,
    })
}

/// Keeps a SQLite database that existed from being silently recreated empty (every account
/// gone): `Err` when the secrets file beside it records that it was created and it is missing.
/// Otherwise, the file in which to record its creation once it has opened, if not yet recorded
/// (see `config::mark_database_created`).
fn database_witness(config: &Config) -> Result<Option<&std::path::Path>, StartupError> {
    let (DatabaseKind::SqliteFile(path), Some(witness)) =
        (&config.database.kind, &config.secrets_file)
    else {
        return Ok(None);
    };
    if !config.database_must_exist {
        return Ok(Some(witness));
    }
    if path.exists() {
        return Ok(None);
    }
    Err(StartupError::DatabaseMissing {
        database: path.display().to_string(),
        witness: witness.display().to_string(),
    })
}

/// The app's pages, listed once per process. Listing them walks the app with resource loading
/// switched off for the whole process (leptos 0.8's `SuppressResourceLoad` is a global flag): a
/// page rendering meanwhile, for another router of the same process, had its data wait forever
/// (leptos issue #4773). The test suite builds hundreds of routers in one process.
fn page_routes() -> &'static [AxumRouteListing] {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    // `GET /api/auth/me` is a plain route (see `auth::me_route`), not a server-function one.
    ROUTES.get_or_init(|| generate_route_list_with_exclusions(App, Some(vec![ME_PATH.to_owned()])))
}

/// Pages, server functions and static files, behind the logging and `/api` boundary layers.
pub fn router(state: AppState) -> Router {
    let routes = page_routes().to_vec();
    // The client bundle: a release build (`cargo leptos build --release --precompress`) puts
    // `.br` and `.gz` files beside each asset, sent to browsers that accept them (the WASM
    // client: 837 KB as built, 250 KB in brotli). Without them, the file itself is sent.
    let options = &state.leptos_options;
    let pkg_dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let pkg = tower::ServiceBuilder::new()
        // The answer depends on Accept-Encoding: say so, or a shared cache could hand brotli to
        // a client that cannot read it.
        .layer(tower_http::set_header::SetResponseHeaderLayer::appending(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
        .service(
            tower_http::services::ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        );
    Router::new()
        .route(crate::health::HEALTHZ, axum::routing::get(crate::health::healthz))
        .route(crate::health::READYZ, axum::routing::get(crate::health::readyz))
        .route(ME_PATH, axum::routing::get(me_route))
        .route(RESUME_PATH, axum::routing::get(resume_route))
        .nest_service(&format!("/{}", options.site_pkg_dir), pkg)
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.clone(), boundary))
        .with_state(state)
}

/// Serves the app on `listener` until `shutdown` completes, under the timeouts and connection
/// caps of its settings (see `connections`); `descriptors` is the open-file limit in force.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    descriptors: u64,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let serving = state.config.serving.clone();
    let trusted = state.config.limits.trusted_proxies.clone();
    let most = crate::connections::connection_cap(&serving, descriptors);
    crate::connections::serve(listener, router(state), &serving, trusted, most, shutdown).await
}

/// Everything in front of the router, as one layer (one layer costs less per request than five:
/// each clones the service stack below it). From the outside in:
/// - a request id (`telemetry::request_id`) on every log line and in `X-Request-Id`;
/// - a log line per request: method, path (never the query or headers, where secrets could
///   sit), status and duration;
/// - the fixed security headers on every answer (`security::headers`);
/// - at the `/api` boundary: bodies bounded before anything reads them (413), every error
///   answer given the status of its code (the framework sends errors raised before a server
///   function runs as 500), and no answer cached;
/// - refusals before anything runs: cross-site requests (`security::origin`) and addresses over
///   their attempt budget (`security::limits`).
async fn boundary(State(state): State<AppState>, request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let id = RequestId::of(
        request.extensions(),
        request.headers(),
        &state.config.limits.trusted_proxies,
    );
    // Every line logged while answering carries the id, the request line included.
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = answer(state, request, next).instrument(span).await;
    response
        .headers_mut()
        .insert(request_id::HEADER, id.header_value());
    response
}

async fn answer(state: AppState, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The route pattern, when metrics are recorded (a shared string: no copy per request).
    let route = crate::telemetry::metrics::enabled()
        .then(|| request.extensions().get::<axum::extract::MatchedPath>().cloned());
    let log = state.config.serving.log_requests;
    // A probe every few seconds would bury the log: health answers are logged only when they
    // fail.
    let probe = crate::health::is_probe(request.uri().path());
    let logged = (tracing::enabled!(tracing::Level::INFO) && log != LogRequests::None)
        .then(|| (request.method().clone(), request.uri().path().to_owned()));
    let mut response = if request.uri().path().starts_with("/api/") {
        api_boundary(&state, request, next).await
    } else if !matches!(*request.method(), Method::GET | Method::HEAD) {
        // Pages and files are only ever read; every form posts to `/api`. (Before, a POST to
        // a static file answered 200 with the file.)
        let mut refused = StatusCode::METHOD_NOT_ALLOWED.into_response();
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        refused
    } else if let Some(detour) = detour(&state, &request) {
        detour
    } else if let Some(to) = link_detour(&state, request.uri()).await {
        (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
    } else {
        let mut response = page_within_deadline(&state, request, next).await;
        // A page is rendered for the person asking (the profile shows their email, the sessions
        // page their devices and addresses): no browser or shared cache may keep one.
        let is_page = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        if is_page {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    };
    set_fixed_headers(state.config.cookie_secure, response.headers_mut());
    let status = response.status().as_u16();
    if let Some(route) = &route {
        let route = route.as_ref().map_or("unmatched", |matched| matched.as_str());
        crate::telemetry::metrics::request(route, status, started.elapsed());
    }
    let quiet = probe && response.status().is_success();
    if let Some((method, path)) = logged.filter(|_| log.includes(status) && !quiet) {
        tracing::info!(
            %method,
            %path,
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
    }
    response
}

/// A page or file, bounded by `REQUEST_TIMEOUT` twice: its head must be ready within it, and its
/// body may go no longer than it without a new part. A client that stops reading is ended by
/// the connection's write timeout (`connections`); this ends an answer that stops on the
/// server's side. One did, rarely, under the whole test suite's load: a page's answer stopped
/// with the socket free to take more, and held its connection (and the address's share of
/// connections) for good, while every timeout waited on the client.
async fn page_within_deadline(state: &AppState, request: Request, next: Next) -> Response {
    let deadline = state.config.serving.request_timeout;
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(deadline, refuse_or_run(state, request, next)).await {
        Ok(response) => response.map(|body| {
            Body::new(tower_http::timeout::TimeoutBody::new(deadline, body))
        }),
        Err(_) => {
            tracing::warn!(%path, "a page was not ready within REQUEST_TIMEOUT");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn refuse_or_run(state: &AppState, request: Request, next: Next) -> Response {
    if let Some(refused) = security::origin::refusal(&request, &state.config.limits.trusted_proxies)
    {
        return refused.into_response();
    }
    if let Some(refused) = security::limits::refusal(
        &state.limits,
        &state.config.limits.trusted_proxies,
        &request,
    ) {
        return refused;
    }
    next.run(request).await
}

async fn api_boundary(state: &AppState, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared_too_large = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES);
    // The body is the part of a request whose pace the client sets: it must arrive within
    // REQUEST_TIMEOUT (408 after it), so a body sent a byte at a time holds nothing for long.
    // What the server does next is bounded by its own waits (the database, the hashing queue).
    // A request without a body (GET /me, the hot path) needs no timer at all.
    let body = if declared_too_large {
        Err(too_large())
    } else if HttpBody::size_hint(&body).exact() == Some(0) {
        Ok(axum::body::Bytes::new())
    } else {
        let deadline = state.config.serving.request_timeout;
        match tokio::time::timeout(deadline, to_bytes(body, MAX_BODY_BYTES)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(_)) => Err(too_large()),
            Err(_) => Err(StatusCode::REQUEST_TIMEOUT.into_response()),
        }
    };
    let mut response = match body {
        Ok(bytes) => {
            refuse_or_run(state, Request::from_parts(parts, Body::from(bytes)), next).await
        }
        Err(refusal) => refusal,
    };
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        response = with_status_of_its_code(response).await;
    }
    // The database is busy, full or away: a client may try again shortly.
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static("5"));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn too_large() -> Response {
    let error = AppError::invalid_input(WHOLE_BODY, "The request body is larger than 16 KiB.");
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(error)).into_response()
}

/// Server functions answer every error with 500; the error's code says what it really is.
async fn with_status_of_its_code(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, 64 * 1024).await else {
        return AppError::opaque_internal().into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.code.status()).unwrap_or(parts.status);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Response::from_parts(parts, Body::from(bytes))
}
