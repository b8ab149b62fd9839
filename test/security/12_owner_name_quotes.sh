#!/usr/bin/env bash
# The install script names its owner through @extowner@, which PostgreSQL
# substitutes as a quoted identifier.  Inside a string literal a role name
# holding a single quote would end the literal and run the rest of the name
# as SQL, as a superuser.  A role whose name is such a statement installs:
# nothing of its name may run.  PostgreSQL 15.4 and later refuse such an
# owner name themselves (22P02, "invalid character in extension owner");
# the scripts do not rely on that: they never put @extowner@ in a literal.
# A name with a space installs and works.
. "$(dirname "$0")/lib.sh"
role="sec12_x'); ALTER ROLE sec12_o SUPERUSER; SELECT ('"
as_su postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS sec12_o" -c "CREATE ROLE sec12_o LOGIN" >/dev/null
ES_STAGE_ROLES="sec12_o"
qrole=$(as_su postgres -c "SELECT quote_ident('$(printf '%s' "$role" | sed "s/'/''/g")')")
as_su postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $qrole" -c "CREATE ROLE $qrole LOGIN" >/dev/null
stage_db sec12_d sec12_o
as_su postgres -c "GRANT CREATE ON DATABASE sec12_d TO $qrole" >/dev/null
check "the role with a quote in its name cannot install" \
    "$(sqlstate "$role" sec12_d "CREATE EXTENSION eventstore")" 22P02
check "no statement hidden in the name ran" \
    "$(as_su postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'sec12_o'")" f
odd='sec12 odd name'
as_su postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS \"sec12 odd name\"" -c "CREATE ROLE \"sec12 odd name\" LOGIN" \
    -c "GRANT CREATE ON DATABASE sec12_d TO \"sec12 odd name\"" >/dev/null
check "a role with a space in its name installs" \
    "$(sqlstate "$odd" sec12_d "CREATE EXTENSION eventstore")" ""
check "... owns the store and appends" \
    "$(as_role "$odd" sec12_d -c "SELECT version FROM eventstore.es_append('q-1', 'Created', '{}', 0)")" 1
as_su postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS sec12_d WITH (FORCE)" -c "DROP ROLE IF EXISTS $qrole" -c "DROP ROLE IF EXISTS \"sec12 odd name\"" >/dev/null
ES_STAGE_DBS=""
finish
