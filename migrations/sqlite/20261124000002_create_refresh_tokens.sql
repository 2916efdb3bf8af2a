-- Every refresh token ever issued, keyed by the SHA-256 of the token (never the token itself).
-- A token is usable only while its row is 'live' and unexpired; rotation marks it 'used'.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    session_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at   INTEGER NOT NULL, -- unix seconds
    expires_at  INTEGER NOT NULL, -- unix seconds
    state       TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'used', 'revoked')),
    used_at     INTEGER
) STRICT;

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
