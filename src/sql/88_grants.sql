-- Grants on handler state and snapshots (issue 11; src/grants.c,
-- docs/security.md "Trust model").  EXECUTE on the writer functions says a
-- role is a writer; a row here says which handlers (by name prefix) and
-- which streams' snapshots (by category) it may write.  Superusers and
-- members of the extension's owner need no row.

CREATE TABLE eventstore.grants (
    grantee     name        NOT NULL,
    kind        text        NOT NULL,
    name        text        NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT grants_pkey PRIMARY KEY (grantee, kind, name),
    CONSTRAINT grants_kind_check CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['handler', 'category']))
);

COMMENT ON TABLE eventstore.grants IS
    'Which handlers (kind handler: name is a handler-name prefix) and which streams'' snapshots (kind category: name is a category) a writer role may write. An empty name covers all. Managed with es_grant_handler, es_grant_category, es_revoke_handler, es_revoke_category and es_grant_writer.';
COMMENT ON COLUMN eventstore.grants.grantee IS 'Role name; members that inherit its privileges are covered too. A renamed role loses its rows'' effect: grant again.';
COMMENT ON COLUMN eventstore.grants.kind IS 'handler (es_advance_position, es_lock_handler) or category (es_snapshot).';
COMMENT ON COLUMN eventstore.grants.name IS 'Handler-name prefix (kind handler) or category (kind category); empty: every handler or every category.';
COMMENT ON COLUMN eventstore.grants.granted_at IS 'When the grant was made.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.grants', '');

REVOKE ALL ON TABLE eventstore.grants FROM PUBLIC;

-- Every grant function refuses PUBLIC as a role name (issue 21, item 11):
-- GRANT ... TO public grants to every role, while eventstore.grants would
-- record a name that matches no role; and NULL.  In any case, since the
-- role name is an identifier: 'PUBLIC' names no role either.
CREATE FUNCTION eventstore.es_check_grantee(role_name name) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'role_name must not be null' USING ERRCODE = '22004';
    END IF;
    IF lower(role_name) = 'public' THEN
        RAISE EXCEPTION 'cannot grant the store''s rights to PUBLIC'
            USING ERRCODE = '22023',
                  DETAIL = 'A grant to PUBLIC would reach every role, present and future.',
                  HINT = 'Grant to a role made for the purpose, and make the users members of it.';
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_check_grantee(name) IS
    'Internal: refuse PUBLIC (any case) and NULL as the role of a grant function (22023, 22004).';

-- EXECUTE on the writer functions (with reader rights): the part of a grant
-- that is the same for every writer.  Called by the grant functions below
-- and es_grant_writer, which run as the store's owner; nobody else may call
-- it.
CREATE FUNCTION eventstore.es_grant_writer_functions(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea, text[]), eventstore.es_append(jsonb), eventstore.es_append_if(jsonb, jsonb, bigint) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_snapshot(text, bigint, jsonb, text, bytea), eventstore.es_advance_position(text, bigint, text), eventstore.es_lock_handler(text, text, boolean) TO %I', role_name);
    PERFORM eventstore.es_grant_reader(role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_writer_functions(name) IS
    'Internal: EXECUTE on the writer and reader functions, without any handler or category grant.';

-- Check a grant's arguments and record it.
CREATE FUNCTION eventstore.es_grant_scope(role_name name, scope_kind text, scope_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF scope_kind IS NULL OR scope_kind NOT IN ('handler', 'category') THEN
        RAISE EXCEPTION 'unrecognized grant kind: "%"', scope_kind
            USING ERRCODE = '22023', HINT = 'A grant is of kind handler or category.';
    END IF;
    IF role_name IS NULL OR scope_name IS NULL THEN
        RAISE EXCEPTION '% must not be null',
            CASE WHEN role_name IS NULL THEN 'role_name'
                 WHEN scope_kind = 'handler' THEN 'handler_prefix'
                 ELSE 'category' END
            USING ERRCODE = '22004';
    END IF;
    IF octet_length(scope_name) > 255 THEN
        RAISE EXCEPTION '% is too long', CASE WHEN scope_kind = 'handler' THEN 'handler_prefix' ELSE 'category' END
            USING ERRCODE = '22023',
                  DETAIL = format('It is %s bytes; the limit is 255.', octet_length(scope_name));
    END IF;
    IF scope_kind = 'category' AND strpos(scope_name, '-') > 0 THEN
        RAISE EXCEPTION 'category "%" contains "-"', scope_name
            USING ERRCODE = '22023',
                  DETAIL = 'A category is the part of a stream name before its first "-".';
    END IF;
    PERFORM eventstore.es_check_grantee(role_name);
    PERFORM eventstore.es_grant_writer_functions(role_name);
    INSERT INTO eventstore.grants (grantee, kind, name) VALUES (role_name, scope_kind, scope_name)
    ON CONFLICT ON CONSTRAINT grants_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_scope(name, text, text) IS
    'Internal: make a role a writer and record one handler or category grant.';

CREATE FUNCTION eventstore.es_grant_handler(role_name name, handler_prefix text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_grant_scope(role_name, 'handler', handler_prefix);
COMMENT ON FUNCTION eventstore.es_grant_handler(name, text) IS
    'Let a role append and read, and advance and lock the handlers whose names start with handler_prefix ('''' = every handler). Other handlers'' checkpoints and locks stay out of its reach (42501).';

CREATE FUNCTION eventstore.es_grant_category(role_name name, category text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_grant_scope(role_name, 'category', category);
COMMENT ON FUNCTION eventstore.es_grant_category(name, text) IS
    'Let a role append and read, and save snapshots of the streams of one category ('''' = every category). Other categories'' snapshots stay out of its reach (42501).';

-- Remove one grant; true when there was one.
CREATE FUNCTION eventstore.es_revoke_scope(role_name name, scope_kind text, scope_name text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM eventstore.grants g
        WHERE g.grantee = role_name AND g.kind = scope_kind AND g.name = scope_name
        RETURNING 1)
    SELECT count(*) > 0 FROM gone;
END;
COMMENT ON FUNCTION eventstore.es_revoke_scope(name, text, text) IS
    'Internal: remove one handler or category grant of a role.';

CREATE FUNCTION eventstore.es_revoke_handler(role_name name, handler_prefix text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_revoke_scope(role_name, 'handler', handler_prefix);
COMMENT ON FUNCTION eventstore.es_revoke_handler(name, text) IS
    'Remove one handler grant (exactly this prefix) of a role; true when there was one. EXECUTE rights stay.';

CREATE FUNCTION eventstore.es_revoke_category(role_name name, category text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_revoke_scope(role_name, 'category', category);
COMMENT ON FUNCTION eventstore.es_revoke_category(name, text) IS
    'Remove one category grant of a role; true when there was one. EXECUTE rights stay.';
