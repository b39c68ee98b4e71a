-- Reports, reviews, extensions and spot checks (issue 6).

-- Where an unfinished report draft stands (measures, progress, reason, evidence, summary): the
-- conversation resumes from here after a restart, a timeout or a crash, whatever PTB remembers.
ALTER TABLE reports ADD COLUMN step TEXT NOT NULL DEFAULT 'measures';

-- The deadline a request wanted to move, so the original date stays in the request's history.
ALTER TABLE extension_requests ADD COLUMN previous_due_on TEXT;

-- Reports awaiting review are listed often (/review, digests).
CREATE INDEX reports_state ON reports(state, submitted_at);
-- At most one pending extension request per case.
CREATE UNIQUE INDEX extension_one_pending ON extension_requests(case_id) WHERE state = 'pending';
-- Spot checks find the cases already drawn.
CREATE INDEX cases_origin ON cases(origin_case_id) WHERE origin_case_id IS NOT NULL;
