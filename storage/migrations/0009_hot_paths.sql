-- Hot paths (issue 14): indexes so the to-do, /status and the digest read what they show, not every case.

-- The to-do's "due" and "returned" sections (by status, in deadline order) and the digest's counts,
-- which group the open cases by every column of their running deadline: a covering index, so the
-- digest reads this index only, never the cases' rows.
CREATE INDEX cases_open_deadlines ON cases(
    status, due_on, due_provisional, source, feedback_sent_on, feedback_due_on, feedback_due_provisional
);

-- The to-do's "overdue" section and the escalation counts: the running deadline (storage/todo.py's
-- _TARGET_DUE, the same expression) of the cases whose clock runs, so "overdue before a date" is a
-- range of this index and its first page is read in order.
CREATE INDEX cases_target_due ON cases(
    (CASE WHEN status IN ('in_progress', 'returned') THEN due_on
         WHEN status = 'pending_feedback' AND source = 'evaluation' AND feedback_sent_on IS NULL
         THEN feedback_due_on END),
    id
) WHERE status IN ('in_progress', 'returned', 'pending_feedback');

-- Fresh statistics so the planner knows these indexes (storage.db also runs PRAGMA optimize on close).
ANALYZE;
