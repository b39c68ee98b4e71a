-- The ladder's current colour on the case itself (issue 14): the refresh compares it with the colour
-- the deadline gives today in one set-based statement, instead of loading every case and every
-- case's latest recorded colour into Python every few minutes. Backfilled from the history.
ALTER TABLE cases ADD COLUMN ladder_colour TEXT NOT NULL DEFAULT 'none'
    CHECK (ladder_colour IN ('none', 'blue', 'yellow', 'red'));

UPDATE cases SET ladder_colour = (
    SELECT l.colour FROM ladder_changes l WHERE l.case_id = cases.id ORDER BY l.id DESC LIMIT 1)
WHERE id IN (SELECT case_id FROM ladder_changes);

-- What the refresh reads (storage/ladder.colour_changes_sql): the coloured cases, whatever their
-- status (covering: no row is read), and the uncoloured cases being rectified by deadline, of which
-- only those up to the last 蓝 day are read: in a steady state, the few that turn 蓝 today.
CREATE INDEX cases_ladder ON cases(ladder_colour, status, due_on) WHERE ladder_colour <> 'none';
CREATE INDEX cases_uncoloured_due ON cases(status, due_on) WHERE ladder_colour = 'none';
ANALYZE cases;
