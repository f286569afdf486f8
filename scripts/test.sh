#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run). Works from any directory.
#
#   scripts/test.sh            all stages
#   FMI_TEST_STAGES="install c-tests" scripts/test.sh   only these stages (and no others)
#   FMI_CTEST_ARGS="-LE big" scripts/test.sh            extra ctest arguments
#
# Stages: deps, fmt, clippy, cargo-test, install (into a temporary prefix), c-tests
# (CMake project in c-tests/ against that prefix, run by ctest), pkg-config (a tiny program
# built with `pkg-config --cflags --libs fmi`, run under fmirun -n 2), nat (ranks in
# network namespaces behind NATs, scripts/nat-test.sh; skipped, saying why, without root
# or `ip netns`), channels (the C suites over Redis and S3, a rank killed in Redis-mediated
# collectives, scripts/channel-test.sh), mpi-abi (the shim's header and exports against MPICH's), mpi (MPI
# programs three ways: MPICH, shim under fmirun, shim under mpiexec), mpi-direct
# (programs built against the shim with fmicc), mpi4py (mpi4py from PyPI, built with
# MPICH's mpicc, on the shim), hybrid (MPICH and FMI in one process),
# python (the Python package in a fresh virtualenv, scripts/python-test.sh), demo (the
# training job over direct and Redis, scripts/demo.sh's comparison).
# A stage whose prerequisite failed is skipped; so is a stage that exits 77 (it writes
# the reason to $WORK/NAME.skip). The last line is
# `test.sh: N passed, M failed[, K skipped]`; the exit code is non-zero if any failed.
#
# To add a suite: write a function stage_NAME and add `run_stage NAME [REQUIRED...]` at
# the bottom.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if [[ -n "${CARGO_TARGET_DIR:-}" && "$CARGO_TARGET_DIR" != /* ]]; then
    CARGO_TARGET_DIR="$REPO/$CARGO_TARGET_DIR"
    export CARGO_TARGET_DIR
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmi-test.XXXXXX")
PREFIX="$WORK/prefix"
NPROC=$(nproc 2>/dev/null || echo 2)

# ---- cleanup: the temporary directory and every process this script started ----------
# every process below this shell (pids from one ps snapshot; the ps itself is gone by
# the time they are signalled, so only our own processes are hit)
descendants() {
    local snapshot pid ppid changed
    declare -A mine=([$$]=1)
    snapshot=$(ps -eo pid=,ppid= 2>/dev/null || true)
    changed=1
    while [[ $changed -eq 1 ]]; do
        changed=0
        while read -r pid ppid; do
            [[ -n "$pid" && -n "${mine[$ppid]:-}" && -z "${mine[$pid]:-}" ]] || continue
            mine[$pid]=1
            changed=1
        done <<<"$snapshot"
    done
    unset "mine[$$]"
    echo "${!mine[@]}"
}
cleanup() {
    local rc=$? pids p
    trap - EXIT INT TERM
    pids=""
    for p in $(descendants); do
        kill -0 "$p" 2>/dev/null && pids+=" $p"
    done
    if [[ -n "$pids" ]]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        sleep 1
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- stage runner ----------------------------------------------------------------------
PASSED=()
FAILED=()
SKIPPED=()
declare -A RESULT=()

# run_stage NAME [REQUIRED_STAGE...]: runs stage_NAME (dashes become underscores) in a
# subshell with errexit, unless a required stage did not pass.
run_stage() {
    local name=$1 fn="stage_${1//-/_}" req rc t0
    shift
    if [[ -n "${FMI_TEST_STAGES:-}" && " $FMI_TEST_STAGES " != *" $name "* ]]; then
        return 0
    fi
    for req in "$@"; do
        if [[ -n "${FMI_TEST_STAGES:-}" && " $FMI_TEST_STAGES " != *" $req "* ]]; then
            continue # not selected: assume it is satisfied
        fi
        if [[ "${RESULT[$req]:-}" != passed ]]; then
            echo "==> $name: SKIPPED (needs $req)"
            SKIPPED+=("$name")
            RESULT[$name]=skipped
            return 0
        fi
    done
    echo
    echo "==> $name"
    t0=$SECONDS
    set +e
    (set -euo pipefail; "$fn")
    rc=$?
    set -e
    if [[ $rc -eq 77 ]]; then
        echo "<== $name: SKIPPED ($(cat "$WORK/$name.skip" 2>/dev/null || echo "no reason given"))"
        SKIPPED+=("$name")
        RESULT[$name]=skipped
    elif [[ $rc -eq 0 ]]; then
        echo "<== $name: passed ($((SECONDS - t0)) s)"
        PASSED+=("$name")
        RESULT[$name]=passed
    else
        echo "<== $name: FAILED (exit $rc, $((SECONDS - t0)) s)"
        FAILED+=("$name")
        RESULT[$name]=failed
    fi
}

# ---- stages ----------------------------------------------------------------------------
stage_deps() {
    "$REPO/scripts/deps.sh"
    # the S3-compatible server the S3 channel's tests run against (built once, cached)
    "$REPO/scripts/s3-server.sh" install
}

stage_fmt() {
    cargo fmt --all -- --check
}

stage_clippy() {
    cargo clippy --workspace --all-targets -- -D warnings
}

stage_cargo_test() {
    cargo test --release --workspace
}

stage_install() {
    "$REPO/scripts/install.sh" --prefix "$PREFIX"
}

stage_c_tests() {
    local build="$WORK/c-tests" exe
    cmake -S "$REPO/c-tests" -B "$build" -DCMAKE_PREFIX_PATH="$PREFIX"
    cmake --build "$build" -j "$NPROC"
    # programs must find libfmi.so through their RPATH, without LD_LIBRARY_PATH
    if command -v readelf >/dev/null 2>&1; then
        exe="$build/p2p"
        readelf -d "$exe" | grep -q 'NEEDED.*\[libfmi\.so\]' ||
            { echo "c-tests: $exe does not record libfmi.so as NEEDED by its plain name" >&2; readelf -d "$exe" >&2; return 1; }
        readelf -d "$exe" | grep -Eq "R(UN)?PATH.*$PREFIX/lib" ||
            { echo "c-tests: $exe has no RPATH/RUNPATH to $PREFIX/lib" >&2; return 1; }
    fi
    # shellcheck disable=SC2086
    (cd "$build" && env -u LD_LIBRARY_PATH ctest --output-on-failure -j "${FMI_CTEST_JOBS:-1}" ${FMI_CTEST_ARGS:-})
}

stage_channels() {
    "$REPO/scripts/channel-test.sh" --prefix "$PREFIX" --build "$WORK/c-tests"
}

stage_pkg_config() {
    local dir="$WORK/pkg-config" flags out
    mkdir -p "$dir"
    cat > "$dir/hello.c" <<'C'
#include <fmi.h>
#include <stdio.h>
int main(void)
{
    FMI_Comm c = NULL;
    int rank = -1, size = 0, got = -1, rc;
    if ((rc = FMI_Comm_from_env(&c)) != FMI_SUCCESS) {
        fprintf(stderr, "FMI_Comm_from_env: %s: %s\n", FMI_Error_string(rc), FMI_Last_error());
        return 1;
    }
    FMI_Comm_rank(c, &rank);
    FMI_Comm_size(c, &size);
    rc = FMI_Sendrecv(&rank, 1, (rank + 1) % size, 0, &got, 1, (rank + size - 1) % size, 0,
                      FMI_INT32, c, NULL);
    if (rc != FMI_SUCCESS || got != (rank + size - 1) % size) {
        fprintf(stderr, "rank %d: Sendrecv rc %d got %d: %s\n", rank, rc, got, FMI_Last_error());
        return 1;
    }
    if (FMI_Barrier(c) != FMI_SUCCESS || FMI_Comm_free(&c) != FMI_SUCCESS)
        return 1;
    printf("pkg-config hello: rank %d of %d ok\n", rank, size);
    return 0;
}
C
    export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
    pkg-config --exists --print-errors fmi
    echo "pkg-config: fmi $(pkg-config --modversion fmi): $(pkg-config --cflags --libs fmi)"
    flags=$(pkg-config --cflags --libs fmi)
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror -o "$dir/hello" "$dir/hello.c" $flags
    out=$(cd "$dir" && env -u LD_LIBRARY_PATH timeout 120 "$PREFIX/bin/fmirun" -n 2 -- ./hello)
    echo "$out"
    [[ $(grep -c 'ok$' <<<"$out") -eq 2 ]] || { echo "pkg-config: expected 2 ranks to report ok" >&2; return 1; }
}

stage_nat() {
    local rc=0
    "$REPO/scripts/nat-test.sh" --prefix "$PREFIX" --build "$WORK/c-tests" 2>&1 |
        tee "$WORK/nat-test.out" || rc=$?
    if [[ $rc -eq 0 ]] && grep -q '^nat-test.sh: skipped: ' "$WORK/nat-test.out"; then
        sed -n 's/^nat-test.sh: skipped: //p' "$WORK/nat-test.out" | head -n 1 > "$WORK/nat.skip"
        return 77
    fi
    return "$rc"
}

stage_mpi_abi() {
    python3 "$REPO/mpi-shim/gen/gen_abi.py" --check
    "$REPO/scripts/mpi-abi-check.sh" "$PREFIX/lib/libfmi_mpi.so"
}

stage_mpi() {
    # MPI programs built with MPICH's mpicc: real MPICH, and the shim by LD_PRELOAD
    # under fmirun and under mpiexec; outputs must be identical.
    FMI_PREFIX="$PREFIX" "$REPO/scripts/mpi-test.sh"
}

stage_mpi_direct() {
    # The same programs built against the shim itself (fmicc), not MPICH; and what
    # only the shim does.
    local dir="$WORK/mpi-direct" p n out ref
    mkdir -p "$dir"
    for p in p2p coll; do
        "$PREFIX/bin/fmicc" -std=c11 -O2 -Wall -Wextra -Werror -o "$dir/$p" "$REPO/mpi-shim/tests/programs/$p.c"
        if command -v readelf >/dev/null 2>&1; then
            readelf -d "$dir/$p" | grep -q 'NEEDED.*\[libfmi_mpi\.so\]' ||
                { echo "mpi-direct: $p does not link libfmi_mpi.so" >&2; return 1; }
            if readelf -d "$dir/$p" | grep -q 'NEEDED.*libmpi'; then
                echo "mpi-direct: $p links a real MPI library" >&2; return 1
            fi
        fi
        for n in 1 3; do
            ref=$(cd "$dir" && timeout 120 mpiexec -launcher fork -n "$n" env LD_PRELOAD="$PREFIX/lib/libfmi_mpi.so" "$dir/$p") ||
                { echo "mpi-direct: $p -n $n under mpiexec failed" >&2; return 1; }
            out=$(cd "$dir" && env -u LD_LIBRARY_PATH timeout 120 "$PREFIX/bin/fmirun" -n "$n" -- "$dir/$p") ||
                { echo "mpi-direct: $p -n $n under fmirun failed" >&2; return 1; }
            [[ "$out" == "$ref" ]] || { echo "mpi-direct: $p -n $n: output differs" >&2; diff <(echo "$ref") <(echo "$out") >&2; return 1; }
            echo "mpi-direct: $p -n $n ok"
        done
    done
    # Functions the shim does not implement (windows, graph topologies, MPI-IO,
    # MPI_Info) fail loudly, with LD_PRELOAD over an
    # MPICH binary too: MPI_ERR_OTHER naming the function, or the end of the job.
    mpicc -Wall -Wextra -Werror -o "$dir/unsupported" "$REPO/mpi-shim/tests/shim-only/unsupported.c"
    out=$(env -u LD_LIBRARY_PATH timeout 120 "$PREFIX/bin/fmirun" -n 2 -- \
        env LD_PRELOAD="$PREFIX/lib/libfmi_mpi.so" "$dir/unsupported")
    [[ $(grep -c '^unsupported: rank [01] ok$' <<<"$out") -eq 2 ]] ||
        { echo "mpi-direct: unsupported functions did not fail as they should: $out" >&2; return 1; }
    if env -u LD_LIBRARY_PATH timeout 120 "$PREFIX/bin/fmirun" -n 2 -- \
        env LD_PRELOAD="$PREFIX/lib/libfmi_mpi.so" "$dir/unsupported" fatal 2>"$dir/fatal.err"; then
        echo "mpi-direct: an unsupported call under MPI_ERRORS_ARE_FATAL did not end the job" >&2; return 1
    fi
    grep -q 'MPI_Win_create is not supported' "$dir/fatal.err" ||
        { echo "mpi-direct: no message naming the unsupported function" >&2; cat "$dir/fatal.err" >&2; return 1; }
    echo "mpi-direct: unsupported functions fail loudly (returned and fatal) ok"
}

stage_mpi4py() {
    # a third-party MPI library, unmodified, built against MPICH, run on the shim
    "$REPO/scripts/mpi4py-test.sh" --prefix "$PREFIX"
}

stage_hybrid() {
    "$REPO/scripts/hybrid-test.sh" --prefix "$PREFIX"
}

stage_python() {
    "$REPO/scripts/python-test.sh" --prefix "$PREFIX"
}

stage_demo() {
    env -u LD_LIBRARY_PATH "$REPO/scripts/demo.sh" --prefix "$PREFIX"
}

# ---- the suite -----------------------------------------------------------------------
run_stage deps
run_stage fmt deps
run_stage clippy deps
run_stage cargo-test deps
run_stage install deps
run_stage c-tests install
run_stage nat c-tests
run_stage channels c-tests
run_stage pkg-config install
run_stage mpi-abi install
run_stage mpi install
run_stage mpi-direct install
run_stage mpi4py install
run_stage hybrid install
run_stage python install
run_stage demo install

echo
[[ ${#PASSED[@]} -gt 0 ]] && echo "passed:  ${PASSED[*]}"
[[ ${#FAILED[@]} -gt 0 ]] && echo "FAILED:  ${FAILED[*]}"
[[ ${#SKIPPED[@]} -gt 0 ]] && echo "skipped: ${SKIPPED[*]}"
summary="test.sh: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
[[ ${#SKIPPED[@]} -gt 0 ]] && summary+=", ${#SKIPPED[@]} skipped"
echo "$summary"
[[ ${#FAILED[@]} -eq 0 ]]
