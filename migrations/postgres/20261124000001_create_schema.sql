-- The schema of migrations/sqlite at its latest, for PostgreSQL: several instances share it.
-- Ids are the app's own (UUIDs as text), times are timestamptz.

-- Accounts. Email and username are unique under their comparison keys (lower case), while the
-- email is kept as the person typed it.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL CONSTRAINT users_email_key_unique UNIQUE,
    username      TEXT NOT NULL CONSTRAINT users_username_unique UNIQUE,
    full_name     TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- Sessions: one login on one device. Its refresh tokens chain within it, and ending it (logout,
-- revocation, reuse detection, a password change) is one update of its row.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL, -- its last login or refresh
    expires_at   TIMESTAMPTZ NOT NULL, -- when it lapses unless refreshed: its newest token's expiry
    ends_by      TIMESTAMPTZ NOT NULL, -- the lifetime cap: created_at + SESSION_MAX_LIFETIME
    user_agent   TEXT NOT NULL,
    ip           TEXT NOT NULL,
    ended_at     TIMESTAMPTZ,          -- set once, when it ends
    end_reason   TEXT CHECK (end_reason IN
                     ('logout', 'revoked', 'logout_all', 'password_changed', 'reuse')),
    seq          BIGINT GENERATED ALWAYS AS IDENTITY -- orders sessions started in one second
);

CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
-- Start-up reads the recently ended sessions into the in-memory revocation set.
CREATE INDEX sessions_by_end ON sessions (ended_at) WHERE ended_at IS NOT NULL;

-- Every refresh token issued, keyed by the SHA-256 of the token (never the token itself). A used
-- one names the hash of its successor, so a repeat within the grace window is checked against
-- the one successor issued.
CREATE TABLE refresh_tokens (
    token_hash     TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at      TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    state          TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'used', 'revoked')),
    used_at        TIMESTAMPTZ,
    successor_hash TEXT
);

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);

-- Every instance keeps two caches that a change made elsewhere must reach: the set of ended
-- sessions (whose access tokens it refuses) and the public view of accounts (what /me answers).
-- These triggers announce every such change on the channel 'gatehouse', whichever instance, or
-- person at a psql prompt, made it. PostgreSQL delivers a notification when its transaction
-- commits, and never for one that rolls back.
--   session_ended <id> <unix seconds>   a session ended, or was deleted while still live
--   user_changed <id>                   an account was updated or deleted
CREATE FUNCTION gatehouse_notify_session_ended() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM pg_notify('gatehouse', 'session_ended ' || NEW.id || ' '
                          || floor(extract(epoch FROM NEW.ended_at))::bigint);
    ELSE
        PERFORM pg_notify('gatehouse', 'session_ended ' || OLD.id || ' '
                          || floor(extract(epoch FROM now()))::bigint);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_ended AFTER UPDATE OF ended_at ON sessions FOR EACH ROW
    WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
    EXECUTE FUNCTION gatehouse_notify_session_ended();

-- A live session deleted with its account (ON DELETE CASCADE). Pruning deletes only sessions
-- that lapsed or ended long ago, which need no announcement.
CREATE TRIGGER sessions_deleted_live AFTER DELETE ON sessions FOR EACH ROW
    WHEN (OLD.ended_at IS NULL AND OLD.expires_at > now())
    EXECUTE FUNCTION gatehouse_notify_session_ended();

CREATE FUNCTION gatehouse_notify_user_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse', 'user_changed ' || OLD.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users FOR EACH ROW
    EXECUTE FUNCTION gatehouse_notify_user_changed();
