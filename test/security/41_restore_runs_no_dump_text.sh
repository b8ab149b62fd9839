#!/usr/bin/env bash
# Issue 21, item 5: a restore never runs text from the dump as statements.
# The issue's reproduction: a plain dump whose COPY block of
# eventstore.table_additions carries the row
#   index  events  zz  ALTER ROLE mallory SUPERUSER  ...
# restored by a superuser.  Then more hostile rows, each loaded as a restore
# loads that table (a superuser's COPY) in a transaction of its own, so that
# one row's error cannot hide another's success.  Mallory must not become
# superuser and nothing of the rows may run; each is kept as 'refused' with
# a WARNING (ES014); the legitimate addition of the same dump comes back.
# docs/operations.md, "What users add to the store's tables".
. "$(dirname "$0")/lib.sh"
# The attack is a dump: it needs a pg_dump of the server's major, which the
# fetched PostgreSQL 17 and 18 trees lack (test/suites/90_other_majors.sh;
# 15's pg_dump refuses later servers).  It runs on 15.
if [ ! -x "$PGBIN/pg_dump" ]; then
    echo "this attack needs a pg_dump of this server's major: not run here"
    exit 0
fi
stage_roles s41_mallory
stage_db s41_src postgres
stage_db s41_dst postgres
dump=$(mktemp); trap 'rm -f "$dump" "$dump.log"' EXIT
as_su s41_src -c "CREATE EXTENSION eventstore" -c "GRANT CREATE ON DATABASE s41_src TO s41_mallory" \
    -c "CREATE INDEX events_tenant_idx ON eventstore.events ((metadata ->> 'tenant'))" \
    -c "SELECT count(*) FROM eventstore.es_append('order-1', 'Placed', '{}')" >/dev/null
# Mallory's functions, dumped with her as their owner.
as_role s41_mallory s41_src <<'SQL' >/dev/null
CREATE SCHEMA m;
CREATE FUNCTION m.escalate() RETURNS boolean LANGUAGE plpgsql AS $$BEGIN ALTER ROLE s41_mallory SUPERUSER; RETURN true; END$$;
CREATE FUNCTION m.escalate_trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN ALTER ROLE s41_mallory SUPERUSER; RETURN NEW; END$$;
CREATE FUNCTION m.escalate_imm(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$BEGIN ALTER ROLE s41_mallory SUPERUSER; RETURN $1; END$$;
CREATE FUNCTION m.eq(text, text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$BEGIN ALTER ROLE s41_mallory SUPERUSER; RETURN $1 = $2; END$$;
CREATE OPERATOR m.=== (FUNCTION = m.eq, LEFTARG = text, RIGHTARG = text);
CREATE DOMAIN m.dom AS text CHECK (m.escalate());
SQL
# The issue's row, written into the dump's COPY block with as many columns
# as the dump has.
"$PGBIN/pg_dump" -d s41_src | /usr/bin/python3 -c '
import sys
row = ("index", "events", "zz", "ALTER ROLE s41_mallory SUPERUSER")
for line in sys.stdin:
    sys.stdout.write(line)
    if line.startswith("COPY eventstore.table_additions ("):
        extra = line.split("(", 1)[1].split(")", 1)[0].count(",") + 1 - 4
        sys.stdout.write("\t".join(row + ("2026-01-01 00:00:00+00", "present")[:extra]) + "\n")
' >"$dump"
check "the dump carries the issue's row" "$(grep -c '^index	events	zz	ALTER ROLE s41_mallory SUPERUSER	' "$dump")" 1
"$PGBIN/psql" -X -q -v VERBOSITY=verbose -d s41_dst -f "$dump" >/dev/null 2>"$dump.log"
check "mallory is not superuser after the restore" \
    "$(as_su s41_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's41_mallory'")" f
check "the restore warned, with ES014" "$(grep -c '^psql:.*WARNING:  ES014: recorded index zz of table eventstore.events is not recreated' "$dump.log")" 1
check "the row is kept, refused; the legitimate addition of the same dump is back" \
    "$(as_su s41_dst -c "SELECT string_agg(name || ':' || state, ',' ORDER BY name) FROM eventstore.table_additions")$(as_su s41_dst -c "SELECT count(*) FROM pg_indexes WHERE indexname = 'events_tenant_idx'")" \
    "events_tenant_idx:present,zz:refused1"

# More rows, one COPY each.  Names z1.. so that nothing else matches.
load_row() {  # load_row KIND NAME DEFINITION
    printf '%s\tevents\t%s\t%s\n' "$1" "$2" "$3" |
        "$PGBIN/psql" -X -q -d s41_dst -c "COPY eventstore.table_additions (kind, table_name, name, definition) FROM STDIN" >/dev/null 2>&1
}
load_row index z1 "CREATE INDEX z1 ON eventstore.events (type); ALTER ROLE s41_mallory SUPERUSER"
load_row constraint z2 "ALTER TABLE eventstore.events ADD CONSTRAINT z2 CHECK (m.escalate())"
load_row trigger z3 "CREATE TRIGGER z3 BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION m.escalate_trg()"
load_row index z4 "CREATE INDEX z4 ON eventstore.events ((m.escalate_imm(type)))"
load_row constraint z5 "ALTER TABLE eventstore.events ADD CONSTRAINT z5 CHECK (pg_catalog.lo_import('/etc/hostname') > 0)"
load_row constraint z6 "ALTER TABLE eventstore.events ADD CONSTRAINT z6 CHECK (lo_import('/etc/hostname') > 0)"
load_row trigger z7 "CREATE TRIGGER z7 AFTER INSERT ON eventstore.events FOR EACH ROW WHEN (pg_catalog.lo_import('/etc/hostname') > 0) EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()"
load_row constraint z8 "ALTER TABLE eventstore.events ADD CONSTRAINT z8 CHECK (type::m.dom IS NOT NULL)"
load_row constraint z9 "ALTER TABLE eventstore.events ADD CONSTRAINT z9 CHECK (type OPERATOR(m.===) type)"
load_row publication z10 "ALTER PUBLICATION z10 ADD TABLE ONLY eventstore.events; ALTER ROLE s41_mallory SUPERUSER"
load_row index z11 "CREATE INDEX z11 ON eventstore.events (type) WHERE (SELECT m.escalate())"
# Rows that would make the restore fail (a CHECK the restored rows break,
# CONCURRENTLY inside the restore's transaction) are kept, refused, too.
load_row constraint z12 "ALTER TABLE eventstore.events ADD CONSTRAINT z12 CHECK (type <> 'Placed')"
load_row index z13 "CREATE INDEX CONCURRENTLY z13 ON eventstore.events (type)"
# The store's own immutability trigger, replaced by one that lets UPDATE through.
load_row trigger events_immutable "CREATE OR REPLACE TRIGGER events_immutable BEFORE UPDATE ON eventstore.events FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()"
as_su s41_dst -c "SET client_min_messages = error" -c "CREATE PUBLICATION z10" >/dev/null
check "mallory is not superuser after the hostile rows" \
    "$(as_su s41_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's41_mallory'")" f
check "no large object was imported by a restored CHECK or WHEN" \
    "$(as_su s41_dst -c "SELECT count(*) FROM pg_largeobject_metadata")" 0
check "every hostile row is kept, refused" \
    "$(as_su s41_dst -c "SELECT string_agg(name || ':' || state, ',' ORDER BY name) FROM eventstore.table_additions WHERE name <> 'events_tenant_idx'")" \
    "events_immutable:refused,z1:refused,z10:refused,z11:refused,z12:refused,z13:refused,z2:refused,z3:refused,z4:refused,z5:refused,z6:refused,z7:refused,z8:refused,z9:refused,zz:refused"
check "none of the hostile objects exists" \
    "$(as_su s41_dst -c "SELECT (SELECT count(*) FROM pg_class WHERE relname ~ '^z[0-9]+\$') + (SELECT count(*) FROM pg_constraint WHERE conname ~ '^z[0-9]+\$') + (SELECT count(*) FROM pg_trigger WHERE tgname ~ '^z[0-9]+\$') + (SELECT count(*) FROM pg_publication_tables WHERE pubname = 'z10')")" 0
check "the store's own trigger is unchanged: an UPDATE of an event is refused (ES003)" \
    "$(sqlstate postgres s41_dst "UPDATE eventstore.events SET type = 'X'")" ES003
# An append after all that fires nothing of mallory's.
as_su s41_dst -c "SELECT count(*) FROM eventstore.es_append('order-2', 'Placed', '{}')" >/dev/null
check "mallory is still not superuser after an append" \
    "$(as_su s41_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's41_mallory'")" f
for name in zz z2 z3 z5; do
    kind=$(as_su s41_dst -c "SELECT kind FROM eventstore.table_additions WHERE name = '$name'")
    check "applying $name by hand is refused (ES014)" \
        "$(sqlstate postgres s41_dst "SELECT eventstore.es_apply_table_addition('$kind', 'events', '$name')")" ES014
done
check "mallory is still not superuser" \
    "$(as_su s41_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's41_mallory'")" f
# A restore by a role that is not a superuser (given the right to load the
# table) recreates nothing, not even a legitimate row: only a superuser can
# add to the store's tables.  A superuser applies it afterwards.
as_su s41_dst -c "GRANT USAGE ON SCHEMA eventstore TO s41_mallory" \
    -c "GRANT INSERT ON eventstore.table_additions TO s41_mallory" >/dev/null
printf 'index\tevents\tzlegit\tCREATE INDEX zlegit ON eventstore.events USING btree (type)\n' |
    "$PGBIN/psql" -X -q -U s41_mallory -d s41_dst -c "COPY eventstore.table_additions (kind, table_name, name, definition) FROM STDIN" >/dev/null 2>&1
check "a non-superuser's load recreates nothing and keeps the row, refused" \
    "$(as_su s41_dst -c "SELECT state FROM eventstore.table_additions WHERE name = 'zlegit'")$(as_su s41_dst -c "SELECT count(*) FROM pg_class WHERE relname = 'zlegit'")" refused0
check "a superuser applies it" \
    "$(as_su s41_dst -c "SELECT eventstore.es_apply_table_addition('index', 'events', 'zlegit')")$(as_su s41_dst -c "SELECT count(*) FROM pg_class WHERE relname = 'zlegit'")" present1
finish
