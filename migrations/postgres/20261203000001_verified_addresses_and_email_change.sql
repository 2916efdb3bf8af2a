-- When the account's address was last proved to be its owner's (a verification link or code, or
-- the confirmation of a new address). NULL: never. Accounts from before this existed start
-- unverified: nobody ever proved their address.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ;

-- Mailed tokens gain the purposes of verified addresses, and a binding to the address:
--   email_was  the account's address when the token was made. A token for anything but
--              undoing an address change dies when the address changes, as it dies when the
--              password does (credential_version).
--   email_to   the address a change moves to (change_email, cancel_email_change,
--              undo_email_change).
--   code_hash  a verification's six-digit code, as a keyed hash (HMAC with a server secret: a
--              million codes are no work to hash, so a plain hash would give a stolen database
--              every code).
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check CHECK (purpose IN
    ('password_reset', 'verify_email', 'change_email', 'cancel_email_change',
     'undo_email_change'));
ALTER TABLE account_tokens ADD COLUMN email_was TEXT;
UPDATE account_tokens t SET email_was = u.email FROM users u WHERE u.id = t.user_id;
ALTER TABLE account_tokens ALTER COLUMN email_was SET NOT NULL;
ALTER TABLE account_tokens ADD COLUMN email_to TEXT;
ALTER TABLE account_tokens ADD COLUMN code_hash TEXT;
-- The order tokens were made in (SQLite's rowid): undoing an address change spends the undo
-- links made after the one used, never those before it.
ALTER TABLE account_tokens ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE INDEX account_tokens_by_code ON account_tokens (user_id, code_hash) WHERE code_hash IS NOT NULL;

-- An address an account moved away from stays its own while the link that undoes the move
-- works: nobody else may register it or move to it meanwhile, or whoever took the account
-- could take the old address too and leave its owner's undo link nothing to restore.
CREATE TABLE held_addresses (
    email_key TEXT PRIMARY KEY NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until     BIGINT NOT NULL -- unix seconds
);
CREATE INDEX held_addresses_by_until ON held_addresses (until);
