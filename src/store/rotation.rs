//! [ssr] Refresh rotation's rule, shared by every [`Store`](super::Store): each database reads
//! the presented token's row under its write lock, [`judge`] decides what happens next (rotate,
//! answer within the grace window, or end the session for reuse), and
//! [`settle_rotation`](super::steps::settle_rotation) carries it out.

use super::Rotation;
use std::time::Duration;
use time::OffsetDateTime;

/// A presented refresh token's row and its session's, as read under the write lock.
#[derive(sqlx::FromRow)]
pub struct TokenRow {
    /// `live`, `used` or `revoked`.
    pub state: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub successor_hash: Option<String>,
    pub session_ended: bool,
    pub session_ends_by: OffsetDateTime,
}

/// What the store does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Mark the row used, insert the successor.
    Rotate,
    /// Change nothing; answer this.
    Answer(Rotation),
    /// Reuse: end the session, answer [`Rotation::Reused`].
    EndForReuse,
}

pub fn judge(row: TokenRow, now: OffsetDateTime, grace: Duration) -> Verdict {
    if row.session_ended || row.state == "revoked" {
        return Verdict::Answer(Rotation::Revoked);
    }
    if row.expires_at <= now || row.session_ends_by <= now {
        return Verdict::Answer(Rotation::Expired);
    }
    if row.state != "used" {
        return Verdict::Rotate;
    }
    if let (Some(used_at), Some(successor_hash)) = (row.used_at, row.successor_hash) {
        // Whole seconds, as tokens count time: the window is `grace` rounded up; zero is off.
        let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        if grace > 0 && now.unix_timestamp() - used_at.unix_timestamp() <= grace {
            return Verdict::Answer(Rotation::Recent {
                rotated_at: used_at,
                successor_hash,
            });
        }
    }
    Verdict::EndForReuse
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    fn row(state: &str, used_at: Option<i64>) -> TokenRow {
        TokenRow {
            state: state.into(),
            expires_at: at(3600),
            used_at: used_at.map(at),
            successor_hash: used_at.map(|_| "next".into()),
            session_ended: false,
            session_ends_by: at(7200),
        }
    }

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn a_live_token_rotates() {
        assert_eq!(judge(row("live", None), at(0), GRACE), Verdict::Rotate);
    }

    #[test]
    fn a_used_token_within_the_window_gets_its_successor_and_after_it_ends_the_session() {
        let recent = judge(row("used", Some(0)), at(10), GRACE);
        assert_eq!(
            recent,
            Verdict::Answer(Rotation::Recent {
                rotated_at: at(0),
                successor_hash: "next".into()
            })
        );
        assert_eq!(
            judge(row("used", Some(0)), at(11), GRACE),
            Verdict::EndForReuse
        );
        assert_eq!(
            judge(row("used", Some(0)), at(0), Duration::ZERO),
            Verdict::EndForReuse
        );
    }

    #[test]
    fn an_ended_session_or_a_revoked_token_is_revoked_and_a_lapsed_one_expired() {
        let mut ended = row("live", None);
        ended.session_ended = true;
        assert_eq!(
            judge(ended, at(0), GRACE),
            Verdict::Answer(Rotation::Revoked)
        );
        assert_eq!(
            judge(row("revoked", None), at(0), GRACE),
            Verdict::Answer(Rotation::Revoked)
        );
        assert_eq!(
            judge(row("live", None), at(3600), GRACE),
            Verdict::Answer(Rotation::Expired)
        );
        let mut capped = row("live", None);
        capped.session_ends_by = at(5);
        assert_eq!(
            judge(capped, at(5), GRACE),
            Verdict::Answer(Rotation::Expired)
        );
    }
}
