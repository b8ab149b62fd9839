#!/usr/bin/env bash
# Installs the Debian packages (and npm module) that building and testing
# need, when they are missing.  Safe to run again.
set -e
cd "$(dirname "$0")/.."
pkgs="postgresql-15 postgresql-server-dev-15 postgresql-contrib postgresql-15-pgtap postgresql-15-cron postgresql-15-plproxy libtap-parser-sourcehandler-pgtap-perl libipc-run-perl python3-psycopg2 make gcc gnuplot-nox"
# The client programs of test/suites/70_clients.sh, built offline from
# Debian's packaged drivers: Go (pgx v4), Java (JDBC), Rust (tokio-postgres
# and the crates its test uses).
pkgs="$pkgs golang-go golang-github-jackc-pgx-v4-dev default-jdk-headless libpostgresql-jdbc-java"
pkgs="$pkgs cargo librust-tokio-postgres-dev librust-tokio-dev librust-serde-json-dev librust-uuid-dev"
# The pooler suite (test/suites/75_pgbouncer.sh).
pkgs="$pkgs pgbouncer"
# The Debian package (make package-test): pg_buildext and dpkg-buildpackage,
# lintian, and autopkgtest to run debian/tests with its null server.
pkgs="$pkgs debhelper postgresql-server-dev-all dpkg-dev lintian autopkgtest"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then echo "missing Debian packages:$missing (run as root to install)"; exit 1; fi
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1 || true
fi
if [ ! -d test/clients/node_modules/pg ] && command -v npm >/dev/null; then
    (cd test/clients && npm install --silent --no-audit --no-fund >/dev/null 2>&1) || echo "warning: npm install of pg failed"
fi
