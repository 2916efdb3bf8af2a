//! What an operator meets: the log as JSON lines with a request id on every line.

use super::*;

#[tokio::test]
async fn json_logs_are_one_object_per_line_carrying_the_id_echoed_in_x_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[("LOG_FORMAT", "json")]).await;
    let asked = client()
        .get(format!("{}/api/auth/me", server.base))
        .header("x-request-id", "chosen-by-the-client")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::UNAUTHORIZED);
    let id = asked.headers()["x-request-id"].to_str().unwrap().to_owned();
    // The client is no trusted proxy: its id is replaced by the server's own.
    assert_ne!(id, "chosen-by-the-client");

    let log_file = dir.path().join("server.log");
    let read = || std::fs::read_to_string(&log_file).unwrap();
    support::within(Duration::from_secs(5), "the request line", || async {
        read().contains(&id)
    })
    .await;
    let lines = read();
    let mut found = false;
    for line in lines.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            object["timestamp"].is_string() && object["level"].is_string(),
            "{line}"
        );
        if object["span"]["request_id"] == id {
            assert_eq!(object["path"], "/api/auth/me", "{line}");
            assert_eq!(object["status"], 401, "{line}");
            found = true;
        }
    }
    assert!(found, "no request line carried {id}:\n{lines}");
}

#[tokio::test]
async fn a_trusted_proxys_request_id_is_kept_and_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let asked = client()
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "edge-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.headers()["x-request-id"], "edge-7f3a");
}
