#!/usr/bin/env bash
# `make package-test`: builds the Debian package from the tracked files
# (dpkg-buildpackage -us -uc -b, debian/), installs it system-wide, and runs
# `make installcheck` (regression, isolation and TAP suites) against the
# system server: a cluster of Debian's PostgreSQL made with pg_createcluster,
# with shared_preload_libraries = 'eventstore'.  Then it drops the cluster
# and removes the package, so the machine is left as it was.  First it
# checks META.json (PGXN) against the control file and that `make dist`
# makes a tarball with it.  Needs root (dpkg -i); the tests run as postgres.
# Ends with "package-test: ok".
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "package-test installs a package: run it as root"; exit 1; }
test/install-deps.sh

work=$(mktemp -d /tmp/eventstore-package.XXXXXX)
chmod 755 "$work"   # the tests run as postgres
cluster=estest$$
cleanup() {
    pg_dropcluster --stop 15 "$cluster" >/dev/null 2>&1 || true
    dpkg -r postgresql-15-eventstore >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== PGXN: META.json and make dist"
extversion=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" eventstore.control)
/usr/bin/python3 - "$extversion" <<'PY' || { echo "package-test: META.json disagrees with eventstore.control"; exit 1; }
import json, sys
meta = json.load(open("META.json"))
head = sys.argv[1]
for v in (meta["version"], meta["provides"]["eventstore"]["version"]):
    assert v == head + ".0", "META.json version %s, control file %s" % (v, head)
PY
make -s dist
tarball=eventstore-$extversion.tar.gz
tar -tzf "$tarball" | grep -qx "eventstore-$extversion/META.json" || { echo "package-test: $tarball has no META.json"; exit 1; }
echo "$tarball: $(tar -tzf "$tarball" | grep -vc '/$') files"
rm -f "$tarball"

echo "== build the package"
mkdir -p "$work/src"
git ls-files -z | tar --null -cf - -T - | tar -xf - -C "$work/src"
(cd "$work/src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
    tail -40 "$work/build.log"; echo "package-test: dpkg-buildpackage failed"; exit 1; }
deb=$(ls "$work"/postgresql-15-eventstore_*.deb)
echo "built $(basename "$deb")"
dpkg-deb -c "$deb" | awk '{print $6}' | grep -E 'eventstore(\.so|\.control|--)' | sed 's/^/  /'

echo "== install it"
dpkg -i "$deb" >/dev/null 2>&1

echo "== make installcheck against the system server"
port=$(for p in $(seq 55432 55499); do
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; break; }; done)
pg_createcluster 15 "$cluster" -p "$port" -- --auth=trust >/dev/null
echo "shared_preload_libraries = 'eventstore'" >>"/etc/postgresql/15/$cluster/postgresql.conf"
pg_ctlcluster 15 "$cluster" start
chown -R postgres "$work/src"
# The source tree of the package, not the build's: installcheck uses only
# the test files and the installed extension.
runuser -u postgres -- env PGPORT="$port" PGHOST=/var/run/postgresql \
    make -C "$work/src" installcheck >"$work/installcheck.log" 2>&1 || {
    tail -60 "$work/installcheck.log"
    cat "$work/src/regression.diffs" "$work/src/output_iso/regression.diffs" 2>/dev/null | head -60
    echo "package-test: installcheck failed"; exit 1; }
grep -E "tests passed|^All tests successful|^Files=" "$work/installcheck.log" | sed 's/^ */  /'
echo "package-test: ok"
