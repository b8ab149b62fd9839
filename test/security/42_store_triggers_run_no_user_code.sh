#!/usr/bin/env bash
# Issue 21, item 6: the store's writing functions run as the superuser that
# installed it, and so do triggers, index expressions, constraints and
# defaults on its tables.  None of them may run code that a non-superuser
# controls: a function the application role owns (it could redefine it at
# will), or a superuser's function without SET search_path (the appender's
# search_path would choose what it calls).  Refused with 42501.  After each
# attempt the application appends, and must still not be superuser.
# docs/operations.md, "What users add to the store's tables".
. "$(dirname "$0")/lib.sh"
stage_roles s42_o s42_app
stage_db s42_d s42_o
as_role s42_o s42_d -c "CREATE EXTENSION eventstore" -c "SELECT eventstore.es_grant_writer('s42_app')" >/dev/null
as_su s42_d -c "CREATE SCHEMA app AUTHORIZATION s42_app" -c "GRANT TRIGGER ON eventstore.events TO s42_app" >/dev/null
as_role s42_app s42_d <<'SQL' >/dev/null
-- Makes its caller's session user superuser when it runs as a superuser.
CREATE FUNCTION app.promote_now() RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE s42_app SUPERUSER';
    END IF;
    RETURN true;
END $$;
CREATE FUNCTION app.promote() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM app.promote_now(); RETURN NEW; END $$;
CREATE FUNCTION app.promote_imm(text) RETURNS text LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM app.promote_now(); RETURN $1; END $$;
-- Shadows pg_catalog.lower(text) for a caller whose search_path puts app first.
CREATE FUNCTION app.lower(text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM app.promote_now(); RETURN $1; END $$;
SQL
n=0
app_appends() {  # app_appends WHAT: the app appends; it must not become superuser.
    n=$((n + 1))
    as_role s42_app s42_d -c "SET search_path = app, pg_catalog" \
        -c "SELECT count(*) FROM eventstore.es_append('order-$n', 'Placed', '{}')" >/dev/null
    check "after $1, the app's append leaves it no superuser" \
        "$(as_su s42_d -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's42_app'")" f
}

# Indexes, constraints and defaults first, on an empty store: a superuser's
# CREATE INDEX or ADD CONSTRAINT runs the expression on the rows already
# there at once, as for every table a superuser owns, before the store's
# check at the end of the command (docs/operations.md says so).
check "an index on the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "CREATE INDEX promote_idx ON eventstore.events ((app.promote_imm(type)))")" 42501
app_appends "the index"
check "a CHECK constraint on the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "ALTER TABLE eventstore.events ADD CONSTRAINT promote_check CHECK (app.promote_imm(type) IS NOT NULL) NOT VALID")" 42501
app_appends "the CHECK constraint"
check "a column default on the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "ALTER TABLE eventstore.events ALTER COLUMN occurred_at SET DEFAULT CASE WHEN app.promote_now() THEN NULL::timestamptz END")" 42501
app_appends "the default"
check "the app's trigger with its own function is refused (42501)" \
    "$(sqlstate s42_app s42_d "CREATE TRIGGER promote BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION app.promote()")" 42501
app_appends "the app's trigger"
check "a superuser's trigger with the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "CREATE TRIGGER promote_su BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION app.promote()")" 42501
app_appends "a superuser's trigger with the app's function"
# A superuser's trigger function that leaves search_path to the caller.
as_su s42_d -c "CREATE FUNCTION public.normalise() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.type := lower(NEW.type); RETURN NEW; END\$\$" >/dev/null
check "a trigger whose function does not set search_path is refused (42501)" \
    "$(sqlstate postgres s42_d "CREATE TRIGGER normalise BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION public.normalise()")" 42501
app_appends "a trigger whose function leaves search_path to the caller"
# A superuser's function with SET search_path is accepted ...
as_su s42_d -c "CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$\$BEGIN NEW.type := lower(NEW.type); RETURN NEW; END\$\$" >/dev/null
check "a superuser's trigger function with SET search_path is accepted" \
    "$(sqlstate postgres s42_d "CREATE TRIGGER audit BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION public.audit()")" ""
# ... and may not be handed to the app or lose its search_path afterwards.
check "giving that function to the app is refused (42501)" \
    "$(sqlstate postgres s42_d "ALTER FUNCTION public.audit() OWNER TO s42_app")" 42501
check "resetting its search_path is refused (42501)" \
    "$(sqlstate postgres s42_d "ALTER FUNCTION public.audit() RESET search_path")" 42501
check "replacing it without SET search_path is refused (42501)" \
    "$(sqlstate postgres s42_d "CREATE OR REPLACE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.type := lower(NEW.type); RETURN NEW; END\$\$")" 42501
check "the app cannot redefine it" \
    "$(sqlstate s42_app s42_d "CREATE OR REPLACE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN PERFORM app.promote_now(); RETURN NEW; END\$\$")" 42501
app_appends "the attempts on the superuser's trigger function"
check "nothing on the store's tables runs a non-superuser's code" \
    "$(as_su s42_d -c "SELECT count(*) FROM eventstore.es_store_dependency_problems()")" 0
finish
