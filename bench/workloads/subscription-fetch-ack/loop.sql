-- subscription-fetch-ack, the hand-written loop: in one transaction, the
-- consumer's checkpoint, the next 100 events of its share of the feed
-- (member client_id of as many members as the run has clients: the "c<n>"
-- at the end of the run tag), and the checkpoint advanced past them.
BEGIN;
SELECT eventstore.es_handler_position(:run || '-' || :client_id) AS cp \gset
SELECT coalesce(max(position), :cp) AS last, count(data) AS n
FROM eventstore.es_load_feed(:cp, 100, category => 'sb', group_member => :client_id,
                             group_size => substring(:run from 'c([0-9]+)$')::integer) \gset
SELECT eventstore.es_advance_position(:run || '-' || :client_id, :last);
COMMIT;
