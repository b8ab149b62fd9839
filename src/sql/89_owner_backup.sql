-- Backup and restore by the store's owner (issue 21, item 9;
-- docs/operations.md, "Backup and restore as the database owner").
--
-- The owner of a trusted install (the role that ran CREATE EXTENSION) has
-- no table rights, so pg_dump and pg_restore, which read and write the
-- store's tables directly, failed for it.  It gets SELECT on every table of
-- the store (pg_dump reads the rows of some and locks all of them): reading
-- is little more than es_grant_monitor already lets it give itself.
--
-- Writing is another matter: an owner with INSERT on stream_state or
-- lifecycle_log could hide streams or forge the audit trail of a store in
-- use.  So INSERT is lent only for a restore, and only into an empty store,
-- and only until the end of the transaction: es_restore_begin() lends it,
-- es_restore_end() takes it back, and a deferred constraint trigger
-- refuses to commit a transaction that did not call es_restore_end().  A
-- committed database never shows the owner with table rights it could use
-- on data that was not its own restore.

-- The tables pg_dump saves, from the catalog (one home for the list).
CREATE FUNCTION eventstore.es_dumped_tables() RETURNS SETOF pg_catalog.regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.oid::pg_catalog.regclass
    FROM pg_catalog.pg_extension e
    CROSS JOIN LATERAL pg_catalog.unnest(e.extconfig) AS t(oid)
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.oid
    WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name
$$;
COMMENT ON FUNCTION eventstore.es_dumped_tables() IS
    'The store''s tables whose rows pg_dump saves (the extension''s configuration tables).';
REVOKE ALL ON FUNCTION eventstore.es_dumped_tables() FROM PUBLIC;

-- An open restore: one row while es_restore_begin()'s transaction runs.
CREATE TABLE eventstore.restore_window (
    opened_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    opened_by name        NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE eventstore.restore_window IS
    'A row while an owner''s restore is open (es_restore_begin until es_restore_end, in one transaction); empty otherwise.';
REVOKE ALL ON TABLE eventstore.restore_window FROM PUBLIC;

CREATE FUNCTION eventstore.es_restore_window_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM eventstore.restore_window) THEN
        RAISE EXCEPTION 'restore was not finished'
            USING ERRCODE = 'ES015',
                  DETAIL = 'es_restore_begin() lends the owner INSERT on the store''s tables for one transaction only.',
                  HINT = 'Call eventstore.es_restore_end() in the transaction that called es_restore_begin(), after the data is loaded.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION eventstore.es_restore_window_check() IS
    'Constraint trigger: refuses (ES015) to commit a transaction that opened an owner''s restore and did not close it.';
REVOKE ALL ON FUNCTION eventstore.es_restore_window_check() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER restore_window_must_close AFTER INSERT ON eventstore.restore_window
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION eventstore.es_restore_window_check();
ALTER TABLE eventstore.restore_window ENABLE ALWAYS TRIGGER restore_window_must_close;

CREATE FUNCTION eventstore.es_restore_begin() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t     pg_catalog.regclass;
    owner pg_catalog.name;
    held  boolean;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(e.extowner) INTO STRICT owner
    FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;
    IF EXISTS (SELECT FROM eventstore.restore_window) THEN
        RAISE EXCEPTION 'a restore is already open' USING ERRCODE = 'ES008';
    END IF;
    -- Empty but for the grants, which the owner manages anyway.
    FOR t IN SELECT d FROM eventstore.es_dumped_tables() d
             WHERE d OPERATOR(pg_catalog.<>) 'eventstore.grants'::pg_catalog.regclass LOOP
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s)', t) INTO held;
        IF held THEN
            RAISE EXCEPTION 'store is not empty'
                USING ERRCODE = 'ES008',
                      DETAIL = pg_catalog.format('Table %s holds rows; a restore goes into a new database.', t),
                      HINT = 'Restore into a database where CREATE EXTENSION eventstore has just run (docs/operations.md, "Backup and restore as the database owner").';
        END IF;
    END LOOP;
    INSERT INTO eventstore.restore_window DEFAULT VALUES;
    FOR t IN SELECT d FROM eventstore.es_dumped_tables() d LOOP
        EXECUTE pg_catalog.format('GRANT INSERT ON %s TO %I', t, owner);
    END LOOP;
END
$$;
COMMENT ON FUNCTION eventstore.es_restore_begin() IS
    'Owner''s restore: lends the extension''s owner INSERT on the store''s dumped tables until es_restore_end() in the same transaction; only on an empty store (ES008).';

CREATE FUNCTION eventstore.es_restore_end() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t     pg_catalog.regclass;
    owner pg_catalog.name;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(e.extowner) INTO STRICT owner
    FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;
    IF NOT EXISTS (SELECT FROM eventstore.restore_window) THEN
        RAISE EXCEPTION 'no restore is open' USING ERRCODE = 'ES008',
            HINT = 'Call eventstore.es_restore_begin() first, in the same transaction.';
    END IF;
    FOR t IN SELECT d FROM eventstore.es_dumped_tables() d LOOP
        EXECUTE pg_catalog.format('REVOKE INSERT ON %s FROM %I', t, owner);
    END LOOP;
    DELETE FROM eventstore.restore_window;
END
$$;
COMMENT ON FUNCTION eventstore.es_restore_end() IS
    'Owner''s restore: takes back the INSERT that es_restore_begin() lent; the transaction may then commit.';

REVOKE ALL ON FUNCTION eventstore.es_restore_begin() FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_restore_end() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.es_restore_begin(), eventstore.es_restore_end() TO @extowner@;

-- pg_dump as the owner: SELECT on every table of the store (pg_dump locks
-- each table of an extension, not only those whose rows it saves).
-- 90_privileges.sql gives the rest of the owner's rights.
GRANT SELECT ON ALL TABLES IN SCHEMA eventstore TO @extowner@;
