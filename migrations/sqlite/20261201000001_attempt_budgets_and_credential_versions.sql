-- Failed-password budgets, in the database so that every request path and every instance draws
-- on the same count: a password check reserves one attempt here before it runs (an atomic
-- upsert that refuses once `used` reaches the limit within the window) and gives it back when
-- the password was right. `key` is a keyed hash of what is limited (an account, a name that
-- belongs to no account, or one trusted device), never the name itself.
CREATE TABLE attempt_budgets (
    key          TEXT PRIMARY KEY NOT NULL,
    window_start INTEGER NOT NULL, -- unix seconds: the first attempt of the current window
    used         INTEGER NOT NULL
) STRICT;

CREATE INDEX attempt_budgets_by_start ON attempt_budgets (window_start);

-- Bumped by every password change. A login checks it when it stores its session, in the same
-- transaction, so a login that verified the old password cannot start a session once the
-- change has committed, however long it was in flight.
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 1;
