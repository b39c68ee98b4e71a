-- Hot paths, second part (issue 14): /cases and the liaisons' case choosers read one page, not the
-- department's every case. The department's cases in the order they are listed (no deadline last),
-- with the status in the index so the statuses filter never reads a row it does not show.
CREATE INDEX cases_department_due ON cases(department_id, due_on IS NULL, due_on, id, status);

ANALYZE cases_department_due;
