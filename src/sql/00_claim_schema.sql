-- eventstore (head version): the schema is the store's before anything else
-- is created in it.  Assembled with the other src/sql/NN_*.sql files into
-- eventstore--<head>.sql; the same claim opens and closes every upgrade
-- script (docs/security.md, "The schema is the store's").
\echo Use "CREATE EXTENSION eventstore" to load this file. \quit

-- Why: this script runs as a superuser, also when a database owner installs
-- (the extension is trusted), and CREATE EXTENSION accepts a schema
-- "eventstore" that already exists.  Whoever created it first could have
-- left functions, operators or types in it that this script, or a superuser
-- calling the store's functions later, would pick instead of the store's
-- own.  A dump restores the schema before the extension, so an existing
-- schema cannot simply be refused: it is taken over (owned by the
-- superuser running the script, CREATE revoked from every other role) and
-- must hold nothing but the store's own objects and objects that
-- superusers own (partitions, a superuser's own additions).
ALTER SCHEMA eventstore OWNER TO CURRENT_USER;

CREATE FUNCTION eventstore.es_claim_schema() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nsp      oid := 'eventstore'::pg_catalog.regnamespace;
    ext      oid;
    grantee  oid;
    intruders text;
BEGIN
    SELECT e.oid INTO STRICT ext FROM pg_catalog.pg_extension e
    WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;

    -- Nobody but the owner may create objects in the schema.  The owner's
    -- own grants were handed to the new owner by ALTER SCHEMA ... OWNER.
    FOR grantee IN
        SELECT DISTINCT a.grantee
        FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
        WHERE n.oid OPERATOR(pg_catalog.=) nsp
          AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'::pg_catalog.text
          AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
    LOOP
        IF grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN
            EXECUTE 'REVOKE CREATE ON SCHEMA eventstore FROM PUBLIC CASCADE';
        ELSE
            EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA eventstore FROM %I CASCADE',
                                      pg_catalog.pg_get_userbyid(grantee));
        END IF;
    END LOOP;

    -- Every object in the schema: which catalog, which object, who owns it.
    WITH objects(classid, objid, owner) AS (
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, c.oid, c.relowner
        FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, p.oid, p.proowner
        FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid, t.typowner
        FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.oprowner
        FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.opcowner
        FROM pg_catalog.pg_opclass o WHERE o.opcnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.opfowner
        FROM pg_catalog.pg_opfamily o WHERE o.opfnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.collowner
        FROM pg_catalog.pg_collation o WHERE o.collnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.conowner
        FROM pg_catalog.pg_conversion o WHERE o.connamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.cfgowner
        FROM pg_catalog.pg_ts_config o WHERE o.cfgnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.dictowner
        FROM pg_catalog.pg_ts_dict o WHERE o.dictnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.stxowner
        FROM pg_catalog.pg_statistic_ext o WHERE o.stxnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        -- another extension in the store's schema, whoever owns it: a
        -- trusted extension's objects belong to a superuser although a
        -- database owner chose to put them here
        SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid, e.oid, 0::pg_catalog.oid
        FROM pg_catalog.pg_extension e
        WHERE e.extnamespace OPERATOR(pg_catalog.=) nsp AND e.oid OPERATOR(pg_catalog.<>) ext
        UNION ALL
        SELECT 'pg_catalog.pg_publication_namespace'::pg_catalog.regclass::pg_catalog.oid, pn.oid, p.pubowner
        FROM pg_catalog.pg_publication_namespace pn
        JOIN pg_catalog.pg_publication p ON p.oid OPERATOR(pg_catalog.=) pn.pnpubid
        WHERE pn.pnnspid OPERATOR(pg_catalog.=) nsp
    ), membership AS (
        SELECT o.classid, o.objid, o.owner,
               (SELECT d.refobjid FROM pg_catalog.pg_depend d
                WHERE d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.objid
                  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
                  AND d.deptype OPERATOR(pg_catalog.=) 'e'::"char"
                LIMIT 1) AS member_of
        FROM objects o
    )
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(m.classid, m.objid, 0), ', '
                                 ORDER BY pg_catalog.pg_describe_object(m.classid, m.objid, 0))
    INTO intruders
    FROM membership m
    WHERE m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
       OR (m.member_of IS NOT NULL AND m.member_of OPERATOR(pg_catalog.<>) ext)
       OR (m.member_of IS NULL
           AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_authid r
                             WHERE r.oid OPERATOR(pg_catalog.=) m.owner), false));

    IF intruders IS NOT NULL THEN
        RAISE EXCEPTION 'schema "eventstore" holds objects that are not part of eventstore'
            USING ERRCODE = 'ES011',
                  DETAIL = pg_catalog.format('Objects not created by eventstore or a superuser: %s.', intruders),
                  HINT = 'Drop them (or the schema, if it holds nothing else), then run the command again. Only a superuser''s objects may live beside the store''s.';
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_claim_schema() IS
    'Run by the install and upgrade scripts: takes CREATE on schema eventstore from every role but its owner and refuses (ES011) a schema that holds objects neither eventstore nor a superuser created.';
REVOKE ALL ON FUNCTION eventstore.es_claim_schema() FROM PUBLIC;

SELECT eventstore.es_claim_schema();
