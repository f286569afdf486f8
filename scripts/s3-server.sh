#!/usr/bin/env bash
# A real S3-compatible server on a loopback port, for the S3 channel's tests.
#
#   scripts/s3-server.sh install      # idempotent; into build/tools/ of this repo
#   scripts/s3-server.sh start DIR    # writes DIR/env (export lines) and DIR/pid
#   scripts/s3-server.sh stop DIR
#   scripts/s3-server.sh keys DIR     # how many objects the bucket holds
#
# The server is s3s-fs (crates.io, the `s3s` project's file-system backend), built
# with `cargo install`. Why it, of the candidates:
#  - it speaks the S3 REST API over HTTP as AWS does and verifies SigV4 signatures
#    (header and presigned), so wrong credentials fail as they would on AWS;
#  - it installs with the toolchain every machine of this project already has, from
#    crates.io alone, in under 5 minutes on a 2-core machine (measured: 4m20s wall,
#    5m18s CPU, with the crates already downloaded); moto (PyPI) pulls in
#    boto3/botocore and friends and answers without checking signatures by
#    default; s3rver (npm) is a mock for JavaScript
#    tests and would bring Node into the project's test setup.
#  - it runs as one process with no state outside its data directory.
# Version 0.14.1 is the newest that builds with rustc 1.95 (0.15+ need 1.96).
#
# `start` binds port 0 (the kernel picks a free port: no race with other tests),
# reads the address from the server's log, waits until it answers a signed
# request, and creates the bucket. Needs curl (>= 7.75, for --aws-sigv4).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/build/tools"
BIN="$TOOLS/bin/s3s-fs"
VERSION=0.14.1
BUCKET=fmi-test
REGION=us-east-1

die() {
    echo "s3-server.sh: $*" >&2
    exit 1
}

install() {
    if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
        echo "s3s-fs $VERSION already installed: $BIN"
        return 0
    fi
    command -v cargo >/dev/null || die "cargo not found (install Rust first)"
    mkdir -p "$TOOLS"
    # Own target dir, so the build neither blocks nor dirties the project's.
    CARGO_TARGET_DIR="$ROOT/build/s3s-fs-target" \
        cargo install --locked --root "$TOOLS" s3s-fs --version "$VERSION" --features binary
    rm -rf "$ROOT/build/s3s-fs-target"
    echo "s3s-fs $VERSION installed: $BIN"
}

# signed REQUEST: curl with SigV4, printing only the HTTP status.
signed() {
    local method=$1 url=$2
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$method" \
        --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS:$SECRET" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        "$url" || true
}

start() {
    local dir=$1
    [[ -x "$BIN" ]] || die "s3s-fs is not installed: run scripts/s3-server.sh install"
    command -v curl >/dev/null || die "curl not found"
    mkdir -p "$dir/data"
    dir="$(cd "$dir" && pwd)"
    if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        die "a server from $dir is already running (pid $(cat "$dir/pid"))"
    fi
    ACCESS="fmi-test-$RANDOM$RANDOM"
    SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    : >"$dir/log"
    RUST_LOG=info nohup "$BIN" --host 127.0.0.1 --port 0 \
        --access-key "$ACCESS" --secret-key "$SECRET" "$dir/data" \
        >"$dir/log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/pid"
    local addr="" i
    for i in $(seq 1 100); do
        addr="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$dir/log" | head -1 || true)"
        [[ -n "$addr" ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; die "s3s-fs exited"; }
        sleep 0.1
    done
    [[ -n "$addr" ]] || { kill "$pid"; die "s3s-fs did not report its address (log: $dir/log)"; }
    local code=""
    for i in $(seq 1 50); do
        code="$(signed PUT "$addr/$BUCKET")"
        [[ "$code" == 200 || "$code" == 409 ]] && break
        sleep 0.1
    done
    [[ "$code" == 200 || "$code" == 409 ]] ||
        { kill "$pid"; die "creating bucket $BUCKET at $addr failed (HTTP $code; log: $dir/log)"; }
    cat >"$dir/env" <<EOF
export FMI_S3_ENDPOINT=$addr
export FMI_S3_BUCKET=$BUCKET
export FMI_S3_REGION=$REGION
export AWS_ACCESS_KEY_ID=$ACCESS
export AWS_SECRET_ACCESS_KEY=$SECRET
EOF
    echo "s3s-fs running at $addr (pid $pid); settings in $dir/env"
}

stop() {
    local dir=$1
    [[ -f "$dir/pid" ]] || return 0 # never started, or stopped already
    local pid
    pid="$(cat "$dir/pid")"
    if kill "$pid" 2>/dev/null; then
        # Not our child any more, so `wait` cannot be used: poll until it is gone.
        local i
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
    echo "s3s-fs (pid $pid) stopped"
}

# How many objects the bucket holds (up to one listing page, 1000: enough for checks
# that expect none).
keys() {
    local dir=$1
    [[ -f "$dir/env" ]] || die "no server recorded in $dir"
    # shellcheck disable=SC1091
    source "$dir/env"
    curl -s --max-time 10 --aws-sigv4 "aws:amz:$FMI_S3_REGION:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        "$FMI_S3_ENDPOINT/$FMI_S3_BUCKET?list-type=2" | { grep -o '<Key>' || true; } | wc -l
}

case "${1:-}" in
install) install ;;
start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
keys) [[ $# -eq 2 ]] || die "usage: $0 keys DIR"; keys "$2" ;;
*) die "usage: $0 install | start DIR | stop DIR" ;;
esac
