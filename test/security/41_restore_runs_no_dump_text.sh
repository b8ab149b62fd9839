#!/usr/bin/env bash
# Issue 21, item 5: a restore never runs text from the dump as statements.
# A plain dump whose COPY block of eventstore.table_additions carries
# hostile rows is restored by a superuser: mallory must not become
# superuser, nothing of the rows may run, each is kept as 'refused' with a
# WARNING (ES014), and the legitimate additions of the same dump come back.
# docs/operations.md, "What users add to the store's tables".
. "$(dirname "$0")/lib.sh"
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
CREATE DOMAIN m.dom AS text CHECK (m.escalate());
SQL
# The hostile rows, written into the dump's COPY block with as many columns
# as the dump has (the issue's row is the first).
"$PGBIN/pg_dump" -d s41_src | /usr/bin/python3 -c '
import sys
rows = [
 ("index", "events", "zz", "ALTER ROLE s41_mallory SUPERUSER"),
 ("index", "events", "z2", "CREATE INDEX z2 ON eventstore.events (type); ALTER ROLE s41_mallory SUPERUSER"),
 ("constraint", "events", "z3", "ALTER TABLE eventstore.events ADD CONSTRAINT z3 CHECK (m.escalate())"),
 ("trigger", "events", "z4", "CREATE TRIGGER z4 BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION m.escalate_trg()"),
 ("index", "events", "z5", "CREATE INDEX z5 ON eventstore.events ((m.escalate_imm(type)))"),
 ("constraint", "events", "z6", "ALTER TABLE eventstore.events ADD CONSTRAINT z6 CHECK (pg_catalog.lo_import(\x27/etc/hostname\x27) > 0)"),
 ("constraint", "events", "z7", "ALTER TABLE eventstore.events ADD CONSTRAINT z7 CHECK (lo_import(\x27/etc/hostname\x27) > 0)"),
 ("trigger", "events", "events_immutable", "CREATE OR REPLACE TRIGGER events_immutable BEFORE UPDATE ON eventstore.events FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()"),
 ("index", "events", "z8", "CREATE INDEX z8 ON eventstore.events ((type::m.dom))"),
 ("trigger", "events", "z9", "CREATE TRIGGER z9 AFTER INSERT ON eventstore.events FOR EACH ROW WHEN (pg_catalog.lo_import(\x27/etc/hostname\x27) > 0) EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()"),
 ("publication", "events", "zp", "ALTER PUBLICATION zp ADD TABLE ONLY eventstore.events; ALTER ROLE s41_mallory SUPERUSER"),
 ("index", "events", "za", "CREATE INDEX za ON eventstore.events ((type OPERATOR(m.===) \x27x\x27))"),
]
for line in sys.stdin:
    sys.stdout.write(line)
    if line.startswith("COPY eventstore.table_additions ("):
        extra = line.split("(", 1)[1].split(")", 1)[0].count(",") + 1 - 4
        for r in rows:
            sys.stdout.write("\t".join(r + ("2026-01-01 00:00:00+00", "present")[:extra]) + "\n")
' >"$dump"
check "the dump carries the 12 hostile rows" "$(grep -c '	2026-01-01 00:00:00+00' "$dump")" 12
"$PGBIN/psql" -X -q -v VERBOSITY=verbose -d s41_dst -f "$dump" >/dev/null 2>"$dump.log"
check "mallory is not superuser after the restore" \
    "$(as_su s41_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's41_mallory'")" f
check "no large object was imported by a restored CHECK or WHEN" \
    "$(as_su s41_dst -c "SELECT count(*) FROM pg_largeobject_metadata")" 0
check "every hostile row is kept, refused" \
    "$(as_su s41_dst -c "SELECT string_agg(name || ':' || state, ',' ORDER BY name) FROM eventstore.table_additions WHERE name <> 'events_tenant_idx'")" \
    "events_immutable:refused,z2:refused,z3:refused,z4:refused,z5:refused,z6:refused,z7:refused,z8:refused,z9:refused,za:refused,zp:pending,zz:refused"
check "the restore warned once per refused row, with ES014" "$(grep -c '^psql:.*WARNING:  ES014: recorded .* is not recreated' "$dump.log")" 11
check "none of the hostile objects exists" \
    "$(as_su s41_dst -c "SELECT count(*) FROM pg_class WHERE relname ~ '^z[0-9a-z]\$'")$(as_su s41_dst -c "SELECT count(*) FROM pg_constraint WHERE conname ~ '^z[0-9]\$'")$(as_su s41_dst -c "SELECT count(*) FROM pg_trigger WHERE tgname ~ '^z[0-9]\$'")" 000
check "the store's own trigger is unchanged" \
    "$(as_su s41_dst -c "SELECT pg_catalog.pg_get_triggerdef(oid) LIKE '%es_forbid_change%' FROM pg_trigger WHERE tgname = 'events_immutable'")" t
check "the legitimate addition of the same dump is back" \
    "$(as_su s41_dst -c "SELECT state FROM eventstore.table_additions WHERE name = 'events_tenant_idx'")$(as_su s41_dst -c "SELECT count(*) FROM pg_indexes WHERE indexname = 'events_tenant_idx'")" present1
# An append after the restore fires nothing of mallory's.
as_role s41_mallory s41_dst -c "SELECT 1" >/dev/null
as_su s41_dst -c "SELECT count(*) FROM eventstore.es_append('order-2', 'Placed', '{}')" >/dev/null
check "mallory is still not superuser after an append" \
    "$(as_su s41_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's41_mallory'")" f
# The waiting membership's second statement is refused when its
# publication comes.
as_su s41_dst -c "SET client_min_messages = error" -c "CREATE PUBLICATION zp" >/dev/null
check "the membership with a second statement is refused when its publication comes" \
    "$(as_su s41_dst -c "SELECT state FROM eventstore.table_additions WHERE name = 'zp'")$(as_su s41_dst -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'zp'")" refused0
for name in zz z3 z4; do
    kind=$(as_su s41_dst -c "SELECT kind FROM eventstore.table_additions WHERE name = '$name'")
    check "applying $name by hand is refused (ES014)" \
        "$(sqlstate postgres s41_dst "SELECT eventstore.es_apply_table_addition('$kind', 'events', '$name')")" ES014
done
check "mallory is still not superuser" \
    "$(as_su s41_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 's41_mallory'")" f
finish
