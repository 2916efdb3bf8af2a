//! [ssr] Second factors in the store: an account's authenticator app and recovery codes, its
//! passkeys, the challenges a browser is in the middle of (a login's second step, a WebAuthn
//! ceremony), and how each session proved who it is.
//!
//! Every guarantee here is one SQL statement's, or one transaction's: a time step is spent by
//! an `UPDATE … WHERE last_step < step`, a recovery code by an `UPDATE … WHERE used_at IS NULL`,
//! a challenge by a `DELETE … RETURNING`. However many requests carry the same code or challenge
//! at once, on however many instances, exactly one wins. The SQL is the same on both databases
//! (`$n` parameters, which SQLite reads too), so it is written once, in [`factor_queries`].

use super::{Event, OutgoingMail, StoreError};
use async_trait::async_trait;

/// How a session signed in. The names are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    PasswordAndCode,
    PasswordAndRecoveryCode,
    Passkey,
}

impl SignInMethod {
    pub const ALL: [Self; 4] = [
        Self::Password,
        Self::PasswordAndCode,
        Self::PasswordAndRecoveryCode,
        Self::Passkey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::PasswordAndCode => "password_totp",
            Self::PasswordAndRecoveryCode => "password_recovery_code",
            Self::Passkey => "passkey",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == name)
    }
}

/// An account's authenticator app, as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct TotpRecord {
    /// Sealed (see `credentials::factors`).
    pub secret: String,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
}

/// What protects an account besides its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FactorSummary {
    /// An authenticator app is on (confirmed).
    pub totp: bool,
    pub recovery_codes_left: i64,
    pub passkeys: i64,
}

impl FactorSummary {
    /// Whether a password alone is not enough to sign in: the authenticator app is on. A
    /// passkey is another way in, not a gate on the password: only the app comes with recovery
    /// codes, so an account whose passkey gated its password would be lost with the device.
    pub fn second_factor(&self) -> bool {
        self.totp
    }
}

/// What a challenge is for. The names are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// A login whose password was right, waiting for a code or a passkey.
    SecondStep,
    PasskeyAdd,
    PasskeyLogin,
    /// A confirmation of who is asking (step-up) by passkey.
    PasskeyConfirm,
}

impl ChallengePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecondStep => "second_step",
            Self::PasskeyAdd => "passkey_add",
            Self::PasskeyLogin => "passkey_login",
            Self::PasskeyConfirm => "passkey_confirm",
        }
    }
}

/// A challenge, as stored. Its id is a random value only the browser holds; this is its hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRecord {
    pub id_hash: String,
    pub purpose: String,
    pub user_id: Option<String>,
    pub credential_version: Option<i64>,
    pub state: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A passkey, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRecord {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The credential as webauthn-rs keeps it, JSON.
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// How a live session last proved who is behind it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionProof {
    pub method: String,
    /// Unix seconds: the login, or the last confirmation since.
    pub verified_at: Option<i64>,
}

#[async_trait]
pub trait Factors: Send + Sync {
    /// The account's authenticator app, confirmed or waiting for its first code.
    async fn totp_factor(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError>;

    /// Starts (or starts over) enrolling an authenticator app with the sealed `secret`; `false`
    /// when one is on already (it must be turned off first).
    async fn begin_totp(&self, user_id: &str, secret: &str, at: i64) -> Result<bool, StoreError>;

    /// Turns the waiting authenticator app on with the first right code's `step` (spent), and
    /// replaces the recovery codes with `code_hashes`, writing `event`; `false` when the app
    /// waiting is not the one of `secret` (the one the code was checked against: set up again
    /// meanwhile), or none is waiting, or that step is spent.
    async fn confirm_totp(
        &self,
        user_id: &str,
        secret: &str,
        step: i64,
        code_hashes: &[String],
        event: &Event,
        notice: &OutgoingMail,
    ) -> Result<bool, StoreError>;

    /// Spends the time step `step` of the account's authenticator: `true` for the first
    /// request to spend it (or a later step) and no other.
    async fn spend_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError>;

    /// Spends the recovery code with hash `code_hash` at `at`: `true` for its first use only.
    /// `event` is written with it.
    async fn spend_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// New recovery codes in place of the old ones, if the authenticator app is on.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        code_hashes: &[String],
        event: &Event,
        notice: &OutgoingMail,
    ) -> Result<bool, StoreError>;

    /// Turns the authenticator app off, with its recovery codes; `false` when it was not on.
    async fn remove_totp(
        &self,
        user_id: &str,
        event: &Event,
        notice: &OutgoingMail,
    ) -> Result<bool, StoreError>;

    async fn factor_summary(&self, user_id: &str) -> Result<FactorSummary, StoreError>;

    /// Adds a passkey, writing `event` and queuing `notice` with it; [`StoreError::Taken`] when
    /// its credential id is registered already (to this account or another).
    async fn add_passkey(
        &self,
        passkey: &PasskeyRecord,
        event: &Event,
        notice: &OutgoingMail,
    ) -> Result<(), StoreError>;

    /// The account's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError>;

    /// The passkey with credential id `id` of `user_id`.
    async fn passkey(&self, user_id: &str, id: &str) -> Result<Option<PasskeyRecord>, StoreError>;

    /// Records a sign-in with the passkey `id` at `at`, with its credential as updated (its
    /// signature counter).
    async fn passkey_used(&self, id: &str, passkey: &str, at: i64) -> Result<(), StoreError>;

    /// Removes the passkey `id` of `user_id`; `false` when it has no such passkey.
    async fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        event: &Event,
        notice: &OutgoingMail,
    ) -> Result<bool, StoreError>;

    async fn put_challenge(&self, challenge: &ChallengeRecord) -> Result<(), StoreError>;

    /// The challenge `id_hash` made for `purpose`, left in place; `None` when there is none or
    /// it expired before `now`.
    async fn challenge(
        &self,
        id_hash: &str,
        purpose: ChallengePurpose,
        now: i64,
    ) -> Result<Option<ChallengeRecord>, StoreError>;

    /// Takes the challenge `id_hash` made for `purpose`: it is gone after this, whoever asks.
    /// `None` when there is none, or it expired before `now`.
    async fn take_challenge(
        &self,
        id_hash: &str,
        purpose: ChallengePurpose,
        now: i64,
    ) -> Result<Option<ChallengeRecord>, StoreError>;

    /// How the live session `session_id` of `user_id` last proved who is behind it.
    async fn session_proof(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<SessionProof>, StoreError>;

    /// Records a confirmation of who is behind the live session (a step-up) at `at`.
    async fn session_verified(
        &self,
        user_id: &str,
        session_id: &str,
        at: i64,
    ) -> Result<bool, StoreError>;
}

/// The [`Factors`] implementation for a store with a `pool` and a `write()` that opens a write
/// transaction (on SQLite after the one write lock). One body of SQL for both databases.
macro_rules! factor_queries {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::factors::Factors for $store {
            async fn totp_factor(
                &self,
                user_id: &str,
            ) -> Result<Option<$crate::store::factors::TotpRecord>, $crate::store::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT secret, confirmed_at, last_step FROM totp_factors WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn begin_totp(
                &self,
                user_id: &str,
                secret: &str,
                at: i64,
            ) -> Result<bool, $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                let done = sqlx::query(
                    "INSERT INTO totp_factors (user_id, secret, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = $3
                     WHERE totp_factors.confirmed_at IS NULL",
                )
                .bind(user_id)
                .bind(secret)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(done > 0)
            }

            async fn confirm_totp(
                &self,
                user_id: &str,
                secret: &str,
                step: i64,
                code_hashes: &[String],
                event: &$crate::store::Event,
                notice: &$crate::store::OutgoingMail,
            ) -> Result<bool, $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                let on = sqlx::query(
                    "UPDATE totp_factors SET confirmed_at = $1, last_step = $2
                     WHERE user_id = $3 AND confirmed_at IS NULL AND last_step < $2
                       AND secret = $4",
                )
                .bind(event.at.unix_timestamp())
                .bind(step)
                .bind(user_id)
                .bind(secret)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if on == 0 {
                    return Ok(false);
                }
                Self::put_recovery_codes(&mut tx, user_id, code_hashes).await?;
                $crate::store::steps::tell_and_commit(tx, notice, event).await?;
                Ok(true)
            }

            async fn spend_totp_step(
                &self,
                user_id: &str,
                step: i64,
            ) -> Result<bool, $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                let spent = sqlx::query(
                    "UPDATE totp_factors SET last_step = $1
                     WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1",
                )
                .bind(step)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(spent > 0)
            }

            async fn spend_recovery_code(
                &self,
                user_id: &str,
                code_hash: &str,
                event: &$crate::store::Event,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::steps::Steps as _;
                let (_gate, mut tx) = self.write().await?;
                let spent = sqlx::query(
                    "UPDATE recovery_codes SET used_at = $1
                     WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
                )
                .bind(event.at.unix_timestamp())
                .bind(user_id)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if spent == 0 {
                    return Ok(false);
                }
                tx.record_event(event).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn replace_recovery_codes(
                &self,
                user_id: &str,
                code_hashes: &[String],
                event: &$crate::store::Event,
                notice: &$crate::store::OutgoingMail,
            ) -> Result<bool, $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                // An update that changes nothing, for its row lock: two replacements at once
                // cannot both delete and then both insert.
                let on = sqlx::query(
                    "UPDATE totp_factors SET last_step = last_step
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if on == 0 {
                    return Ok(false);
                }
                Self::put_recovery_codes(&mut tx, user_id, code_hashes).await?;
                $crate::store::steps::tell_and_commit(tx, notice, event).await?;
                Ok(true)
            }

            async fn remove_totp(
                &self,
                user_id: &str,
                event: &$crate::store::Event,
                notice: &$crate::store::OutgoingMail,
            ) -> Result<bool, $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                let removed = sqlx::query(
                    "DELETE FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if removed == 0 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                $crate::store::steps::tell_and_commit(tx, notice, event).await?;
                Ok(true)
            }

            async fn factor_summary(
                &self,
                user_id: &str,
            ) -> Result<$crate::store::factors::FactorSummary, $crate::store::StoreError> {
                let (totp, recovery_codes_left, passkeys): (i64, i64, i64) = sqlx::query_as(
                    "SELECT
                       (SELECT COUNT(*) FROM totp_factors
                        WHERE user_id = $1 AND confirmed_at IS NOT NULL),
                       (SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL),
                       (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)",
                )
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::store::factors::FactorSummary {
                    totp: totp > 0,
                    recovery_codes_left,
                    passkeys,
                })
            }

            async fn add_passkey(
                &self,
                passkey: &$crate::store::factors::PasskeyRecord,
                event: &$crate::store::Event,
                notice: &$crate::store::OutgoingMail,
            ) -> Result<(), $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                sqlx::query(
                    "INSERT INTO passkeys (id, user_id, name, passkey, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&passkey.id)
                .bind(&passkey.user_id)
                .bind(&passkey.name)
                .bind(&passkey.passkey)
                .bind(passkey.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        $crate::store::StoreError::Taken("passkey")
                    }
                    _ => e.into(),
                })?;
                $crate::store::steps::tell_and_commit(tx, notice, event).await
            }

            async fn passkeys_of(
                &self,
                user_id: &str,
            ) -> Result<Vec<$crate::store::factors::PasskeyRecord>, $crate::store::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, user_id, name, passkey, created_at, last_used_at FROM passkeys
                     WHERE user_id = $1 ORDER BY created_at, id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn passkey(
                &self,
                user_id: &str,
                id: &str,
            ) -> Result<Option<$crate::store::factors::PasskeyRecord>, $crate::store::StoreError>
            {
                Ok(sqlx::query_as(
                    "SELECT id, user_id, name, passkey, created_at, last_used_at FROM passkeys
                     WHERE user_id = $1 AND id = $2",
                )
                .bind(user_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn passkey_used(
                &self,
                id: &str,
                passkey: &str,
                at: i64,
            ) -> Result<(), $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
                    .bind(passkey)
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx.commit().await?)
            }

            async fn remove_passkey(
                &self,
                user_id: &str,
                id: &str,
                event: &$crate::store::Event,
                notice: &$crate::store::OutgoingMail,
            ) -> Result<bool, $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                let removed = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
                    .bind(user_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if removed == 0 {
                    return Ok(false);
                }
                $crate::store::steps::tell_and_commit(tx, notice, event).await?;
                Ok(true)
            }

            async fn put_challenge(
                &self,
                challenge: &$crate::store::factors::ChallengeRecord,
            ) -> Result<(), $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                sqlx::query(
                    "INSERT INTO challenges (id_hash, purpose, user_id, credential_version, state,
                                             created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&challenge.id_hash)
                .bind(&challenge.purpose)
                .bind(&challenge.user_id)
                .bind(challenge.credential_version)
                .bind(&challenge.state)
                .bind(challenge.created_at)
                .bind(challenge.expires_at)
                .execute(&mut *tx)
                .await?;
                Ok(tx.commit().await?)
            }

            async fn challenge(
                &self,
                id_hash: &str,
                purpose: $crate::store::factors::ChallengePurpose,
                now: i64,
            ) -> Result<Option<$crate::store::factors::ChallengeRecord>, $crate::store::StoreError>
            {
                Ok(sqlx::query_as(
                    "SELECT id_hash, purpose, user_id, credential_version, state, created_at,
                            expires_at
                     FROM challenges WHERE id_hash = $1 AND purpose = $2 AND expires_at > $3",
                )
                .bind(id_hash)
                .bind(purpose.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn take_challenge(
                &self,
                id_hash: &str,
                purpose: $crate::store::factors::ChallengePurpose,
                now: i64,
            ) -> Result<Option<$crate::store::factors::ChallengeRecord>, $crate::store::StoreError>
            {
                let (_gate, mut tx) = self.write().await?;
                let taken: Option<$crate::store::factors::ChallengeRecord> = sqlx::query_as(
                    "DELETE FROM challenges WHERE id_hash = $1 AND purpose = $2
                     RETURNING id_hash, purpose, user_id, credential_version, state, created_at,
                               expires_at",
                )
                .bind(id_hash)
                .bind(purpose.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(taken.filter(|challenge| challenge.expires_at > now))
            }

            async fn session_proof(
                &self,
                user_id: &str,
                session_id: &str,
            ) -> Result<Option<$crate::store::factors::SessionProof>, $crate::store::StoreError>
            {
                Ok(sqlx::query_as(
                    "SELECT method, verified_at FROM sessions
                     WHERE id = $1 AND user_id = $2 AND ended_at IS NULL",
                )
                .bind(session_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn session_verified(
                &self,
                user_id: &str,
                session_id: &str,
                at: i64,
            ) -> Result<bool, $crate::store::StoreError> {
                let (_gate, mut tx) = self.write().await?;
                let done = sqlx::query(
                    "UPDATE sessions SET verified_at = $1
                     WHERE id = $2 AND user_id = $3 AND ended_at IS NULL",
                )
                .bind(at)
                .bind(session_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(done > 0)
            }
        }

        impl $store {
            /// Replaces the account's recovery codes, inside the caller's transaction.
            async fn put_recovery_codes<'c>(
                tx: &mut sqlx::Transaction<'c, $db>,
                user_id: &str,
                code_hashes: &[String],
            ) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut **tx)
                    .await?;
                for hash in code_hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(hash)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }
        }
    };
}
pub(crate) use factor_queries;
