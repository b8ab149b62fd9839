#!/usr/bin/env bash
# pgTAP: test/pgtap/*.sql, run with pg_prove in a fresh database.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
files=$(ls test/pgtap/*.sql 2>/dev/null)
[ -z "$files" ] && { echo "no pgTAP tests"; exit 0; }
es_new_db es_pgtap || exit 1
"$PGBIN/psql" -X -q -d es_pgtap -c "CREATE EXTENSION pgtap" || exit 1
pg_prove --ext .sql -h "$PGHOST" -p "$PGPORT" -U postgres -d es_pgtap $files
