-- Failed invitation redemptions per Telegram account, and the cooling-off they trigger (issue 13).
-- A sender with too many failures in a short window is refused without the code being looked at.

CREATE TABLE redeem_failures (
    id           INTEGER PRIMARY KEY,
    telegram_id  INTEGER NOT NULL,
    at           TEXT NOT NULL,
    reason       TEXT NOT NULL CHECK (reason IN ('unknown', 'used', 'expired'))
);
CREATE INDEX redeem_failures_sender ON redeem_failures(telegram_id, at);

CREATE TABLE redeem_blocks (
    telegram_id    INTEGER PRIMARY KEY,
    blocked_at     TEXT NOT NULL,
    blocked_until  TEXT NOT NULL
);
