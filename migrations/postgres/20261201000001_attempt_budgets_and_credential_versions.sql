-- Failed-password budgets, shared by every instance: a password check reserves one attempt here
-- before it runs (an atomic upsert that refuses once `used` reaches the limit within the window)
-- and gives it back when the password was right. `key` is a keyed hash of what is limited (an
-- account, a name that belongs to no account, or one trusted device), never the name itself.
-- A window starts with its first attempt, and moves to the attempt that spends the budget, so the
-- lock lasts a whole window from the last guess and no span of one window sees more than the
-- budget. `generation` counts windows: a refund gives back only to the window it drew on.
CREATE TABLE attempt_budgets (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL, -- unix seconds
    used         INTEGER NOT NULL,
    generation   BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX attempt_budgets_by_start ON attempt_budgets (window_start);

-- Bumped by every password change. A login checks it under a share lock on the account's row
-- when it stores its session, so a login that verified the old password cannot start a
-- session once the change has committed, however long it was in flight.
ALTER TABLE users ADD COLUMN credential_version BIGINT NOT NULL DEFAULT 1;

-- When changes that browsers see took effect. 'cookie_prefixes': from then on the token cookies
-- are `__Host-`/`__Secure-` prefixed, so a token under an unprefixed name is honoured only if it
-- was issued before (a browser from before the upgrade), never if it was planted later.
CREATE TABLE upgrades (
    name TEXT PRIMARY KEY,
    at   BIGINT NOT NULL -- unix seconds
);
INSERT INTO upgrades (name, at) VALUES ('cookie_prefixes', floor(extract(epoch FROM now()))::bigint);
