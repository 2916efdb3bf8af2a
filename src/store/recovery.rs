//! [ssr] What account recovery stores: mail waiting in the outbox, and the single-use tokens
//! that mail carries (a reset link). Plain data, the same on every database.

use super::NewSession;
use std::fmt;
use time::OffsetDateTime;

/// A message in the outbox, rendered and addressed. Its bodies may hold a link with a token, so
/// `Debug` shows neither them nor the recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub queued_at: OffsetDateTime,
    /// When it is no use any more (its link has expired): discarded undelivered after that.
    pub discard_after: Option<OffsetDateTime>,
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Makes the notice a refresh exchange queues when it finds reuse (and only then: the hot path
/// of a refresh renders no mail).
pub type ReuseNotice<'a> = dyn Fn() -> OutgoingMail + Send + Sync + 'a;

/// A message a worker took from the outbox to send, with the tries made before this one.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub mail: OutgoingMail,
    pub attempts: i64,
}

/// An outbox row as a claim returns it (times in unix seconds), the same on both databases.
#[derive(sqlx::FromRow)]
pub struct OutboxRow {
    id: String,
    recipient: String,
    subject: String,
    text_body: String,
    html_body: String,
    queued_at: i64,
    attempts: i64,
    discard_after: Option<i64>,
}

/// The columns of [`OutboxRow`], for a claim's `RETURNING`.
pub const OUTBOX_COLUMNS: &str =
    "id, recipient, subject, text_body, html_body, queued_at, attempts, discard_after";

impl From<OutboxRow> for ClaimedMail {
    fn from(row: OutboxRow) -> Self {
        let at = |secs: i64| {
            OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
        };
        Self {
            mail: OutgoingMail {
                id: row.id,
                recipient: row.recipient,
                subject: row.subject,
                text_body: row.text_body,
                html_body: row.html_body,
                queued_at: at(row.queued_at),
                discard_after: row.discard_after.map(at),
            },
            attempts: row.attempts,
        }
    }
}

/// What a token sent by mail lets its holder do, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    PasswordReset,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
        }
    }
}

/// A token as it is stored: its hash, bound to an account, a purpose, and the account's
/// credential version when it was made.
#[derive(Debug, Clone)]
pub struct AccountToken {
    pub token_hash: String,
    pub user_id: String,
    pub purpose: TokenPurpose,
    pub credential_version: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What a presented token is worth now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    /// Unused, unexpired, made for this purpose under the account's current credentials.
    Usable { user_id: String },
    /// It was good, and its time is over.
    Expired,
    /// Unknown, used, made for something else, or made before the password last changed.
    Invalid,
}

/// A password reset as the store applies it, in one transaction: the token is spent, the
/// password set, every session ended, the account's lockout cleared, the notice queued, and
/// this browser's new session started.
#[derive(Debug)]
pub struct PasswordReset<'a> {
    pub token_hash: &'a str,
    pub password_hash: &'a str,
    /// The keys of the account's failed-password budgets, cleared with the reset.
    pub budget_keys: &'a [String],
    pub session: &'a NewSession,
    pub notice: &'a OutgoingMail,
    pub at: OffsetDateTime,
}

/// How a reset came out: done (with the sessions it ended), or refused for its token.
#[derive(Debug)]
pub enum ResetOutcome {
    Done { ended: Vec<String> },
    Refused(TokenState),
}

/// A stored token's row, as [`judge_token`] reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub user_id: String,
    pub purpose: String,
    pub credential_version: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The account's credential version now.
    pub current_version: i64,
}

/// What a presented token is worth at `now` (unix seconds) for `purpose`: one rule, shared by
/// the page that shows the form (which spends nothing) and the reset that spends it. A used
/// token is invalid even if it has expired since: "expired" would invite asking for a new link
/// that is not needed.
pub fn judge_token(row: Option<TokenRow>, purpose: TokenPurpose, now: i64) -> TokenState {
    match row {
        Some(row)
            if row.purpose == purpose.as_str()
                && row.used_at.is_none()
                && row.credential_version == row.current_version =>
        {
            if row.expires_at > now {
                TokenState::Usable {
                    user_id: row.user_id,
                }
            } else {
                TokenState::Expired
            }
        }
        _ => TokenState::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TokenRow {
        TokenRow {
            user_id: "u1".into(),
            purpose: "password_reset".into(),
            credential_version: 3,
            expires_at: 1_000,
            used_at: None,
            current_version: 3,
        }
    }

    const RESET: TokenPurpose = TokenPurpose::PasswordReset;

    #[test]
    fn an_unused_token_of_the_current_password_works_until_it_expires() {
        let usable = TokenState::Usable {
            user_id: "u1".into(),
        };
        assert_eq!(judge_token(Some(row()), RESET, 999), usable);
        assert_eq!(judge_token(Some(row()), RESET, 1_000), TokenState::Expired);
    }

    #[test]
    fn a_used_unknown_or_outdated_token_is_invalid_expired_or_not() {
        assert_eq!(judge_token(None, RESET, 0), TokenState::Invalid);
        let used = TokenRow {
            used_at: Some(500),
            ..row()
        };
        assert_eq!(judge_token(Some(used.clone()), RESET, 0), TokenState::Invalid);
        assert_eq!(judge_token(Some(used), RESET, 5_000), TokenState::Invalid);
        let before_a_password_change = TokenRow {
            current_version: 4,
            ..row()
        };
        assert_eq!(
            judge_token(Some(before_a_password_change), RESET, 0),
            TokenState::Invalid
        );
        let another_purpose = TokenRow {
            purpose: "verify_email".into(),
            ..row()
        };
        assert_eq!(judge_token(Some(another_purpose), RESET, 0), TokenState::Invalid);
    }
}
