-- es_append in a read-only transaction is refused with 25006, before
-- anything is stored, like es_snapshot and es_advance_position (issue 11).
SET search_path = eventstore, public;
SELECT count(*) AS before FROM eventstore.events \gset

BEGIN TRANSACTION READ ONLY;
SELECT try($$SELECT es_append('ro-1', 'T')$$);
SELECT try($$SELECT es_append('{"stream": "ro-1", "events": [{"type": "T"}]}')$$);
SELECT try($$SELECT es_append('[{"stream": "ro-1", "events": [{"type": "T"}]},
                                {"stream": "ro-2", "events": [{"type": "T"}]}]')$$);
COMMIT;

-- the session default
SET default_transaction_read_only = on;
SELECT try($$SELECT es_append('ro-1', 'T', '{}', 0)$$);
SELECT try($$SELECT es_append('{"stream": "ro-1", "events": [{"type": "T"}]}')$$);
-- the same refusal as the other writing functions
SELECT try($$SELECT es_advance_position('ro-proj', 1)$$);
RESET default_transaction_read_only;

-- SET TRANSACTION READ ONLY after an append in the same transaction
BEGIN;
SELECT stream, version FROM es_append('ro-3', 'T', '{}', 0);
SET TRANSACTION READ ONLY;
SELECT try($$SELECT es_append('ro-3', 'T')$$);
COMMIT;

-- nothing of the refused calls is stored
SELECT count(*) - :before AS added FROM eventstore.events;
SELECT es_stream_version('ro-1'), es_stream_version('ro-2'), es_stream_version('ro-3');
