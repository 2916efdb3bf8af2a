-- Mail waiting to be delivered. A message is written here in the same transaction as the change
-- it tells of (a reset link with its token, a notice with the password change), so it is sent
-- exactly when the change happened, even if the process dies right after the commit. The worker
-- delivers it, deleting the row, or counts the failure and waits longer before the next try.
-- A row holds a link until it is delivered: it is deleted then, not kept, and a message whose
-- link has expired is discarded undelivered.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    queued_at       INTEGER NOT NULL, -- unix seconds, like every time below
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL, -- also a claim: a worker sending it moves this ahead
    last_error      TEXT,
    discard_after   INTEGER      -- a message that is no use after this (its link expired)
) STRICT;

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);

-- Single-use tokens sent by mail (a password reset link), keyed by the SHA-256 of the token,
-- never the token. Each is bound to its account, its purpose and the account's credential
-- version when it was made: a password change kills every link made before it.
CREATE TABLE account_tokens (
    token_hash         TEXT PRIMARY KEY NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose            TEXT NOT NULL CHECK (purpose IN ('password_reset')),
    credential_version INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    used_at            INTEGER
) STRICT;

CREATE INDEX account_tokens_by_user ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_by_expiry ON account_tokens (expires_at);
