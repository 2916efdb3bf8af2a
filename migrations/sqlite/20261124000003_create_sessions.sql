-- Sessions: one login on one device. Its refresh tokens chain within it, and ending it (logout,
-- revocation, reuse detection, a password change) is one update of its row.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL, -- unix seconds, like every time below
    last_used_at INTEGER NOT NULL, -- its last login or refresh
    expires_at   INTEGER NOT NULL, -- when it lapses unless refreshed: its newest token's expiry
    ends_by      INTEGER NOT NULL, -- the lifetime cap: created_at + SESSION_MAX_LIFETIME
    user_agent   TEXT NOT NULL,
    ip           TEXT NOT NULL,
    ended_at     INTEGER,          -- set once, when it ends
    end_reason   TEXT CHECK (end_reason IN
                     ('logout', 'revoked', 'logout_all', 'password_changed', 'reuse'))
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
-- Start-up reads the recently ended sessions into the in-memory revocation set.
CREATE INDEX sessions_by_end ON sessions (ended_at) WHERE ended_at IS NOT NULL;

-- Sessions from before this migration, rebuilt from their tokens (device and address unknown).
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ends_by, user_agent, ip,
                      ended_at, end_reason)
SELECT session_id, user_id, MIN(issued_at), MAX(issued_at),
       MIN(MAX(expires_at), MIN(issued_at) + 30 * 86400),
       MIN(issued_at) + 30 * 86400, '', '',
       CASE WHEN SUM(state = 'live') = 0 THEN MAX(COALESCE(used_at, issued_at)) END,
       CASE WHEN SUM(state = 'live') = 0 THEN 'logout' END
FROM refresh_tokens
GROUP BY session_id, user_id;

-- Refresh tokens now belong to a session, and a used one names the hash of its successor, so
-- that a repeat within the grace window can be checked against the one successor issued.
CREATE TABLE refresh_tokens_v2 (
    token_hash     TEXT PRIMARY KEY NOT NULL,
    session_id     TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    state          TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'used', 'revoked')),
    used_at        INTEGER,
    successor_hash TEXT
) STRICT;

INSERT INTO refresh_tokens_v2 (token_hash, session_id, user_id, issued_at, expires_at, state, used_at)
SELECT token_hash, session_id, user_id, issued_at, expires_at, state, used_at FROM refresh_tokens;

DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_v2 RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
