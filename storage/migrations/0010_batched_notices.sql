-- One message per person per sweep (issue 14): delivery claims every pending row of one person,
-- kind and sweep (the rows a sweep enqueued share created_at) in one UPDATE; this index makes
-- that claim read only those rows.
CREATE INDEX outbox_pending_group ON outbox(person_id, kind, created_at) WHERE state = 'pending';
