#!/usr/bin/env bash
# docs/errors.md lists every SQLSTATE the extension raises: each
# errcode(ERRCODE_...) in src/*.c and each SQLSTATE defined in src/*.h
# (MAKE_SQLSTATE) must have its row "| `XXXXX` |" in the catalogue.
# Standard names are resolved through the server's utils/errcodes.h.
# Codes that PostgreSQL raises on the functions' behalf (23505, 40001,
# 53200, ...) are in the document too, but no grep can find them all.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
errcodes_h=$($PG_CONFIG --includedir-server)/utils/errcodes.h
doc=docs/errors.md
[ -f "$errcodes_h" ] || { echo "not found: $errcodes_h"; exit 1; }

# "NAME CODE" for every MAKE_SQLSTATE define of a header.
defines() {
    sed -nE "s/^#define[[:space:]]+(ERRCODE_[A-Z0-9_]+)[[:space:]]+MAKE_SQLSTATE\('(.)', *'(.)', *'(.)', *'(.)', *'(.)'\).*/\1 \2\3\4\5\6/p" "$@"
}
ours=$(defines src/*.h)
known=$( { echo "$ours"; defines "$errcodes_h"; } )
used=$(grep -ohE 'errcode\(ERRCODE_[A-Z0-9_]+\)' src/*.c | sed -E 's/errcode\((.*)\)/\1/' | sort -u)
names=$( { echo "$used"; echo "$ours" | cut -d' ' -f1; } | sed '/^$/d' | sort -u)

fails=0; n=0
for name in $names; do
    code=$(echo "$known" | awk -v n="$name" '$1 == n { print $2; exit }')
    if [ -z "$code" ]; then
        echo "not ok - $name: no SQLSTATE found for it"; fails=$((fails + 1)); continue
    fi
    n=$((n + 1))
    if ! grep -qF "| \`$code\` |" "$doc"; then
        echo "not ok - $code ($name) is raised by the sources but missing from $doc"
        grep -nE "errcode\($name\)|define $name" src/*.c src/*.h | sed 's/^/    /'
        fails=$((fails + 1))
    fi
done
echo "$n SQLSTATEs in the sources, $fails missing from $doc"
[ "$n" -gt 0 ] && [ "$fails" = 0 ]
