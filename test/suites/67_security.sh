#!/usr/bin/env bash
# The security suite: every attack of test/security/NN_*.sh (docs/security.md,
# "Threat model", names the script that proves each row).  Each script sets
# the stage as an attacker would, runs its attack and checks that it fails;
# the suite fails when one attack succeeds.
cd "$(dirname "$0")/../.."
rc=0
for attack in test/security/[0-9]*.sh; do
    [ -e "$attack" ] || continue
    echo "-- $(basename "$attack")"
    bash "$attack" || { echo "ATTACK SUCCEEDED OR TEST BROKE: $attack"; rc=1; }
done
exit $rc
