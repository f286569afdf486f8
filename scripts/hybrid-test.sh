#!/usr/bin/env bash
# The hybrid test: libfmi.so and the real MPICH side by side in one process.
#
#   scripts/hybrid-test.sh [--prefix DIR] [--no-negative] [--keep-logs]
#
#   --prefix DIR    an installed FMI (scripts/install.sh --prefix DIR); default: build
#                   and install one into the temporary directory
#   --no-negative   skip the wrong-token run
#   --keep-logs     keep the temporary directory (logs, binaries) also on success
#
# Builds c-tests/hybrid/hybrid_mpi.c with MPICH's mpicc plus `pkg-config --cflags --libs
# fmi`, and hybrid_peer.c with cc and the fmi flags only, starts fmi-rendezvous on a
# free loopback port with a fresh token, and runs `mpiexec -n 2 ./hybrid_mpi` (FMI
# ranks 0 and 1, also talking MPI between themselves) and two hybrid_peer processes
# (FMI ranks 2 and 3) against it; every process must exit 0 and print its one
# "hybrid: ... ok" line. Then (unless --no-negative) the same job again with rank 3
# given a wrong token: it must fail with FMI_ERR_AUTH and the whole job must fail
# (non-zero exit codes, no "ok" line) on its own, before the timeout.
# Environment: HYBRID_TIMEOUT (seconds per process, default 120), MPIEXEC (default
# mpiexec), MPIEXEC_ARGS (default "-launcher fork"), UCX_TLS etc. are passed on.
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=""
NEGATIVE=1
KEEP=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || { echo "hybrid-test.sh: --prefix needs a directory" >&2; exit 2; }
                  PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --no-negative) NEGATIVE=0; shift ;;
        --keep-logs) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "hybrid-test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

TIMEOUT=${HYBRID_TIMEOUT:-120}
MPIEXEC=${MPIEXEC:-mpiexec}
read -r -a MPIEXEC_ARGS <<<"${MPIEXEC_ARGS--launcher fork}"
SRC="$REPO/c-tests/hybrid"

say() { echo "hybrid-test: $*"; }
die() { echo "hybrid-test.sh: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# ---- cleanup: every process this script started, and the temporary directory ---------
PIDS=()
WORK=""
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${PIDS[@]:-}"; do
        [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do
        [[ -n "$p" ]] && wait "$p" 2>/dev/null || true
    done
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        if [[ $KEEP -eq 1 ]]; then
            say "kept $WORK"
        elif [[ $rc -ne 0 ]]; then
            say "logs kept in $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites -------------------------------------------------------------------
for c in mpicc "$MPIEXEC" pkg-config cc timeout readelf ldd awk; do
    command -v "$c" >/dev/null 2>&1 ||
        die "'$c' is missing (Debian: apt-get install mpich pkg-config gcc binutils; scripts/deps.sh installs them)"
done
T0=$(now)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmi-hybrid.XXXXXX")

if [[ -z "$PREFIX" ]]; then
    PREFIX="$WORK/prefix"
    say "building and installing FMI into $PREFIX (log: $WORK/install.log)"
    "$REPO/scripts/install.sh" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 || {
        tail -n 30 "$WORK/install.log" >&2
        die "scripts/install.sh failed (if the working tree does not build, install HEAD elsewhere and pass --prefix DIR)"
    }
fi
[[ -d "$PREFIX" ]] || die "--prefix $PREFIX is not a directory"
PREFIX=$(cd "$PREFIX" && pwd)
RDV="$PREFIX/bin/fmi-rendezvous"
[[ -x "$RDV" ]] || die "$RDV is missing (is $PREFIX an FMI install?)"
[[ -f "$PREFIX/lib/pkgconfig/fmi.pc" ]] || die "$PREFIX/lib/pkgconfig/fmi.pc is missing"

# ---- build ---------------------------------------------------------------------------
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
FMI_CFLAGS=$(pkg-config --cflags fmi)
FMI_LIBS=$(pkg-config --libs fmi)
# mpicc appends its own -I after the caller's flags, so an mpi.h in the FMI prefix (the
# MPI shim installs one there) would shadow MPICH's: name MPICH's include directories
# first. hybrid_mpi.c also refuses to compile without MPICH_VERSION.
read -r -a MPICH_INC <<<"$(mpicc -show | tr ' ' '\n' | grep '^-I' | tr '\n' ' ')"
BIN="$WORK/bin"
mkdir -p "$BIN"
say "building hybrid_mpi (mpicc $(mpicc -show | awk '{ print $1 }'), MPICH $(mpichversion 2>/dev/null | awk -F: '/MPICH Version/ { gsub(/[ \t]/, "", $2); print $2 }')) and hybrid_peer against $PREFIX"
# shellcheck disable=SC2086  # pkg-config output is a list of flags
mpicc -O2 -g -Wall -Wextra "${MPICH_INC[@]}" $FMI_CFLAGS "$SRC/hybrid_mpi.c" \
    -o "$BIN/hybrid_mpi" $FMI_LIBS >"$WORK/build.log" 2>&1 ||
    { cat "$WORK/build.log" >&2; die "building hybrid_mpi failed"; }
# shellcheck disable=SC2086
cc -O2 -g -Wall -Wextra $FMI_CFLAGS "$SRC/hybrid_peer.c" -o "$BIN/hybrid_peer" $FMI_LIBS \
    >>"$WORK/build.log" 2>&1 ||
    { cat "$WORK/build.log" >&2; die "building hybrid_peer failed"; }
[[ -s "$WORK/build.log" ]] && { say "compiler output:"; cat "$WORK/build.log"; }

# What they link: hybrid_mpi MPICH and the installed libfmi.so, hybrid_peer no MPI.
needed() { readelf -d "$1" | awk '/NEEDED/ { gsub(/[][]/, "", $NF); print $NF }'; }
needed "$BIN/hybrid_mpi" | grep -q '^libmpich\.so' || die "hybrid_mpi does not link libmpich: $(needed "$BIN/hybrid_mpi" | tr '\n' ' ')"
for b in hybrid_mpi hybrid_peer; do
    needed "$BIN/$b" | grep -qx 'libfmi.so' || die "$b does not link libfmi.so"
    where=$(ldd "$BIN/$b" | awk '$1 == "libfmi.so" { print $3 }')
    [[ "$where" == "$PREFIX/lib/libfmi.so" ]] || die "$b loads libfmi.so from '$where', not $PREFIX/lib"
done
if needed "$BIN/hybrid_peer" | grep -qi 'mpi'; then die "hybrid_peer links an MPI library"; fi

# ---- rendezvous server ---------------------------------------------------------------
TOKEN="hybrid-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
(umask 077 && printf '%s\n' "$TOKEN" >"$WORK/token")
timeout -k 5 $((4 * TIMEOUT)) env FMI_LOG=info "$RDV" --listen 127.0.0.1:0 \
    --token-file "$WORK/token" </dev/null >"$WORK/rendezvous.log" 2>&1 &
PIDS+=($!)
PORT=""
for _ in $(seq 100); do
    PORT=$(sed -n 's/^fmi-rendezvous listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$WORK/rendezvous.log")
    [[ -n "$PORT" ]] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
done
[[ -n "$PORT" ]] || { cat "$WORK/rendezvous.log" >&2; die "fmi-rendezvous did not start"; }
say "fmi-rendezvous on 127.0.0.1:$PORT (with a token)"

# ---- one job -------------------------------------------------------------------------
# run_job TAG TOKEN3 FMI_TIMEOUT_MS: mpiexec -n 2 hybrid_mpi + hybrid_peer 2 and 3 (rank
# 3 with TOKEN3) as job hybrid-$$-TAG; logs $WORK/TAG.{mpi,peer2,peer3}.{out,err}; sets
# RC_MPI, RC_P2, RC_P3 and ELAPSED. FMI_LOCAL_SIZE=4: four FMI processes share this
# host (so FMI spins less when that is more than the cores).
run_job() {
    local tag=$1 token3=$2 fmi_timeout=$3 id="$$-$1" t0 pm p2 p3 n
    n=${#PIDS[@]}
    t0=$(now)
    (
        cd "$BIN"
        export FMI_RENDEZVOUS="127.0.0.1:$PORT" FMI_TOKEN="$TOKEN" FMI_TIMEOUT_MS="$fmi_timeout" \
            FMI_LOCAL_SIZE=4
        exec timeout -k 5 "$TIMEOUT" "$MPIEXEC" "${MPIEXEC_ARGS[@]}" -n 2 ./hybrid_mpi "$id" \
            </dev/null >"$WORK/$tag.mpi.out" 2>"$WORK/$tag.mpi.err"
    ) &
    pm=$!
    PIDS+=("$pm")
    FMI_RENDEZVOUS="127.0.0.1:$PORT" FMI_TOKEN="$TOKEN" FMI_TIMEOUT_MS="$fmi_timeout" FMI_LOCAL_SIZE=4 \
        timeout -k 5 "$TIMEOUT" "$BIN/hybrid_peer" 2 "$id" \
        </dev/null >"$WORK/$tag.peer2.out" 2>"$WORK/$tag.peer2.err" &
    p2=$!
    PIDS+=("$p2")
    FMI_RENDEZVOUS="127.0.0.1:$PORT" FMI_TOKEN="$token3" FMI_TIMEOUT_MS="$fmi_timeout" FMI_LOCAL_SIZE=4 \
        timeout -k 5 "$TIMEOUT" "$BIN/hybrid_peer" 3 "$id" \
        </dev/null >"$WORK/$tag.peer3.out" 2>"$WORK/$tag.peer3.err" &
    p3=$!
    PIDS+=("$p3")
    RC_MPI=0 RC_P2=0 RC_P3=0
    wait "$pm" || RC_MPI=$?
    wait "$p2" || RC_P2=$?
    wait "$p3" || RC_P3=$?
    PIDS=("${PIDS[@]:0:$n}")
    ELAPSED=$(since "$t0")
}

show_logs() {
    local tag=$1 f
    for f in "$WORK/$tag".*.out "$WORK/$tag".*.err; do
        [[ -s "$f" ]] || continue
        echo "----- ${f##*/}"
        tail -n 40 "$f"
    done
    echo "----- rendezvous server (job hybrid-$$-$tag)"
    grep -F -- "hybrid-$$-$tag" "$WORK/rendezvous.log" | tail -n 20 || true
} >&2

timed_out() { [[ $1 -eq 124 || $1 -eq 137 ]]; }

# ---- the job -------------------------------------------------------------------------
say "run 1: mpiexec -n 2 hybrid_mpi (FMI ranks 0, 1) + hybrid_peer 2 + hybrid_peer 3"
run_job ok "$TOKEN" 60000
why=""
for x in "mpiexec:$RC_MPI" "peer 2:$RC_P2" "peer 3:$RC_P3"; do
    rc=${x##*:}
    if timed_out "$rc"; then why+="${x%%:*} was killed after ${TIMEOUT}s (exit $rc)"$'\n'
    elif [[ $rc -ne 0 ]]; then why+="${x%%:*} exited with $rc"$'\n'; fi
done
expect_mpi=$(printf 'hybrid: mpi rank %d/2 = fmi rank %d/4 (MPICH): p2p, sendrecv, irecv+mpi, allreduce, bcast, split ok\n' 0 0 1 1)
got_mpi=$(grep '^hybrid: ' "$WORK/ok.mpi.out" | sort || true)
[[ "$got_mpi" == "$expect_mpi" ]] ||
    why+="the MPI ranks printed"$'\n'"${got_mpi:-(nothing)}"$'\n'"instead of"$'\n'"$expect_mpi"$'\n'
for r in 2 3; do
    expect="hybrid: peer = fmi rank $r/4 (no MPI): p2p, big send, sendrecv, allreduce, bcast, split ok"
    got=$(grep '^hybrid: ' "$WORK/ok.peer$r.out" || true)
    [[ "$got" == "$expect" ]] || why+="peer $r printed '${got:-(nothing)}' instead of '$expect'"$'\n'
done
if grep -h 'FAIL' "$WORK"/ok.*.err >/dev/null 2>&1; then why+="a process reported FAIL"$'\n'; fi
if [[ -n "$why" ]]; then
    show_logs ok
    printf '%s' "$why" >&2
    die "run 1 (2 MPICH ranks + 2 plain processes in one FMI world) failed after ${ELAPSED}s"
fi
printf '%s\n' "$got_mpi" "$(cat "$WORK/ok.peer2.out")" "$(cat "$WORK/ok.peer3.out")" | sed 's/^/  /'
say "run 1 passed in ${ELAPSED}s"

# ---- the same job with a wrong token for rank 3 --------------------------------------
if [[ $NEGATIVE -eq 1 ]]; then
    say "run 2: the same job, hybrid_peer 3 with a wrong token (FMI_TIMEOUT_MS=5000)"
    run_job auth "wrong-$TOKEN" 5000
    why=""
    for x in "mpiexec:$RC_MPI" "peer 2:$RC_P2" "peer 3:$RC_P3"; do
        rc=${x##*:}
        if timed_out "$rc"; then why+="${x%%:*} was killed after ${TIMEOUT}s (exit $rc) instead of failing on its own"$'\n'
        elif [[ $rc -eq 0 ]]; then why+="${x%%:*} exited with 0"$'\n'; fi
    done
    grep -q 'FMI_ERR_AUTH' "$WORK/auth.peer3.err" ||
        why+="peer 3 did not report FMI_ERR_AUTH"$'\n'
    if grep -h ' ok$' "$WORK"/auth.*.out >/dev/null 2>&1; then
        why+="a process printed its ok line although rank 3 never joined"$'\n'
    fi
    if [[ -n "$why" ]]; then
        show_logs auth
        printf '%s' "$why" >&2
        die "run 2 (wrong token) did not fail as it should (after ${ELAPSED}s)"
    fi
    grep -h '^hybrid: .*FAIL' "$WORK"/auth.*.err | sed 's/^/  expected: /'
    say "run 2 passed in ${ELAPSED}s: rank 3 refused with FMI_ERR_AUTH, the job failed" \
        "(mpiexec $RC_MPI, peer 2 $RC_P2, peer 3 $RC_P3)"
fi

say "PASS ($(since "$T0")s in all, build included)"
