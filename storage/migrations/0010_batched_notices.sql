-- One message per person per sweep (issue 14): delivery claims every pending row of one person,
-- kind and sweep (the rows a sweep enqueues share created_at) in one UPDATE; this index makes that
-- claim read only that person's pending rows. Kept to the person alone (not kind, created_at) so
-- the sweep's inserts pay as little as possible for it.
CREATE INDEX outbox_pending_person ON outbox(person_id) WHERE state = 'pending';
