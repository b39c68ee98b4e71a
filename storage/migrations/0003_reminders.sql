-- Reminders, delivery and replies to reminders (issue 5).

-- Replying to a reminder finds the outbox row by (recipient, Telegram message id).
CREATE INDEX outbox_message ON outbox(person_id, telegram_message_id) WHERE telegram_message_id IS NOT NULL;
-- Coalescing and cleanup look at the pending rows of one case.
CREATE INDEX outbox_case ON outbox(case_id, state) WHERE case_id IS NOT NULL;

-- A progress note: what a liaison (or supervisor) sent in reply to a reminder, until the
-- report conversation takes replies over. Documents are kept by Telegram file id.
CREATE TABLE case_notes (
    id                INTEGER PRIMARY KEY,
    case_id           INTEGER NOT NULL REFERENCES cases(id),
    author_id         INTEGER NOT NULL REFERENCES people(id),
    outbox_id         INTEGER REFERENCES outbox(id),
    text              TEXT NOT NULL DEFAULT '',
    file_name         TEXT,
    mime_type         TEXT,
    file_size         INTEGER,
    telegram_file_id  TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX case_notes_case ON case_notes(case_id);
