-- dcb-append-condition, eventstore: es_append_if of one event carrying the
-- command's id as a tag, failing if a Deposited or Withdrawn event with that
-- tag is stored at all (after_position NULL): the idempotent command of
-- dcb.events.  The ids are new, so the condition holds: two items, one key
-- each, two descents of event_tags that find nothing; the event gets a
-- stream of its own.
SELECT count(*) FROM eventstore.es_append_if(
    ('{"events": [{"type": "Deposited", "data": ' || :data || ', "metadata": ' || :meta
        || ', "tags": ["cmd:' || :run || '-' || :client_id || '-' || :n || '"]}]}')::jsonb,
    ('{"items": [{"types": ["Deposited"], "tags": ["cmd:' || :run || '-' || :client_id || '-' || :n || '"]},'
        || ' {"types": ["Withdrawn"], "tags": ["cmd:' || :run || '-' || :client_id || '-' || :n || '"]}]}')::jsonb);
\set n :n + 1
