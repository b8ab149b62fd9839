#!/usr/bin/env bash
# Client drivers: node-postgres (untyped parameters, Buffers as binary) and
# psycopg2 (typed literals), each appending and loading through eventstore.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
es_new_db es_clients 2>/dev/null || exit 1
export PGDATABASE=es_clients
rc=0
if [ -d test/clients/node_modules/pg ]; then
    node test/clients/node_client.js || rc=1
else
    echo "node-postgres is missing (test/install-deps.sh installs it)"; rc=1
fi
if /usr/bin/python3 -c 'import psycopg2' 2>/dev/null; then
    /usr/bin/python3 test/clients/python_client.py || rc=1
else
    echo "python3-psycopg2 is missing (test/install-deps.sh installs it)"; rc=1
fi
exit $rc
