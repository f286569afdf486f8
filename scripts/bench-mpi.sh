#!/usr/bin/env bash
# MPI benchmarks, real MPICH against the FMI MPI shim, same binaries.
#
#   scripts/bench-mpi.sh [--ranks N] [--sizes "1 8 1024 ..."] [--reps R] [--time SECONDS]
#                        [--modes mpich,shim] [--keep]
#
# Builds mpi-shim/tests/bench/pingpong.c (osu_latency style: ping-pong between 2 ranks,
# 1 B .. 4 MiB, one-way latency) and allreduce.c (osu_allreduce style: MPI_FLOAT MPI_SUM,
# 4 B .. 1 MiB, average time per call over the ranks) once with MPICH's mpicc, then runs
# each binary alternately with
#
#   mpich  real MPICH over its TCP path: UCX_TLS=tcp,self mpiexec -n N ./bench
#   shim   the shim:  fmirun -n N -- env LD_PRELOAD=$SHIM ./bench
#
# (MPICH run, shim run, repeated --reps times, default 2) and keeps the best time per
# size and mode. Prints one table per benchmark: size, MPICH us, shim us, shim/MPICH.
# pingpong always uses 2 ranks; --ranks (default 2) is for allreduce. --sizes limits the
# sizes (bytes; allreduce uses those that are multiples of 4). --time is the time budget
# per size and run (default 0.5 s; the benchmarks cap their iteration counts to it).
#
# Ratios, not absolute times, are what matter: this is a shared 2-core machine, other
# builds disturb the absolute numbers and hit both sides alike. Below 1: the shim is
# faster.
#
# SHIM and FMIRUN as in scripts/mpi-test.sh (FMI_PREFIX, CARGO_TARGET_DIR). MPICH
# 4.0.2 with UCX_TLS=tcp,self sometimes hangs in MPI_Finalize at 3 or more ranks: a run
# is stopped 5 s after it printed its last result ("# done").
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

ranks=2 sizes="" reps=2 budget=0.5 modes="mpich,shim" keep=0
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --ranks) ranks=${2:?}; shift 2 ;;
    --sizes) sizes=${2:?}; shift 2 ;;
    --reps) reps=${2:?}; shift 2 ;;
    --time) budget=${2:?}; shift 2 ;;
    --modes) modes=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-mpi.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
want_mode() { [[ ",$modes," == *",$1,"* ]]; }
sizes=$(echo "$sizes" | tr ' ' ',' | sed 's/,,*/,/g; s/^,//; s/,$//')

tgt=${CARGO_TARGET_DIR:-target}
[[ "$tgt" = /* ]] || tgt="$REPO/$tgt"
if [ -n "${FMI_PREFIX:-}" ]; then
    SHIM=${SHIM:-$FMI_PREFIX/lib/libfmi_mpi.so}
    FMIRUN=${FMIRUN:-$FMI_PREFIX/bin/fmirun}
else
    SHIM=${SHIM:-$tgt/release/libfmi_mpi.so}
    FMIRUN=${FMIRUN:-$tgt/release/fmirun}
fi
[[ "$SHIM" = /* ]] || SHIM="$REPO/$SHIM"

for tool in mpicc mpiexec timeout; do
    command -v "$tool" >/dev/null || { echo "bench-mpi.sh: $tool not found (apt-get install mpich libmpich-dev)" >&2; exit 2; }
done
if want_mode shim; then
    if [ ! -f "$SHIM" ]; then
        echo "bench-mpi.sh: MPI shim library not found: $SHIM (build mpi-shim, set SHIM / FMI_PREFIX, or --modes mpich)" >&2
        exit 2
    fi
    if [ ! -x "$FMIRUN" ]; then
        echo "bench-mpi.sh: fmirun not found: $FMIRUN (set FMIRUN / FMI_PREFIX, or --modes mpich)" >&2
        exit 2
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-mpi.XXXXXX")
CURRENT=""
descendants() {
    local kids k
    kids=$(ps -o pid= --ppid "$1" 2>/dev/null) || return 0
    for k in $kids; do
        echo "$k"
        descendants "$k"
    done
}
stop_job() { # SIGTERM to timeout pid $1, its group and descendants; SIGKILL after 5 s
    local pids i
    pids=$(descendants "$1")
    kill -TERM -- "-$1" "$1" $pids 2>/dev/null
    for i in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$1" "$1" $pids $(descendants "$1") 2>/dev/null
}
cleanup() {
    [ -n "$CURRENT" ] && stop_job "$CURRENT"
    CURRENT=""
    if [ "$keep" = 1 ]; then echo "bench-mpi.sh: raw results kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "bench-mpi.sh: interrupted" >&2; exit 130' INT TERM HUP

for b in pingpong allreduce; do
    mpicc -O2 -Wall -Wextra -Werror -std=c11 "$REPO/mpi-shim/tests/bench/$b.c" -o "$WORK/$b" || exit 1
done

failures=0
# bench OUT DESC CMD... : runs one benchmark job, waits for its "# done" line.
bench() {
    local out=$1 desc=$2 done_at=""
    shift 2
    echo "  $desc" >&2
    timeout -k 10 900 "$@" >"$out" 2>"$out.err" </dev/null &
    CURRENT=$!
    while kill -0 "$CURRENT" 2>/dev/null; do
        if [ -z "$done_at" ] && grep -q '^# done' "$out"; then done_at=$SECONDS; fi
        if [ -n "$done_at" ] && [ $((SECONDS - done_at)) -ge 5 ]; then
            echo "  (finished, but did not exit 5 s later: stopped)" >&2
            stop_job "$CURRENT"
            break
        fi
        sleep 0.5
    done
    wait "$CURRENT"
    local rc=$?
    CURRENT=""
    if ! grep -q '^# done' "$out"; then
        echo "bench-mpi.sh: $desc failed (exit status $rc)" >&2
        tail -n 20 "$out.err" | sed 's/^/    /' >&2
        failures=$((failures + 1))
    fi
}

args=(--time "$budget")
[ -n "$sizes" ] && args+=(--sizes "$sizes")
for rep in $(seq "$reps"); do
    echo "run $rep of $reps:" >&2
    for b in pingpong allreduce; do
        n=$ranks
        [ $b = pingpong ] && n=2
        if want_mode mpich; then
            UCX_TLS=tcp,self UCX_WARN_UNUSED_ENV_VARS=n bench "$WORK/$b.mpich.$rep.out" "$b, MPICH, $n ranks" \
                mpiexec -launcher fork -n "$n" "$WORK/$b" "${args[@]}"
        fi
        if want_mode shim; then
            bench "$WORK/$b.shim.$rep.out" "$b, shim, $n ranks" \
                "$FMIRUN" -n "$n" -- env LD_PRELOAD="$SHIM" "$WORK/$b" "${args[@]}"
        fi
    done
done

# table TITLE FILES... : best (lowest) time per size and mode; column 2 is the time.
table() {
    local title=$1
    shift
    echo
    echo "$title"
    awk '
        FNR == 1 { mode = FILENAME; sub(/.*\/[a-z]+\./, "", mode); sub(/\..*/, "", mode) }
        $1 !~ /^[0-9]+$/ || NF < 2 { next }
        {
            s = $1 + 0
            if (!(s in seen)) { seen[s] = 1; order[++k] = s }
            key = mode SUBSEP s
            if (!(key in best) || $2 + 0 < best[key]) best[key] = $2 + 0
        }
        function human(b) {
            if (b >= 1048576 && b % 1048576 == 0) return (b / 1048576) " MiB"
            if (b >= 1024 && b % 1024 == 0) return (b / 1024) " KiB"
            return b " B"
        }
        END {
            printf "%10s %12s %12s %11s\n", "size", "MPICH us", "shim us", "shim/MPICH"
            for (i = 1; i <= k; i++) {
                s = order[i]
                m = (("mpich" SUBSEP s) in best) ? best["mpich", s] : -1
                f = (("shim" SUBSEP s) in best) ? best["shim", s] : -1
                r = (m > 0 && f >= 0) ? sprintf("%.2f", f / m) : "-"
                printf "%10s %12s %12s %11s\n", human(s), m < 0 ? "-" : sprintf("%.2f", m),
                    f < 0 ? "-" : sprintf("%.2f", f), r
            }
        }' "$@"
}
shopt -s nullglob
table "pingpong (osu_latency style): 2 ranks, one-way latency, best of $reps" "$WORK"/pingpong.*.out
table "allreduce (osu_allreduce style): $ranks ranks, MPI_FLOAT MPI_SUM, average over ranks, best of $reps" \
    "$WORK"/allreduce.*.out
echo
echo "Ratios, not absolute times, are what matter (shared 2-core machine; below 1: the shim is faster)."
[ $failures = 0 ]
