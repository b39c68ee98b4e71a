-- The weekly bulletin (通报, issue 11): each one is stored when it is issued, so last week's can be
-- shown again unchanged and the next one can say how each department moved (↑2, ↓1, 新).
CREATE TABLE bulletins (
    week          TEXT PRIMARY KEY,   -- ISO week, e.g. '2026-W49'
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    payload       TEXT NOT NULL,      -- JSON: the ranking as it was issued
    created_at    TEXT NOT NULL
);
