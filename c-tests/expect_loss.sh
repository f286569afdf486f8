#!/bin/sh
# expect_loss.sh FMIRUN N PROGRAM: runs PROGRAM under fmirun with N ranks, where the
# last rank kills itself. Passes when fmirun fails naming that rank and every other
# rank printed its PASSED line.
set -u
fmirun=$1 n=$2 prog=$3
victim=$((n - 1))
out=$("$fmirun" -n "$n" --grace 30 --timeout 120 -- "$prog" 2>&1)
rc=$?
printf '%s\n' "$out"
fail() { echo "expect_loss: FAILED: $*"; exit 1; }
[ "$rc" -ne 0 ] || fail "fmirun exited 0 although rank $victim was killed"
printf '%s\n' "$out" | grep -q "rank $victim" || fail "fmirun did not name rank $victim"
passed=$(printf '%s\n' "$out" | grep -c "^peer_loss: survivor [0-9]*: PASSED")
[ "$passed" -eq "$victim" ] || fail "$passed of $victim survivors passed"
echo "expect_loss: PASSED: $victim survivors saw rank $victim lost (fmirun exit $rc)"
