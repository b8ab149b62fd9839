-- append-single, Message DB (npm @eventide/message-db): as mdb-own.sql, but
-- every client's streams in one category, acct (Message DB's category is
-- the stream name up to its first '-'): the streams are es.sql's, and
-- write_message's category lock makes the writers take turns.
\set e :n % 100
\set s :n / 100
\set me :e - 1
SELECT message_store.write_message(gen_random_uuid()::text, 'acct-' || :run || '-' || :client_id || '-' || :s,
                                   'Deposited', :data, :meta, :me);
\set n :n + 1
