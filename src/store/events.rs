//! [ssr] The audit trail: what happened to an account, who did it, from where. Written inside
//! the transaction of the change it records (see `steps`), so the trail never tells of a change
//! that rolled back nor misses one that committed.

use time::OffsetDateTime;

/// What happened. The names are stored; renaming one orphans the rows that carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Registered,
    LoggedIn,
    /// A wrong password for this account (written after the answer, see `auth::login`).
    LoginFailed,
    /// Wrong passwords spent the account's budget: strangers are refused for a while.
    Locked,
    LoggedOut,
    /// One session ended by the owner from another, or by an operator.
    SessionRevoked,
    /// Every session ended at once ("log out everywhere", or an operator).
    SessionsEnded,
    /// A refresh token was used again after it rotated: its session ended.
    ReuseDetected,
    PasswordChanged,
    PasswordReset,
    EmailChanged,
    EmailRestored,
    AccountDisabled,
    AccountEnabled,
    AccountDeleted,
    /// An authenticator app was turned on (with new recovery codes).
    TotpEnabled,
    TotpDisabled,
    RecoveryCodesReplaced,
    /// A recovery code was spent (it works once).
    RecoveryCodeUsed,
    /// A wrong authenticator or recovery code, after a right password.
    SecondFactorFailed,
    PasskeyAdded,
    PasskeyRemoved,
}

impl EventKind {
    pub const ALL: [Self; 22] = [
        Self::Registered,
        Self::LoggedIn,
        Self::LoginFailed,
        Self::Locked,
        Self::LoggedOut,
        Self::SessionRevoked,
        Self::SessionsEnded,
        Self::ReuseDetected,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::EmailChanged,
        Self::EmailRestored,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::AccountDeleted,
        Self::TotpEnabled,
        Self::TotpDisabled,
        Self::RecoveryCodesReplaced,
        Self::RecoveryCodeUsed,
        Self::SecondFactorFailed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoggedIn => "logged_in",
            Self::LoginFailed => "login_failed",
            Self::Locked => "locked",
            Self::LoggedOut => "logged_out",
            Self::SessionRevoked => "session_revoked",
            Self::SessionsEnded => "sessions_ended",
            Self::ReuseDetected => "reuse_detected",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EmailChanged => "email_changed",
            Self::EmailRestored => "email_restored",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::AccountDeleted => "account_deleted",
            Self::TotpEnabled => "totp_enabled",
            Self::TotpDisabled => "totp_disabled",
            Self::RecoveryCodesReplaced => "recovery_codes_replaced",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Who a web request that does this is taken to be: someone without the password (a wrong
    /// one, the lock it causes, a rotated token presented again) is a stranger until known
    /// otherwise; everything else needs the account's session or a link mailed to it.
    pub fn requested_by(self) -> Actor {
        match self {
            Self::LoginFailed | Self::Locked | Self::ReuseDetected | Self::SecondFactorFailed => {
                Actor::Stranger
            }
            _ => Actor::Owner,
        }
    }
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// From a browser signed in to the account, or a link mailed to its address.
    Owner,
    /// From the command line.
    Operator,
    /// Someone typing the account's name at login without its password.
    Stranger,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Operator => "operator",
            Self::Stranger => "stranger",
        }
    }
}

/// One entry to write. For a change whose account is known only once its mailed token is
/// spent (a reset, an address change or undo), the store fills in `user_id`.
#[derive(Debug, Clone)]
pub struct Event {
    pub user_id: String,
    pub kind: EventKind,
    pub at: OffsetDateTime,
    pub actor: Actor,
    /// The client address of the request that did it; `None` from the command line.
    pub ip: Option<String>,
    /// Its device, as the sessions page names it; `None` from the command line.
    pub device: Option<String>,
    /// The session concerned, if one is.
    pub session_id: Option<String>,
}

impl Event {
    /// The same event, for the account `user_id`.
    pub fn of(&self, user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            ..self.clone()
        }
    }

    /// The same event, about the session `session_id`.
    pub fn about(self, session_id: &str) -> Self {
        Self {
            session_id: Some(session_id.to_owned()),
            ..self
        }
    }
}

/// One entry read back, newest first.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRecord {
    pub id: i64,
    pub user_id: String,
    pub kind: String,
    pub at: i64,
    pub actor: String,
    pub ip: Option<String>,
    pub device: Option<String>,
    pub session_id: Option<String>,
}

/// A signing key's id and times (see `credentials::key_ring`); never key material.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// Unix seconds; 0 for the original key (the secret itself), listed at the first rotation.
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// What retiring a signing key came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    Retired,
    /// No live key has that id.
    NotLive,
    /// It is the only live key: nothing could sign. Rotate first.
    LastLive,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("logged in"), None);
    }
}
