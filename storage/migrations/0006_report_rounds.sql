-- Resubmissions and item-by-item answers (issue 10, item 7).

-- Which submission of its case a report is: 第1次报送, 第2次报送 after a return, … Existing reports are
-- numbered by their order among the case's non-draft reports; drafts take theirs when they are started.
ALTER TABLE reports ADD COLUMN round INTEGER NOT NULL DEFAULT 1 CHECK (round >= 1);
UPDATE reports SET round = (
    SELECT count(*) FROM reports r2
    WHERE r2.case_id = reports.case_id AND r2.state != 'draft' AND r2.id <= reports.id
) WHERE state != 'draft';

-- 逐条整改: when the case's findings are a numbered list, the report answers each item (its measures
-- and a status). item_no is the finding's position (1-based) in bot.findings.split_findings.
CREATE TABLE report_items (
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    item_no    INTEGER NOT NULL CHECK (item_no >= 1),
    measures   TEXT NOT NULL DEFAULT '',
    status     TEXT CHECK (status IN ('done', 'in_progress', 'cannot')),
    PRIMARY KEY (report_id, item_no)
);
