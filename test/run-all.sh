#!/usr/bin/env bash
# Runs every test of eventstore on throwaway clusters: `make test`.
# Each suite is a script in test/suites/ that exits 0 when it passes.
# Ends with the line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. test/lib/cluster.sh

test/install-deps.sh || exit 1

echo "== build (warnings are errors)"
make -s clean >/dev/null 2>&1
make -s WERROR=-Werror >/dev/null || { echo "build failed"; exit 1; }
es_build_tmp_install || { echo "could not install into tmp_install"; exit 1; }

rm -rf "$TMP_CHECK"; mkdir -p "$TMP_CHECK"
es_start_cluster main "shared_preload_libraries = 'eventstore'" || exit 1
trap 'es_stop_cluster main' EXIT

passed=0; failed=0; failed_names=""
for suite in test/suites/*.sh; do
    [ -n "${ES_SUITES:-}" ] && ! echo "$suite" | grep -qE "$ES_SUITES" && continue
    name=$(basename "$suite" .sh)
    echo "== $name"
    start=$(date +%s)
    if bash "$suite"; then
        passed=$((passed + 1)); echo "ok: $name ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1)); failed_names="$failed_names $name"; echo "FAILED: $name"
    fi
done
[ -n "$failed_names" ] && echo "failed suites:$failed_names"
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
