-- When the account's address was last proved to be its owner's (a verification link or code, or
-- the confirmation of a new address). NULL: never. Accounts from before this existed start
-- unverified: nobody ever proved their address.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ;

-- Mailed tokens gain the purposes of verified addresses, and a binding to the address:
--   email_was  the account's address when the token was made. A token for anything but
--              undoing an address change dies when the address changes, as it dies when the
--              password does (credential_version).
--   email_to   the address a change moves to (change_email, cancel_email_change).
--   code_hash  a verification's six-digit code, as a keyed hash (HMAC with a server secret: a
--              million codes are no work to hash, so a plain hash would give a stolen database
--              every code).
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check CHECK (purpose IN
    ('password_reset', 'verify_email', 'change_email', 'cancel_email_change'));
ALTER TABLE account_tokens ADD COLUMN email_was TEXT;
UPDATE account_tokens t SET email_was = u.email FROM users u WHERE u.id = t.user_id;
ALTER TABLE account_tokens ALTER COLUMN email_was SET NOT NULL;
ALTER TABLE account_tokens ADD COLUMN email_to TEXT;
ALTER TABLE account_tokens ADD COLUMN code_hash TEXT;
CREATE INDEX account_tokens_by_code ON account_tokens (user_id, code_hash) WHERE code_hash IS NOT NULL;
