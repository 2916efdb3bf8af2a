-- An account an operator disabled (`gatehouse users disable`): it cannot log in or refresh, and
-- its sessions ended when it was disabled. NULL: enabled. (Its update announces user_changed.)
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- The audit trail: what happened to an account, written in the same transaction as the change
-- it records (a failed login, which changes nothing else, after its answer). No reference to
-- users: an account's events outlive it until AUDIT_RETENTION prunes them.
--   actor   who did it: 'owner' (from a browser of the account, or a mailed link), 'operator'
--           (the command line), or 'stranger' (a failed login with the account's name)
--   ip, device  of the request that did it; NULL from the command line
CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at         BIGINT NOT NULL, -- unix seconds
    actor      TEXT NOT NULL CHECK (actor IN ('owner', 'operator', 'stranger')),
    ip         TEXT,
    device     TEXT,
    session_id TEXT
);
CREATE INDEX events_by_user ON events (user_id, at);
CREATE INDEX events_by_at ON events (at);

-- Signing keys by id (`kid`). The table holds no key material: a key is derived from the
-- configured secret and its id, so a copy of the database signs nothing. The newest live key
-- signs; every live one verifies; a retired one verifies nothing.
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

--   keys_changed   a signing key was added or retired
CREATE FUNCTION gatehouse_notify_keys_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse', 'keys_changed');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE ON signing_keys FOR EACH STATEMENT
    EXECUTE FUNCTION gatehouse_notify_keys_changed();
