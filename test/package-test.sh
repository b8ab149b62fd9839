#!/usr/bin/env bash
# `make package-test`: proves that a release can be shipped as it stands.
#
# 1. The release files agree: META.json (PGXN) names the control file's SQL
#    version as a three-part release version, debian/changelog's upstream
#    version is that release version, the PostgreSQL versions META.json
#    claims are exactly those the suites test (debian/pgversions, what the
#    package is built for here, and 90_other_majors.sh's), and LICENSE,
#    META.json and debian/copyright name the same license.
# 2. `make dist` writes the tarball META.json names, with META.json and
#    LICENSE at its top and without debian/.
# 3. That tarball, as eventstore_<version>.orig.tar.gz, and debian/ build
#    the Debian source and binary packages with dpkg-buildpackage, and
#    lintian finds no error or warning in either.
# 4. The package installs, and its autopkgtest (debian/tests: make
#    installcheck, regression, isolation and TAP tests, on a throwaway
#    cluster with eventstore preloaded) passes, run by autopkgtest with the
#    null virtualisation server (the tests run on this machine), or, where
#    autopkgtest is not installed, by running debian/tests/installcheck
#    directly.
#
# It packages the tracked files as they are in the work tree (a new file
# counts once it is `git add`ed).  Needs root (dpkg -i); lintian runs as
# nobody and the tests as postgres.  At the end the package is removed and
# any eventstore files that were installed before are put back, so the
# machine is left as it was.  Ends with "package-test: ok".
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "package-test installs a package: run it as root"; exit 1; }
test/install-deps.sh

fail() { echo "package-test: $*"; exit 1; }

work=$(mktemp -d /tmp/eventstore-package.XXXXXX)
chmod 755 "$work"   # lintian runs as nobody
pkgs=$(sed 's/.*/postgresql-&-eventstore/' debian/pgversions)
# A `make install` may have put eventstore files where the package goes:
# dpkg -i overwrites them and dpkg -r deletes them.  Keep them and put them
# back at the end, so that the machine is left as it was.
saved=$work/saved.tar
for v in $(cat debian/pgversions); do
    ls -d /usr/share/postgresql/"$v"/extension/eventstore* /usr/lib/postgresql/"$v"/lib/eventstore.so \
          /usr/lib/postgresql/"$v"/lib/bitcode/eventstore* 2>/dev/null || true
done >"$work/saved.list"
if [ -s "$work/saved.list" ]; then
    tar -cf "$saved" -T "$work/saved.list" 2>/dev/null
    echo "(keeping $(wc -l <"$work/saved.list") eventstore files already installed, to put back at the end)"
fi
cleanup() {
    # shellcheck disable=SC2086
    dpkg -r $pkgs >/dev/null 2>&1 || true
    if [ -f "$saved" ]; then tar -xf "$saved" -C /; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== release files: META.json, eventstore.control, debian/ and LICENSE agree"
sqlversion=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" eventstore.control)
release=$sqlversion.0
debversion=$(dpkg-parsechangelog -S Version)
[ "${debversion%-*}" = "$release" ] ||
    fail "debian/changelog's version $debversion is not release $release and a Debian revision"
[ "$(cat debian/source/format)" = "3.0 (quilt)" ] || fail "debian/source/format is not 3.0 (quilt)"
/usr/bin/python3 - "$release" <<'PY' || fail "the release files disagree"
import json, re, sys
release = sys.argv[1]
meta = json.load(open("META.json"))
problems = []
def need(ok, what):
    if not ok:
        problems.append(what)

need(meta["name"] == "eventstore", "META.json: name is %r" % meta["name"])
for where, v in (("version", meta["version"]),
                 ("provides.eventstore.version", meta["provides"]["eventstore"]["version"])):
    need(v == release, "META.json: %s %s, the control file's SQL version makes %s" % (where, v, release))
need(meta["provides"]["eventstore"]["file"] == "eventstore.control", "META.json: provides.eventstore.file")

# One license everywhere.
need(meta["license"] == "postgresql", "META.json: license %r, not \"postgresql\"" % meta["license"])
need(open("LICENSE").readline().strip() == "PostgreSQL License", "LICENSE is not the PostgreSQL License")
copyright = open("debian/copyright").read()
need(re.search(r"^Files: \*\nCopyright: .*\nLicense: PostgreSQL$", copyright, re.M) is not None,
     "debian/copyright's Files: * paragraph is not License: PostgreSQL")
need(re.search(r"^License: PostgreSQL\n ", copyright, re.M) is not None,
     "debian/copyright has no text of the PostgreSQL license")

# Claim only the PostgreSQL versions that are tested: META.json lists them
# (x_postgresql_tested) and must equal test/suites/90_other_majors.sh's
# majors plus Debian's own (debian/pgversions, what the package is built
# for here); its range runs from the lowest to the highest, and a major
# inside it that no suite runs is named in x_postgresql_untested (a PGXN
# range cannot leave one out).
import re as _re
other = _re.search(r'majors=\$\{ES_OTHER_MAJORS:-([0-9 ]+)\}', open("test/suites/90_other_majors.sh").read())
need(other is not None, "test/suites/90_other_majors.sh: no majors=${ES_OTHER_MAJORS:-...} line")
debian_majors = sorted(int(l) for l in open("debian/pgversions").read().split())
tested = sorted(set(debian_majors) | set(int(v) for v in other.group(1).split()))
got_tested = sorted(int(v) for v in meta.get("x_postgresql_tested", []))
need(got_tested == tested, "META.json x_postgresql_tested %r, the suites test %r" % (got_tested, tested))
untested = [v for v in range(tested[0], tested[-1] + 1) if v not in tested]
got_untested = sorted(int(v) for v in meta.get("x_postgresql_untested", []))
need(got_untested == untested, "META.json x_postgresql_untested %r, should be %r" % (got_untested, untested))
want = ">= %d.0.0, < %d.0.0" % (tested[0], tested[-1] + 1)
got = meta["prereqs"]["runtime"]["requires"]["PostgreSQL"]
need(got == want, "META.json: PostgreSQL %r, the tested majors say %r" % (got, want))

# Resources are optional; any given must be a real address, not a placeholder.
for key, value in meta.get("resources", {}).items():
    urls = [value] if isinstance(value, str) else [v for k, v in value.items() if k in ("url", "web")]
    for u in urls:
        need(re.match(r"https?://[^/]+\.[a-z]+(/|$)", u) and ".example" not in u,
             "META.json: resources.%s %r is not a real address" % (key, u))

for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY
echo "SQL version $sqlversion, release $release, Debian $debversion, PostgreSQL $(tr '\n' ' ' <debian/pgversions)"

echo "== make dist"
# The tracked files as they are in the work tree: the index plus unstaged
# changes, written to a tree object without touching the real index.
index=$work/index
cp "$(git rev-parse --git-path index)" "$index"
GIT_INDEX_FILE=$index git add -u
tree=$(GIT_INDEX_FILE=$index git write-tree)
tarball=eventstore-$release.tar.gz
rm -f "$tarball"
make -s dist DIST_REF="$tree"
[ -f "$tarball" ] || fail "make dist did not write $tarball (the name META.json's version gives)"
tar -tzf "$tarball" >"$work/dist.list"
for f in META.json LICENSE CHANGELOG.md README.md eventstore.control Makefile; do
    grep -qx "eventstore-$release/$f" "$work/dist.list" || fail "$tarball has no $f at its top"
done
! grep -q "^eventstore-$release/debian/" "$work/dist.list" || fail "$tarball holds debian/ (.gitattributes)"
echo "$tarball: $(grep -vc '/$' "$work/dist.list") files"
mv "$tarball" "$work/eventstore_$release.orig.tar.gz"

echo "== dpkg-buildpackage: source and binary packages"
tar -xzf "$work/eventstore_$release.orig.tar.gz" -C "$work"
src=$work/eventstore-$release
git ls-files -z debian | tar --null -cf - -T - | tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -us -uc >"$work/build.log" 2>&1) || {
    tail -40 "$work/build.log"; fail "dpkg-buildpackage failed"; }
changes=$work/eventstore_${debversion}_$(dpkg --print-architecture).changes
for f in "eventstore_$debversion.dsc" "eventstore_$debversion.debian.tar.xz" "$(basename "$changes")"; do
    [ -f "$work/$f" ] || fail "dpkg-buildpackage made no $f"
done
debs=""
for p in $pkgs; do
    deb=$(ls "$work/${p}_${debversion}"_*.deb 2>/dev/null) || fail "dpkg-buildpackage made no $p"
    debs="$debs $deb"
done
for deb in $debs; do
    echo "built $(basename "$deb")"
    dpkg-deb -c "$deb" | awk '{print $6}' >"$work/deb.list"
    for f in "lib/eventstore.so" "extension/eventstore.control" "extension/eventstore--1.0.sql" \
             "extension/eventstore--$sqlversion.sql" "doc/postgresql-[0-9]*-eventstore/README.md.gz" \
             "doc/postgresql-[0-9]*-eventstore/docs/append.md.gz" "doc/postgresql-[0-9]*-eventstore/copyright" \
             "doc/postgresql-[0-9]*-eventstore/changelog.gz"; do
        grep -q "/$f\$" "$work/deb.list" || fail "$(basename "$deb") has no $f"
    done
done

echo "== lintian"
runuser -u nobody -- lintian --fail-on error,warning --display-info "$changes" >"$work/lintian.log" 2>&1 || {
    cat "$work/lintian.log"; fail "lintian found errors or warnings"; }
if [ -s "$work/lintian.log" ]; then sed 's/^/  /' "$work/lintian.log"; else echo "  no tags"; fi

echo "== install"
# shellcheck disable=SC2086
dpkg -i $debs >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i failed"; }
dpkg-query -W $pkgs | sed 's/^/  /'

echo "== autopkgtest (debian/tests): make installcheck with eventstore preloaded"
if command -v autopkgtest >/dev/null; then
    # -B: test the packages built above, do not build again.
    # shellcheck disable=SC2086
    autopkgtest -B --output-dir "$work/autopkgtest" "$work/eventstore_$debversion.dsc" $debs -- null \
        >"$work/autopkgtest.log" 2>&1 || {
        tail -80 "$work/autopkgtest.log"; fail "autopkgtest failed"; }
    log=$work/autopkgtest.log
    sed 's/^/  /' "$work/autopkgtest/summary"
else
    echo "  (autopkgtest is not installed: running debian/tests/installcheck directly)"
    (cd "$src" && debian/tests/installcheck) >"$work/installcheck.log" 2>&1 || {
        tail -80 "$work/installcheck.log"; fail "debian/tests/installcheck failed"; }
    log=$work/installcheck.log
fi
grep -E "tests passed|^All tests successful|^Files=" "$log" | sed 's/^ */  /'
echo "package-test: ok"
