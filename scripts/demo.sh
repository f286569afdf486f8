#!/usr/bin/env bash
# The demo job: build FMI, install it into build/prefix, build examples/demo (train.c,
# data-parallel logistic regression whose gradients are combined with FMI_Allreduce)
# against it, and run the job on 4 ranks under fmirun twice: over the direct channel
# (TCP between the ranks, the default) and over Redis (a redis-server started here on
# a free loopback port, stopped at the end). Then compares the two runs: communication
# and total time per epoch, final accuracy, modelled AWS Lambda cost per 1,000 epochs.
# Fails if either run fails or if the two runs do not end with the same accuracy and
# weights. Works on a fresh machine as root (scripts/deps.sh installs what is missing).
#
#   scripts/demo.sh                    # build, install into build/prefix, run
#   scripts/demo.sh --prefix PREFIX    # run against an existing install (test.sh does)
#
# DEMO_EPOCHS (default 10), DEMO_STEPS (steps per epoch, default 32) and DEMO_TIMEOUT
# (seconds per run, default 120) change the job.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

PREFIX="$REPO/build/prefix"
BUILD="$REPO/build/demo"
RANKS=4
EPOCHS=${DEMO_EPOCHS:-10}
STEPS=${DEMO_STEPS:-32}
JOB_TIMEOUT=${DEMO_TIMEOUT:-120}

if [[ "${1:-}" == "--prefix" && -n "${2:-}" ]]; then
    PREFIX=$(cd "$2" && pwd)
    BUILD="$(mktemp -d "${TMPDIR:-/tmp}/fmi-demo-build.XXXXXX")"
else
    echo "demo.sh: checking dependencies"
    scripts/deps.sh
    echo "demo.sh: building and installing FMI into $PREFIX"
    scripts/install.sh --prefix "$PREFIX"
fi
echo "demo.sh: building the demo in $BUILD"
cmake -S examples/demo -B "$BUILD" -DCMAKE_PREFIX_PATH="$PREFIX"
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmi-demo.XXXXXX")
REDIS_STARTED=""
stop_redis() {
    if [[ -n "$REDIS_STARTED" ]]; then
        "$REPO/scripts/redis-server.sh" stop "$WORK/redis" || true
        REDIS_STARTED=""
    fi
}
cleanup() {
    stop_redis
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through the EXIT trap

fail() {
    echo "demo.sh: FAILED: $*" >&2
    exit 1
}

# run_job NAME LOG [VAR=VALUE ...]: the job on $RANKS ranks, output to the terminal and
# LOG; fails the script (naming the run) unless it exits 0 and prints its summary line
run_job() {
    local name=$1 log=$2 rc
    shift 2
    echo
    echo "demo.sh: run over $name: fmirun -n $RANKS --timeout $JOB_TIMEOUT -- train $EPOCHS $STEPS"
    set +e
    env -u FMI_CHANNEL -u FMI_REDIS_URL "$@" \
        timeout -k 10 $((JOB_TIMEOUT + 30)) \
        "$PREFIX/bin/fmirun" -n "$RANKS" --timeout "$JOB_TIMEOUT" -- \
        "$BUILD/train" "$EPOCHS" "$STEPS" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    if [[ $rc -eq 124 ]]; then
        fail "the $name run did not finish within $JOB_TIMEOUT s"
    elif [[ $rc -ne 0 ]]; then
        fail "the $name run exited with status $rc (its errors are above)"
    fi
    grep -q '^summary ' "$log" || fail "the $name run printed no summary line"
}

# field LOG KEY: KEY's value in LOG's summary line
field() {
    awk -v k="$2" '/^summary / { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) v = substr($i, length(k) + 2) }
        END { print v }' "$1"
}

# ---- run 1: direct -------------------------------------------------------------------
run_job direct "$WORK/direct.log"

# ---- run 2: Redis --------------------------------------------------------------------
"$REPO/scripts/redis-server.sh" start "$WORK/redis" || fail "could not start redis-server"
REDIS_STARTED=1
REDIS_URL=$(sed -n 's/^export FMI_REDIS_URL=//p' "$WORK/redis/env")

redis_commands() {
    redis-cli -u "$REDIS_URL" info stats 2>/dev/null |
        sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'
}
before=$(redis_commands)
# a blocking call that waits 30 s for Redis is broken: fail well before the job timeout
run_job redis "$WORK/redis.log" FMI_CHANNEL=redis FMI_REDIS_URL="$REDIS_URL" \
    FMI_TIMEOUT_MS="${FMI_TIMEOUT_MS:-30000}"
after=$(redis_commands)
used=$((${after:-0} - ${before:-0} - 1)) # minus the INFO above
# every FMI_Allreduce of the job must have gone through Redis: at least one command each
if [[ $used -lt $((EPOCHS * STEPS)) ]]; then
    fail "the redis run sent only $used commands to Redis for $((EPOCHS * STEPS)) reductions: FMI did not use the Redis channel (FMI_CHANNEL=redis)"
fi
echo "demo.sh: the redis run sent $used commands to Redis"
stop_redis

# ---- comparison ----------------------------------------------------------------------
D="$WORK/direct.log"
R="$WORK/redis.log"
echo
echo "demo.sh: $RANKS ranks, $EPOCHS epochs x $STEPS steps (modelled cost: AWS Lambda, FMI_Comm_cost)"
printf '%-8s %15s %16s %15s %18s  %s\n' channel "comm s/epoch" "total s/epoch" "final accuracy" \
    "USD/1,000 epochs" weights
for log in "$D" "$R"; do
    printf '%-8s %15s %16s %15s %18s  %s\n' "$(field "$log" channel)" \
        "$(field "$log" comm_s_per_epoch)" "$(field "$log" total_s_per_epoch)" \
        "$(field "$log" final_accuracy)" "$(field "$log" cost_usd_per_1000_epochs)" \
        "$(field "$log" weights)"
done
awk -v dc="$(field "$D" comm_s_per_epoch)" -v rc="$(field "$R" comm_s_per_epoch)" \
    -v du="$(field "$D" cost_usd_per_1000_epochs)" -v ru="$(field "$R" cost_usd_per_1000_epochs)" '
    function ratio(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "n/a" }
    BEGIN { printf "redis/direct: comm time %s, cost %s\n", ratio(rc, dc), ratio(ru, du) }'

acc_d=$(field "$D" final_accuracy)
acc_r=$(field "$R" final_accuracy)
w_d=$(field "$D" weights)
w_r=$(field "$R" weights)
[[ -n "$acc_d" && "$acc_d" == "$acc_r" ]] ||
    fail "final accuracy differs: direct $acc_d, redis $acc_r"
[[ -n "$w_d" && "$w_d" == "$w_r" ]] ||
    fail "final weights differ: direct $w_d, redis $w_r (accuracy $acc_d in both)"
echo "demo.sh: both runs end with accuracy $acc_d and the same weights ($w_d): done"
