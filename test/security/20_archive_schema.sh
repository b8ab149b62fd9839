#!/usr/bin/env bash
# Issue 21, item 3: archived events destroyed by a role with no store
# rights.  A role with only CREATE on the database makes schema
# eventstore_archive before the first archival; the archived partitions
# landed in its schema and it dropped them (no ES005, no audit row).
# Goal of the attack: drop archived events.  It must fail: the archive
# schema is the store's (created with a partitioned store, a member of the
# extension, superuser-owned), a planted one makes the install refuse
# (ES013), and dropping an archive is refused (ES005) to everyone but a
# superuser with eventstore.allow_destroy, whose drop is audited.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stage_roles sec20_o sec20_m
stage_db sec20_d sec20_o
as_su sec20_d -c "GRANT CREATE ON DATABASE sec20_d TO sec20_m" >/dev/null
partitioned() { PGOPTIONS='-c eventstore.partition_size=4' "$@"; }

# Planted before the store exists: the (trusted) install refuses.
as_role sec20_m sec20_d -c "CREATE SCHEMA eventstore_archive" >/dev/null
check "an install over a planted eventstore_archive is refused (ES013)" \
    "$(partitioned sqlstate sec20_o sec20_d "CREATE EXTENSION eventstore")" ES013
check "... and leaves no store" \
    "$(as_su sec20_d -c "SELECT count(*) FROM pg_extension WHERE extname = 'eventstore'")" 0
as_role sec20_m sec20_d -c "DROP SCHEMA eventstore_archive" >/dev/null

# The owner installs a partitioned store; the schema is the store's.
partitioned as_role sec20_o sec20_d -c "CREATE EXTENSION eventstore" >/dev/null
check "planting it after the install fails" \
    "$(sqlstate sec20_m sec20_d "CREATE SCHEMA eventstore_archive")" 42P06
check "the archive schema is a superuser's and a member of the extension" \
    "$(as_su sec20_d -c "SELECT r.rolsuper, d.deptype FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
                         JOIN pg_depend d ON d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
                         WHERE n.nspname = 'eventstore_archive'")" "t|e"
as_su sec20_d -c "SELECT count(*) FROM (SELECT eventstore.es_append('order-' || (g % 3), 'Placed', '{}')
                                        FROM generate_series(1, 10) g) x" \
              -c "SELECT eventstore.es_archive_events(before_position => 5, reason => 'sec20')" >/dev/null
arch=eventstore_archive.events_0000000000000000001
check "one partition archived into the store's schema" \
    "$(as_su sec20_d -c "SELECT table_name, events FROM eventstore.archives")" "$arch|4"

# The drops: by the attacker, the database owner, a superuser who did not say so.
check "DROP SCHEMA eventstore_archive CASCADE by a role with CREATE (ES005)" \
    "$(sqlstate sec20_m sec20_d "DROP SCHEMA eventstore_archive CASCADE")" ES005
# Other roles cannot even look into the schema (no USAGE): 42501.
check "DROP TABLE of an archive by a role with CREATE (42501)" \
    "$(sqlstate sec20_m sec20_d "DROP TABLE $arch")" 42501
# The store's owner may look in (USAGE, for its pg_dump): the guard refuses
# its drop before the privilege check would (ES005).
check "DROP TABLE of an archive by the database owner (ES005)" \
    "$(sqlstate sec20_o sec20_d "DROP TABLE $arch")" ES005
check "DROP SCHEMA of the archives by the database owner" \
    "$(sqlstate sec20_o sec20_d "DROP SCHEMA eventstore_archive CASCADE")" ES005
check "DROP TABLE of an archive by a superuser without allow_destroy (ES005)" \
    "$(sqlstate postgres sec20_d "DROP TABLE $arch")" ES005
check "switching an archive's immutability off (ES005)" \
    "$(sqlstate postgres sec20_d "ALTER TABLE $arch DISABLE TRIGGER events_immutable")" ES005
check "the archived events are all still there" \
    "$(as_su sec20_d -c "SELECT count(*) FROM $arch")" 4

# A superuser who means it: allowed, and audited where the lifecycle functions write.
as_su sec20_d -c "SET eventstore.allow_destroy = on" -c "DROP TABLE $arch" >/dev/null
check "a superuser's drop with allow_destroy is audited" \
    "$(as_su sec20_d -c "SELECT action, detail->>'table', detail->>'events', session_role FROM eventstore.lifecycle_log
                         WHERE action = 'drop_archive'")" "drop_archive|$arch|4|postgres"
finish
