#!/usr/bin/env bash
# Start and stop a throw-away redis-server on a free loopback port, for tests and the
# demo (Debian's redis-server; scripts/deps.sh installs it).
#
#   scripts/redis-server.sh start DIR   # writes DIR/env (FMI_REDIS_URL=...), DIR/pid
#   scripts/redis-server.sh stop DIR
#   scripts/redis-server.sh keys DIR    # prints how many keys the server holds
#
# No persistence (--save "" --appendonly no): it lives only as long as the run.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop|keys DIR" >&2; exit 2; }

port_of() { sed -n 's/^export FMI_REDIS_URL=redis:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/env"; }

case "$cmd" in
start)
    command -v redis-server >/dev/null || { echo "$0: redis-server not found (run scripts/deps.sh as root)" >&2; exit 1; }
    command -v redis-cli >/dev/null || { echo "$0: redis-cli not found (Debian's redis-tools)" >&2; exit 1; }
    mkdir -p "$dir"
    for _ in 1 2 3 4 5; do
        # a random high port; if another process has it, redis-server fails and we retry
        port=$((20000 + RANDOM % 30000))
        redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
            --dir "$dir" --logfile "$dir/redis.log" --daemonize no </dev/null >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 50); do
            if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
                echo "$pid" > "$dir/pid"
                echo "export FMI_REDIS_URL=redis://127.0.0.1:$port" > "$dir/env"
                echo "redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port (pid $pid)"
                exit 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    tail -n 5 "$dir/redis.log" >&2 || true
    echo "$0: could not start redis-server on a loopback port" >&2
    exit 1
    ;;
stop)
    if [[ -f "$dir/pid" ]]; then
        pid=$(cat "$dir/pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/pid"
    fi
    ;;
keys)
    redis-cli -h 127.0.0.1 -p "$(port_of)" dbsize
    ;;
*)
    echo "usage: $0 start|stop|keys DIR" >&2
    exit 2
    ;;
esac
