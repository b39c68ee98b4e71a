-- Cases (issue 4): who acknowledged the feedback and when, and the rule of the bureau's own
-- feedback deadline (evaluation cases), so /case and the ledger can explain every date.
ALTER TABLE cases ADD COLUMN feedback_due_rule TEXT;
ALTER TABLE cases ADD COLUMN received_by TEXT;      -- 'person:<id>' (liaison tap or supervisor by hand) or 'import'
ALTER TABLE cases ADD COLUMN received_at TEXT;      -- UTC timestamp of that record
CREATE INDEX cases_provisional ON cases(id) WHERE due_provisional = 1 OR feedback_due_provisional = 1;
