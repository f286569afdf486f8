#!/usr/bin/env bash
# The C correctness suites over the mediated channels: starts a real redis-server and a
# real S3-compatible server on loopback ports, runs the point-to-point and collective
# programs of c-tests under fmirun with FMI_CHANNEL=redis and FMI_CHANNEL=s3, checks
# that no key or object of the jobs is left behind, and kills a rank in the middle of
# Redis-mediated collectives (c-tests/store_loss.c): the survivors must fail within
# the timeout and leave no keys. MPI programs (mpi-shim/tests/programs) on the shim
# must print the same over Redis as over direct connections.
#
#   scripts/channel-test.sh --prefix PREFIX --build C_TESTS_BUILD_DIR
#
# The c-tests build directory is the one scripts/test.sh's c-tests stage made.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX="" BUILD=""
while [[ $# -gt 0 ]]; do
    case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    *) echo "usage: $0 --prefix PREFIX --build DIR" >&2; exit 2 ;;
    esac
done
[[ -n "$PREFIX" && -n "$BUILD" ]] || { echo "usage: $0 --prefix PREFIX --build DIR" >&2; exit 2; }
FMIRUN="$PREFIX/bin/fmirun"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmi-channels.XXXXXX")
cleanup() {
    "$REPO/scripts/redis-server.sh" stop "$WORK/redis" || true
    "$REPO/scripts/s3-server.sh" stop "$WORK/s3" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "channel-test: FAILED: $*" >&2; exit 1; }

"$REPO/scripts/redis-server.sh" start "$WORK/redis"
"$REPO/scripts/s3-server.sh" start "$WORK/s3"

# Counts what the jobs left in a store.
left_in() {
    case "$1" in
    redis) "$REPO/scripts/redis-server.sh" keys "$WORK/redis" ;;
    s3) "$REPO/scripts/s3-server.sh" keys "$WORK/s3" ;;
    esac
}

# The suites: every point-to-point and collective program at 2, 3 and 4 ranks.
SUITES='^(p2p|coll|comm|barrier|nofree|cpp_p2p|cpp_coll)$'
RANKS='^n(2|3|4)$'

for ch in redis s3; do
    echo "channel-test: the C suites over $ch"
    (
        # shellcheck disable=SC1090,SC1091
        source "$WORK/$ch/env"
        export FMI_CHANNEL=$ch FMI_TIMEOUT_MS=60000
        cd "$BUILD"
        env -u LD_LIBRARY_PATH ctest --output-on-failure -L "$SUITES" -L "$RANKS"
    ) || fail "the C suites over $ch"
    n=$(left_in "$ch")
    [[ "$n" -eq 0 ]] || fail "$n keys or objects left in $ch after the suites"
    echo "channel-test: $ch: suites passed, nothing left behind"
done

# Unmodified MPI programs (built with MPICH's mpicc, run on the shim by LD_PRELOAD)
# print the same over Redis as over direct connections.
echo "channel-test: MPI programs on the shim over Redis"
for prog in p2p coll comm; do
    mpicc -O1 -o "$WORK/$prog" "$REPO/mpi-shim/tests/programs/$prog.c"
    want=$(env -u LD_LIBRARY_PATH timeout 120 "$FMIRUN" -n 3 -- \
        env LD_PRELOAD="$PREFIX/lib/libfmi_mpi.so" "$WORK/$prog" 2>&1 | sort) ||
        fail "MPI $prog over direct: $want"
    got=$(
        # shellcheck disable=SC1090,SC1091
        source "$WORK/redis/env"
        FMI_CHANNEL=redis env -u LD_LIBRARY_PATH timeout 120 "$FMIRUN" -n 3 -- \
            env LD_PRELOAD="$PREFIX/lib/libfmi_mpi.so" "$WORK/$prog" 2>&1 | sort
    ) || fail "MPI $prog over Redis: $got"
    [[ "$got" == "$want" ]] || fail "MPI $prog prints differently over Redis:
$(diff <(echo "$want") <(echo "$got") | head -20)"
    echo "channel-test: MPI $prog: $(wc -l <<<"$got") lines, the same over Redis as direct"
done
n=$(left_in redis)
[[ "$n" -eq 0 ]] || fail "$n keys left in Redis after the MPI programs"

echo "channel-test: a rank killed in the middle of Redis-mediated collectives"
out=$(
    # shellcheck disable=SC1090,SC1091
    source "$WORK/redis/env"
    FMI_CHANNEL=redis FMI_TIMEOUT_MS=3000 "$FMIRUN" -n 4 --grace 30 --timeout 120 -- \
        "$BUILD/store_loss" 2>&1
) && rc=0 || rc=$?
printf '%s\n' "$out"
[[ $rc -ne 0 ]] || fail "fmirun exited 0 although rank 3 was killed"
passed=$(grep -c "^store_loss: survivor [0-9]*: PASSED" <<<"$out" || true)
[[ "$passed" -eq 3 ]] || fail "$passed of 3 survivors passed"
n=$(left_in redis)
[[ "$n" -eq 0 ]] || fail "$n keys left in Redis after the killed rank's job"
echo "channel-test: PASSED: 3 survivors failed within the timeout, no keys left"
