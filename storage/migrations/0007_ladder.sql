-- The three-colour 督办 ladder (issue 11): every time a case changes colour a row is kept, so /case,
-- the export and /status can say since when a case has been 蓝 / 黄 / 红. The current colour of a case
-- is its latest row ('none' once it leaves the ladder: closed, reported, or its deadline moved out).
CREATE TABLE ladder_changes (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    colour      TEXT NOT NULL CHECK (colour IN ('none', 'blue', 'yellow', 'red')),
    previous    TEXT NOT NULL CHECK (previous IN ('none', 'blue', 'yellow', 'red')),
    due_on      TEXT,            -- the deadline the colour was computed from
    changed_on  TEXT NOT NULL,   -- bureau-local day of the change
    changed_at  TEXT NOT NULL    -- UTC timestamp
);
CREATE INDEX ladder_changes_case ON ladder_changes(case_id, id);
