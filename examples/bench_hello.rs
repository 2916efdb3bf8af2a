//! The machine's ceiling for the load benchmark (`scripts/bench-load`): axum answering
//! "Hello, world!" with nothing else, on the address given as the first argument.

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3401".into());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, world!" }));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("bind the hello server");
    axum::serve(listener, app).await.expect("serve");
}
