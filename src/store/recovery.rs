//! [ssr] What account recovery stores: mail waiting in the outbox, and the single-use tokens
//! that mail carries (a reset link, a verification link and code, an address change and its
//! undoing). Plain data, and the rule for judging a token, the same on every database.

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
pub type ReuseNotice<'a> = dyn Fn() -> (OutgoingMail, super::Event) + Send + Sync + 'a;

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
    /// Proves the account's address (a link, or its six-digit code).
    VerifyEmail,
    /// Moves the account to `email_to`: sent to that address.
    ChangeEmail,
    /// Cancels a pending change to `email_to`: sent to the current address when the change is
    /// asked for. Bound like every token: once the address has moved, it is dead.
    CancelEmailChange,
    /// Puts `email_was` back after the account moved to `email_to`: sent to `email_was` when
    /// the move is made. The old owner's way back from whoever took the account, so it holds
    /// whatever happens next (see [`judge_token`]).
    UndoEmailChange,
}

impl TokenPurpose {
    /// Whether a new token of this purpose spends the account's older ones: only the newest
    /// verification (link and code) works, so that asking again does not multiply the codes a
    /// guesser may hit; and only the newest address change. Several reset links may live at
    /// once (a lost mail must not block the next), and undo links never end each other.
    pub fn supersedes_older(self) -> bool {
        matches!(self, Self::VerifyEmail | Self::ChangeEmail)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
            Self::ChangeEmail => "change_email",
            Self::CancelEmailChange => "cancel_email_change",
            Self::UndoEmailChange => "undo_email_change",
        }
    }
}

/// A token as it is stored: its hash, bound to an account, a purpose, and the account's
/// credential version and address when it was made.
#[derive(Debug, Clone)]
pub struct AccountToken {
    pub token_hash: String,
    pub user_id: String,
    pub purpose: TokenPurpose,
    pub credential_version: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The account's address when it was made.
    pub email_was: String,
    /// The address an address change moves to.
    pub email_to: Option<String>,
    /// A verification's code, keyed-hashed (see `security::limits::Limits::code_digest`).
    pub code_hash: Option<String>,
}

/// What a presented token is worth now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    /// Unused, unexpired, made for this purpose under the account's current credentials and
    /// address (or, to undo an address change, one of the two addresses it is about).
    Usable {
        user_id: String,
        email_was: String,
        email_to: Option<String>,
    },
    /// It was good, and its time is over.
    Expired,
    /// Unknown, used, made for something else, or made before the password or the address
    /// last changed.
    Invalid,
}

/// A password reset as the store applies it, in one transaction: the token is spent, the
/// password set, every session ended, the account's lockout cleared, the notice queued, and
/// this browser's new session started (unless the account has a second factor: then the
/// browser goes on to a second step instead).
/// No `Debug`: it holds a password hash.
pub struct PasswordReset<'a> {
    pub token_hash: &'a str,
    /// The account the token was judged to be of, before the transaction.
    pub user_id: &'a str,
    pub password_hash: &'a str,
    /// The keys of the account's failed-password budgets, cleared with the reset.
    pub budget_keys: &'a [String],
    pub session: Option<&'a NewSession>,
    pub notice: &'a OutgoingMail,
    /// Written for the account whose token it is.
    pub event: &'a super::Event,
    pub at: OffsetDateTime,
}

/// A registration as the store applies it, in one transaction: the account, its verification
/// token and the mail carrying it, and (unless logins wait for a verified address) its first
/// session.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    pub user: &'a super::UserRecord,
    /// The address's comparison form, unique among accounts.
    pub email_key: &'a str,
    pub verification: &'a AccountToken,
    pub mail: &'a OutgoingMail,
    pub session: Option<&'a NewSession>,
    pub event: &'a super::Event,
}

/// An address change confirmed with the token mailed to the new address: the token spent, the
/// address moved (and proved), and the old address told, with a token to undo it.
#[derive(Debug)]
pub struct EmailChange<'a> {
    pub token_hash: &'a str,
    /// The comparison form of the address it moves from: held for the account (see
    /// `held_addresses`) until `undo` expires.
    pub email_was_key: &'a str,
    /// The address the token was read to move to: the notice and `undo` were made for it.
    pub email_to: &'a str,
    pub email_to_key: &'a str,
    pub undo: &'a AccountToken,
    pub notice: &'a OutgoingMail,
    /// Written for the account whose token it is.
    pub event: &'a super::Event,
    pub at: OffsetDateTime,
}

/// An address change undone with the token mailed to the address it replaces.
/// No `Debug`: it holds a password hash.
pub struct EmailChangeUndo<'a> {
    pub token_hash: &'a str,
    /// Which link it is: cancelling a pending change, or undoing a move.
    pub purpose: TokenPurpose,
    /// The comparison form of the address it restores.
    pub email_was_key: &'a str,
    /// A password hash nobody knows the password of: a restored account's password is
    /// replaced by it, since whoever moved the address may know the old one (or set it).
    pub unusable_hash: &'a str,
    /// Told to the address an undo replaces (its recipient is set to that address).
    pub notice: &'a OutgoingMail,
    /// Written, for the account whose token it is, when an undo restores the address.
    pub event: &'a super::Event,
    pub at: OffsetDateTime,
}

/// How undoing an address change came out.
#[derive(Debug)]
pub enum UndoOutcome {
    /// The change was still pending: its links no longer work.
    Cancelled { user_id: String },
    /// The change had been made: the old address is back, the password must be reset, and
    /// these sessions ended.
    Restored { user_id: String, ended: Vec<String> },
    Refused(TokenState),
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
    pub email_was: String,
    pub email_to: Option<String>,
    /// The account's credential version now.
    pub current_version: i64,
    /// The account's address now.
    pub current_email: String,
    /// Whether an operator has disabled the account: its links do nothing meanwhile.
    pub account_disabled: bool,
}

/// What a presented token is worth at `now` (unix seconds) for `purpose`: one rule, shared by
/// the page that shows the form (which spends nothing) and the step that spends it. A used
/// token is invalid even if it has expired since: "expired" would invite asking for a new link
/// that is not needed.
///
/// A token dies when the password or the address changes after it was made, except the one
/// that undoes a move of the address: that one is the old owner's way back from someone who
/// took the account, so it holds through whatever that someone does next (a new password,
/// another move of the address) until it is used, expires, or an older undo link is used. (Every move of the address also spends
/// the account's other links, so none comes back to life when an address returns.)
pub fn judge_token(row: Option<TokenRow>, purpose: TokenPurpose, now: i64) -> TokenState {
    let Some(row) = row else {
        return TokenState::Invalid;
    };
    let bound = purpose == TokenPurpose::UndoEmailChange
        || (row.credential_version == row.current_version && row.current_email == row.email_was);
    if row.purpose != purpose.as_str() || row.used_at.is_some() || !bound || row.account_disabled
    {
        TokenState::Invalid
    } else if row.expires_at <= now {
        TokenState::Expired
    } else {
        TokenState::Usable {
            user_id: row.user_id,
            email_was: row.email_was,
            email_to: row.email_to,
        }
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
            email_was: "old@example.com".into(),
            email_to: None,
            current_version: 3,
            current_email: "old@example.com".into(),
            account_disabled: false,
        }
    }

    #[test]
    fn no_link_of_a_disabled_account_works_not_even_an_undo() {
        for purpose in [RESET, UNDO] {
            let disabled = TokenRow {
                purpose: purpose.as_str().into(),
                account_disabled: true,
                ..row()
            };
            assert_eq!(judge_token(Some(disabled), purpose, 500), TokenState::Invalid);
        }
    }

    const RESET: TokenPurpose = TokenPurpose::PasswordReset;
    const UNDO: TokenPurpose = TokenPurpose::UndoEmailChange;

    fn usable(email_to: Option<&str>) -> TokenState {
        TokenState::Usable {
            user_id: "u1".into(),
            email_was: "old@example.com".into(),
            email_to: email_to.map(str::to_owned),
        }
    }

    #[test]
    fn an_unused_token_of_the_current_password_works_until_it_expires() {
        assert_eq!(judge_token(Some(row()), RESET, 999), usable(None));
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

    #[test]
    fn cancelling_a_pending_change_dies_once_the_address_moved() {
        let cancel = |current: &str| TokenRow {
            purpose: "cancel_email_change".into(),
            email_to: Some("new@example.com".into()),
            current_email: current.into(),
            ..row()
        };
        let purpose = TokenPurpose::CancelEmailChange;
        let pending = judge_token(Some(cancel("old@example.com")), purpose, 0);
        assert_eq!(pending, usable(Some("new@example.com")));
        let moved = judge_token(Some(cancel("new@example.com")), purpose, 0);
        assert_eq!(moved, TokenState::Invalid);
    }

    #[test]
    fn a_token_made_before_the_address_changed_is_invalid() {
        let verify = TokenRow {
            purpose: "verify_email".into(),
            current_email: "new@example.com".into(),
            ..row()
        };
        let purpose = TokenPurpose::VerifyEmail;
        assert_eq!(judge_token(Some(verify), purpose, 0), TokenState::Invalid);
        let reset = TokenRow {
            current_email: "new@example.com".into(),
            ..row()
        };
        assert_eq!(judge_token(Some(reset), RESET, 0), TokenState::Invalid);
    }

    #[test]
    fn undoing_an_address_change_holds_through_whatever_the_taker_does_next_until_used() {
        let cancel = |current: &str, version: i64| TokenRow {
            purpose: "undo_email_change".into(),
            email_to: Some("new@example.com".into()),
            current_email: current.into(),
            current_version: version,
            ..row()
        };
        let expected = usable(Some("new@example.com"));
        // Pending, then done, then a new password, then moved on to a third address.
        assert_eq!(judge_token(Some(cancel("old@example.com", 3)), UNDO, 0), expected);
        assert_eq!(judge_token(Some(cancel("new@example.com", 3)), UNDO, 0), expected);
        assert_eq!(judge_token(Some(cancel("new@example.com", 4)), UNDO, 0), expected);
        assert_eq!(judge_token(Some(cancel("third@example.com", 5)), UNDO, 0), expected);
        let used = TokenRow {
            used_at: Some(1),
            ..cancel("new@example.com", 3)
        };
        assert_eq!(judge_token(Some(used), UNDO, 0), TokenState::Invalid);
        assert_eq!(
            judge_token(Some(cancel("new@example.com", 3)), UNDO, 1_000),
            TokenState::Expired
        );
    }
}
