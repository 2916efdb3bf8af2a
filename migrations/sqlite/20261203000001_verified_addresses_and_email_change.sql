-- When the account's address was last proved to be its owner's (a verification link or code, or
-- the confirmation of a new address). NULL: never. Accounts from before this existed start
-- unverified: nobody ever proved their address.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER; -- unix seconds

-- Mailed tokens gain the purposes of verified addresses, and a binding to the address:
--   email_was  the account's address when the token was made. A token for anything but
--              undoing an address change dies when the address changes, as it dies when the
--              password does (credential_version).
--   email_to   the address a change moves to (change_email, cancel_email_change,
--              undo_email_change).
--   code_hash  a verification's six-digit code, as a keyed hash (HMAC with a server secret: a
--              million codes are no work to hash, so a plain hash would give a stolen database
--              every code).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with its rows. Its
-- rowid keeps the order tokens were made in: undoing an address change spends the undo links
-- made after the one used, never those before it.
CREATE TABLE account_tokens_next (
    token_hash         TEXT PRIMARY KEY NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose            TEXT NOT NULL CHECK (purpose IN
                           ('password_reset', 'verify_email', 'change_email', 'cancel_email_change',
                            'undo_email_change')),
    credential_version INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    used_at            INTEGER,
    email_was          TEXT NOT NULL,
    email_to           TEXT,
    code_hash          TEXT
) STRICT;

INSERT INTO account_tokens_next (token_hash, user_id, purpose, credential_version, created_at,
                                 expires_at, used_at, email_was)
    SELECT t.token_hash, t.user_id, t.purpose, t.credential_version, t.created_at, t.expires_at,
           t.used_at, u.email
    FROM account_tokens t JOIN users u ON u.id = t.user_id;

DROP TABLE account_tokens;
ALTER TABLE account_tokens_next RENAME TO account_tokens;

CREATE INDEX account_tokens_by_user ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_by_expiry ON account_tokens (expires_at);
CREATE INDEX account_tokens_by_code ON account_tokens (user_id, code_hash) WHERE code_hash IS NOT NULL;

-- An address an account moved away from stays its own while the link that undoes the move
-- works: nobody else may register it or move to it meanwhile, or whoever took the account
-- could take the old address too and leave its owner's undo link nothing to restore.
CREATE TABLE held_addresses (
    email_key TEXT PRIMARY KEY NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until     INTEGER NOT NULL -- unix seconds
) STRICT;
CREATE INDEX held_addresses_by_until ON held_addresses (until);
