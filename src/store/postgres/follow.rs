//! [ssr] How an instance hears what the others changed: the migration's triggers announce ended
//! sessions and changed accounts on [`CHANNEL`], and this turns them into [`Change`]s.

use crate::store::{Change, StoreError};
use sqlx::{postgres::PgListener, PgPool};
use std::time::Duration;

/// The notification channel the migration's triggers announce changes on.
pub const CHANNEL: &str = "gatehouse";

/// Listens on [`CHANNEL`] and hands every announced [`Change`] to `apply`. When the connection
/// drops, notifications sent meanwhile are lost, so once it is back `apply` gets
/// [`Change::Missed`] and should reload what it caches.
pub(super) async fn follow(
    pool: &PgPool,
    apply: Box<dyn Fn(Change) + Send + Sync>,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match Change::parse(notification.payload()) {
                    Some(change) => apply(change),
                    None => tracing::warn!(
                        payload = notification.payload(),
                        "unknown notification ignored"
                    ),
                },
                // Lost and already re-established (sqlx reconnects eagerly).
                Ok(None) => {
                    tracing::warn!("notification connection was lost; reloading caches");
                    apply(Change::Missed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notification connection failed; retrying");
                    apply(Change::Disconnected);
                    // `listen` reconnects and listens again; only then can a reload be
                    // sure to see everything the notifications would have said.
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if listener.listen(CHANNEL).await.is_ok() {
                            break;
                        }
                    }
                    apply(Change::Missed);
                }
            }
        }
    }))
}
