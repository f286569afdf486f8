#!/usr/bin/env bash
# Channel benchmark: point-to-point (ping-pong between ranks 0 and 1) and allreduce
# (FMI_DOUBLE, FMI_SUM, 4 ranks) latency at 8 B and 1 MiB over the direct channel (TCP,
# the default), Redis and S3, side by side. Builds examples/bench (channels.c) against
# an FMI install, starts a throw-away redis-server (scripts/redis-server.sh) and an
# S3-compatible server (scripts/s3-server.sh) on loopback ports, runs the benchmark on
# 4 ranks under fmirun once per channel (fewer iterations over the storage channels),
# stops the servers (also on failure or Ctrl-C) and prints a table of median
# microseconds per operation with the redis/direct and s3/direct ratios.
# It prints speeds; it does not judge them. It fails if a run fails (a wrong result,
# an FMI error, a timeout) or if the Redis run did not go through Redis.
#
#   scripts/bench-channels.sh [--prefix PREFIX] [--channels "direct redis s3"]
#
# --prefix PREFIX   use the FMI installed there (scripts/install.sh --prefix PREFIX);
#                   without it FMI is built and installed into build/prefix
#                   (scripts/deps.sh, scripts/install.sh), as scripts/demo.sh does
# --channels LIST   the channels to run (default: direct redis s3); direct is always run
#
# Iterations ("SMALL LARGE": timed iterations at 8 B and at 1 MiB; each measurement adds
# a tenth of that, at least 2, as warm-up): BENCH_ITERS_DIRECT (default "2000 200"),
# BENCH_ITERS_REDIS ("500 50"), BENCH_ITERS_S3 ("50 10"). BENCH_TIMEOUT: seconds per
# run (default 300). BENCH_DIR: keep the logs there (default: a temporary directory,
# removed at the end).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

PREFIX=""
CHANNELS="direct redis s3"
while [[ $# -gt 0 ]]; do
    case "$1" in
    --prefix) [[ $# -ge 2 ]] || { echo "bench-channels: --prefix needs a directory" >&2; exit 2; }
              PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --channels) [[ $# -ge 2 ]] || { echo "bench-channels: --channels needs a list" >&2; exit 2; }
                CHANNELS=$2; shift 2 ;;
    --channels=*) CHANNELS=${1#--channels=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-channels: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
for ch in $CHANNELS; do
    case "$ch" in
    direct|redis|s3) ;;
    *) echo "bench-channels: unknown channel '$ch' (direct, redis, s3)" >&2; exit 2 ;;
    esac
done
want() { [[ " $CHANNELS " == *" $1 "* ]]; }
RUN_CHANNELS="direct" # always: it is what the ratios divide by
want redis && RUN_CHANNELS+=" redis"
want s3 && RUN_CHANNELS+=" s3"

RANKS=4
ITERS_direct=${BENCH_ITERS_DIRECT:-"2000 200"}
ITERS_redis=${BENCH_ITERS_REDIS:-"500 50"}
ITERS_s3=${BENCH_ITERS_S3:-"50 10"}
JOB_TIMEOUT=${BENCH_TIMEOUT:-300}

fail() {
    echo "bench-channels: FAILED: $*" >&2
    exit 1
}

if want s3 && [[ ! -x scripts/s3-server.sh ]]; then
    fail "scripts/s3-server.sh not found: no S3-compatible server to run against (--channels \"direct redis\" leaves S3 out)"
fi

# ---- FMI and the benchmark ----------------------------------------------------------
if [[ -n "$PREFIX" ]]; then
    PREFIX=$(cd "$PREFIX" 2>/dev/null && pwd) || fail "--prefix: no such directory"
    [[ -x "$PREFIX/bin/fmirun" && -d "$PREFIX/lib/cmake/FMI" ]] ||
        fail "$PREFIX holds no FMI install (scripts/install.sh --prefix $PREFIX makes one)"
else
    PREFIX="$REPO/build/prefix"
    echo "bench-channels: checking dependencies"
    scripts/deps.sh
    echo "bench-channels: building and installing FMI into $PREFIX"
    scripts/install.sh --prefix "$PREFIX"
fi
BUILD="$REPO/build/bench"
echo "bench-channels: building the benchmark in $BUILD"
cmake -S examples/bench -B "$BUILD" -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

# ---- servers, cleaned up on any exit ------------------------------------------------
if [[ -n "${BENCH_DIR:-}" ]]; then
    WORK=$BENCH_DIR
    KEEP=1
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmi-bench-channels.XXXXXX")
    KEEP=0
fi
cleanup() {
    [[ -d "$WORK/redis" ]] && { scripts/redis-server.sh stop "$WORK/redis" || true; }
    [[ -d "$WORK/s3" ]] && { scripts/s3-server.sh stop "$WORK/s3" || true; }
    [[ $KEEP -eq 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through the EXIT trap

REDIS_VERSION="" S3_VERSION=""
redis_commands() { # commands the server has processed so far
    # shellcheck disable=SC1091
    (source "$WORK/redis/env" && redis-cli -u "$FMI_REDIS_URL" info stats 2>/dev/null) |
        sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'
}

# run CHANNEL: the benchmark on $RANKS ranks over CHANNEL; output to the terminal and
# $WORK/CHANNEL.log; fails the script unless it exits 0 with its four result lines
run() {
    local ch=$1 iters_var="ITERS_$1" rc envfile=""
    local iters=${!iters_var}
    [[ $ch != direct ]] && envfile="$WORK/$ch/env"
    echo
    echo "bench-channels: $ch: fmirun -n $RANKS -- channels $iters"
    set +e
    (
        unset FMI_CHANNEL FMI_REDIS_URL FMI_S3_ENDPOINT FMI_S3_BUCKET FMI_S3_REGION
        # shellcheck disable=SC1090
        [[ -n "$envfile" ]] && source "$envfile"
        export FMI_CHANNEL=$ch
        # a storage channel that hangs fails well before the run's timeout
        [[ $ch != direct ]] && export FMI_TIMEOUT_MS=${FMI_TIMEOUT_MS:-60000}
        # shellcheck disable=SC2086
        exec timeout -k 10 $((JOB_TIMEOUT + 30)) \
            "$PREFIX/bin/fmirun" -n "$RANKS" --timeout "$JOB_TIMEOUT" -- \
            "$BUILD/channels" $iters
    ) 2>&1 | tee "$WORK/$ch.log"
    rc=${PIPESTATUS[0]}
    set -e
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        fail "the $ch run did not finish within $JOB_TIMEOUT s"
    elif [[ $rc -ne 0 ]]; then
        fail "the $ch run exited with status $rc (its errors are above)"
    fi
    [[ $(grep -c '^result ' "$WORK/$ch.log") -eq 4 ]] ||
        fail "the $ch run did not print its 4 result lines"
}

run direct

if want redis; then
    echo
    REDIS_VERSION=$(scripts/redis-server.sh start "$WORK/redis" | tee /dev/stderr |
        sed -n 's/^redis-server \([^ ]*\) .*/\1/p')
    before=$(redis_commands)
    run redis
    after=$(redis_commands)
    used=$((${after:-0} - ${before:-0} - 1)) # minus the INFO of $after
    read -r small large <<<"$ITERS_redis"
    # every timed ping-pong message alone is at least one command
    if [[ $used -lt $((2 * (small + large))) ]]; then
        fail "the redis run sent only $used commands to Redis: FMI did not use the Redis channel (FMI_CHANNEL=redis), its numbers would be the direct channel's"
    fi
    echo "bench-channels: the redis run sent $used commands to Redis"
    scripts/redis-server.sh stop "$WORK/redis"
fi

if want s3; then
    echo
    scripts/s3-server.sh install
    S3_VERSION=$(scripts/s3-server.sh start "$WORK/s3" | tee /dev/stderr | sed -n 1p)
    run s3
    scripts/s3-server.sh stop "$WORK/s3"
fi

# ---- the table ----------------------------------------------------------------------
echo
echo "bench-channels: machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1), $(uname -sr)"
echo "bench-channels: FMI $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?') ($PREFIX)"
[[ -n "$REDIS_VERSION" ]] && echo "bench-channels: redis-server $REDIS_VERSION ($(redis-server --version))"
[[ -n "$S3_VERSION" ]] && echo "bench-channels: S3 server: $S3_VERSION"
echo "bench-channels: $RANKS ranks on one host; median microseconds per operation (ping-pong: one way, half the round trip; allreduce: per call, slowest rank)"
for ch in $RUN_CHANNELS; do
    iters_var="ITERS_$ch"
    read -r small large <<<"${!iters_var}"
    echo "bench-channels: $ch: $small iterations at 8 B, $large at 1 MiB"
done
echo
awk -v channels="$RUN_CHANNELS" '
    function field(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
    function size(b) { return b >= 1048576 ? (b / 1048576) " MiB" : b >= 1024 ? (b / 1024) " KiB" : b " B" }
    function cell(ch, key) { return ((ch, key) in us) ? sprintf("%.1f", us[ch, key]) : "-" }
    function ratio(ch, key) {
        if (!((ch, key) in us) || !(("direct", key) in us) || us["direct", key] <= 0) return "-"
        return sprintf("%.1fx", us[ch, key] / us["direct", key])
    }
    /^result / {
        ch = field("channel"); key = field("op") SUBSEP field("bytes")
        us[ch, key] = field("usec") + 0
        if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    }
    END {
        printf "%-10s %8s %12s %12s %12s %14s %11s\n", "op", "size", "direct us", "redis us", "s3 us", "redis/direct", "s3/direct"
        for (i = 1; i <= n; i++) {
            k = order[i]; split(k, p, SUBSEP)
            printf "%-10s %8s %12s %12s %12s %14s %11s\n", p[1], size(p[2] + 0), cell("direct", k), cell("redis", k), cell("s3", k), ratio("redis", k), ratio("s3", k)
        }
    }' $(for ch in $RUN_CHANNELS; do echo "$WORK/$ch.log"; done)
[[ $KEEP -eq 1 ]] && echo && echo "bench-channels: logs in $WORK"
exit 0
