-- Second factors and passkeys (issue 15). Times are unix seconds, as everywhere.

-- An authenticator app (TOTP, RFC 6238). One per account. `secret` is sealed with FACTOR_SECRET
-- (ChaCha20-Poly1305; see `credentials::factors`), so a copy of the database cannot make codes.
-- `confirmed_at` is NULL while enrolment waits for a first right code: until then the factor is
-- not asked for. `last_step` is the newest 30-second step whose code was accepted: a code is
-- good once, and an older step never again.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT 0
);

-- Single-use recovery codes, as keyed hashes (HMAC under FACTOR_SECRET). Shown once.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- WebAuthn passkeys: `id` is the credential id (base64url); `passkey` the credential as
-- webauthn-rs keeps it (public key, signature counter), JSON.
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    passkey      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);

-- What a browser is in the middle of: a login waiting for its second step, or a WebAuthn
-- ceremony waiting for the authenticator's answer. Keyed by the hash of a random value that
-- only this browser holds (an httpOnly cookie); taken (deleted) by its first use, so each is
-- single-use; useless after `expires_at`.
--   purpose   'second_step' | 'passkey_add' | 'passkey_login' | 'passkey_confirm'
--   user_id   NULL for a passkey login: the passkey names the account
--   credential_version  the account's when the password was checked: a second step is refused
--             once the password changed
--   state     the ceremony's state (JSON), for WebAuthn
CREATE TABLE challenges (
    id_hash            TEXT PRIMARY KEY,
    purpose            TEXT NOT NULL,
    user_id            TEXT REFERENCES users (id) ON DELETE CASCADE,
    credential_version BIGINT,
    state              TEXT,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL
);
CREATE INDEX challenges_by_expiry ON challenges (expires_at);

-- How each session signed in ('password', 'password_totp', 'password_recovery_code',
-- 'passkey'), and when it last proved who it is (its login, or a confirmation since): the
-- sensitive changes need a proof within the last minutes (STEP_UP_WINDOW).
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN verified_at BIGINT;
UPDATE sessions SET verified_at = EXTRACT(EPOCH FROM created_at)::BIGINT;
