#!/usr/bin/env bash
# Issue 21, item 6: the store's writing functions run as the superuser that
# installed it, and so do triggers, index expressions and constraints on its
# tables.  None of them may run code that a non-superuser controls: a
# function the application role owns (it could redefine it at will), or a
# superuser's function without SET search_path (the appender's search_path
# would choose what it calls).  Refused with 42501.
# docs/operations.md, "What users add to the store's tables".
. "$(dirname "$0")/lib.sh"
stage_roles s42_o s42_app
stage_db s42_d s42_o
as_role s42_o s42_d -c "CREATE EXTENSION eventstore" -c "SELECT eventstore.es_grant_writer('s42_app')" >/dev/null
as_su s42_d -c "CREATE SCHEMA app AUTHORIZATION s42_app" -c "GRANT TRIGGER ON eventstore.events TO s42_app" >/dev/null
as_role s42_app s42_d <<'SQL' >/dev/null
CREATE FUNCTION app.promote() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE s42_app SUPERUSER';
    END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION app.promote_imm(text) RETURNS text LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE s42_app SUPERUSER';
    END IF;
    RETURN $1;
END $$;
-- Shadows pg_catalog.lower(text) for a caller whose search_path puts app first.
CREATE FUNCTION app.lower(text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE s42_app SUPERUSER';
    END IF;
    RETURN $1;
END $$;
SQL
app_is_super() { as_su s42_d -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's42_app'"; }

# The application role adds a trigger with its own function.
check "the app's trigger with its own function is refused (42501)" \
    "$(sqlstate s42_app s42_d "CREATE TRIGGER promote BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION app.promote()")" 42501
# A superuser adds it for the app.
check "a superuser's trigger with the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "CREATE TRIGGER promote BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION app.promote()")" 42501
check "an index on the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "CREATE INDEX promote_idx ON eventstore.events ((app.promote_imm(type)))")" 42501
check "a CHECK constraint on the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "ALTER TABLE eventstore.events ADD CONSTRAINT promote_check CHECK (app.promote_imm(type) IS NOT NULL)")" 42501
check "a column default on the app's function is refused (42501)" \
    "$(sqlstate postgres s42_d "ALTER TABLE eventstore.events ALTER COLUMN type SET DEFAULT app.promote_imm('x')")" 42501
# A superuser's trigger function that leaves search_path to the caller.
as_su s42_d -c "CREATE FUNCTION public.normalise() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.type := lower(NEW.type); RETURN NEW; END\$\$" >/dev/null
check "a trigger whose function does not set search_path is refused (42501)" \
    "$(sqlstate postgres s42_d "CREATE TRIGGER normalise BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION public.normalise()")" 42501
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
    "$(sqlstate postgres s42_d "CREATE OR REPLACE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RETURN NEW; END\$\$")" 42501
check "the app cannot redefine it" \
    "$(sqlstate s42_app s42_d "CREATE OR REPLACE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RETURN NEW; END\$\$")" 42501
# The app appends with a search_path that would shadow lower(): nothing of its runs.
as_role s42_app s42_d -c "SET search_path = app, pg_catalog" -c "SELECT count(*) FROM eventstore.es_append('order-1', 'Placed', '{}')" >/dev/null
check "the app is not superuser after appending" "$(app_is_super)" f
check "no trigger, index or constraint of the app's is on the store's tables" \
    "$(as_su s42_d -c "SELECT count(*) FROM eventstore.es_store_dependency_problems()")" 0
finish
