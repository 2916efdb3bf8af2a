-- An account an operator disabled (`gatehouse users disable`): it cannot log in or refresh, and
-- its sessions ended when it was disabled. NULL: enabled.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- The audit trail: what happened to an account, written in the same transaction as the change
-- it records (a failed login, which changes nothing else, after its answer). No reference to
-- users: an account's events outlive it until AUDIT_RETENTION prunes them.
--   actor   who did it: 'owner' (from a browser of the account, or a mailed link), 'operator'
--           (the command line), or 'stranger' (a failed login with the account's name)
--   ip, device  of the request that did it; NULL from the command line
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at         INTEGER NOT NULL, -- unix seconds
    actor      TEXT NOT NULL CHECK (actor IN ('owner', 'operator', 'stranger')),
    ip         TEXT,
    device     TEXT,
    session_id TEXT
) STRICT;
CREATE INDEX events_by_user ON events (user_id, at);
CREATE INDEX events_by_at ON events (at);

-- Signing keys by id (`kid`). The table holds no key material: a key is derived from the
-- configured secret and its id, so a copy of the database signs nothing. The newest live key
-- signs; every live one verifies; a retired one verifies nothing.
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
) STRICT;

-- What PostgreSQL announces with NOTIFY (see its schema), kept as rows for SQLite: a server
-- polls them, so a change made by another process on the same file (the command line) reaches
-- its caches within a second. Pruned after a minute.
CREATE TABLE announcements (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL,
    at      INTEGER NOT NULL
) STRICT;

CREATE TRIGGER sessions_ended AFTER UPDATE OF ended_at ON sessions FOR EACH ROW
    WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL
BEGIN
    INSERT INTO announcements (payload, at)
    VALUES ('session_ended ' || NEW.id || ' ' || NEW.ended_at, unixepoch());
END;

CREATE TRIGGER sessions_deleted_live AFTER DELETE ON sessions FOR EACH ROW
    WHEN OLD.ended_at IS NULL AND OLD.expires_at > unixepoch()
BEGIN
    INSERT INTO announcements (payload, at)
    VALUES ('session_ended ' || OLD.id || ' ' || unixepoch(), unixepoch());
END;

CREATE TRIGGER users_updated AFTER UPDATE ON users FOR EACH ROW
BEGIN
    INSERT INTO announcements (payload, at) VALUES ('user_changed ' || OLD.id, unixepoch());
END;

CREATE TRIGGER users_deleted AFTER DELETE ON users FOR EACH ROW
BEGIN
    INSERT INTO announcements (payload, at) VALUES ('user_changed ' || OLD.id, unixepoch());
END;

CREATE TRIGGER signing_keys_changed AFTER INSERT ON signing_keys
BEGIN
    INSERT INTO announcements (payload, at) VALUES ('keys_changed', unixepoch());
END;

CREATE TRIGGER signing_keys_retired AFTER UPDATE ON signing_keys
BEGIN
    INSERT INTO announcements (payload, at) VALUES ('keys_changed', unixepoch());
END;
