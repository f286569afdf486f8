#!/usr/bin/env bash
# Install the system tools FMI's build, install and tests need, idempotently.
#
#   scripts/deps.sh
#
# As root with apt-get: runs `apt-get update` once (only when something is missing) and
# installs the missing packages. Otherwise prints what is missing and exits non-zero.
# To add a dependency, add one `need_pkg COMMAND PACKAGE` line below.
set -euo pipefail

MISSING_PKGS=()
MISSING_CMDS=()

# need_pkg CMD PACKAGE: PACKAGE (a Debian package name) provides the command CMD.
need_pkg() {
    local cmd=$1 pkg=$2
    if ! command -v "$cmd" >/dev/null 2>&1; then
        MISSING_CMDS+=("$cmd")
        local p
        for p in "${MISSING_PKGS[@]:-}"; do
            [[ "$p" == "$pkg" ]] && return 0
        done
        MISSING_PKGS+=("$pkg")
    fi
}

# need_file PATH PACKAGE: PACKAGE provides the file PATH (headers, libraries).
need_file() {
    local file=$1 pkg=$2
    if [[ ! -e "$file" ]]; then
        MISSING_CMDS+=("$file")
        local p
        for p in "${MISSING_PKGS[@]:-}"; do
            [[ "$p" == "$pkg" ]] && return 0
        done
        MISSING_PKGS+=("$pkg")
    fi
}

# ---- the list: extend here ----------------------------------------------------------
need_pkg cmake      cmake
need_pkg pkg-config pkg-config
need_pkg g++        g++
need_pkg cc         gcc
need_pkg make       make
need_pkg mpicc      mpich           # the MPI shim's tests: real MPICH, mpicc, mpiexec
need_file /usr/include/x86_64-linux-gnu/mpich/mpi.h libmpich-dev
need_pkg readelf    binutils
need_pkg redis-server redis-server  # the Redis channel: tests, the demo, benchmarks
need_pkg redis-cli    redis-tools   # scripts/redis-server.sh
need_pkg curl         curl          # scripts/s3-server.sh (SigV4 requests, curl >= 7.75)
if [[ "$(id -u)" -eq 0 ]]; then # scripts/nat-test.sh (root only)
    need_pkg iptables iptables
    need_pkg ip       iproute2
    need_pkg ss       iproute2
fi
# --------------------------------------------------------------------------------------

# cargo is not a Debian package here (rustup's toolchain): check it, do not install it
CARGO_OK=1
if ! command -v cargo >/dev/null 2>&1; then
    CARGO_OK=0
    if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        echo "deps.sh: cargo is in $HOME/.cargo/bin but not on PATH; add it: export PATH=\"\$HOME/.cargo/bin:\$PATH\"" >&2
    else
        echo "deps.sh: cargo not found; install a Rust toolchain (>= 1.75) first" >&2
    fi
fi

if [[ ${#MISSING_PKGS[@]} -eq 0 ]]; then
    if [[ $CARGO_OK -eq 1 ]]; then
        echo "deps.sh: all dependencies present"
        exit 0
    fi
    exit 1
fi

echo "deps.sh: missing: ${MISSING_CMDS[*]} (packages: ${MISSING_PKGS[*]})"
if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: cannot install them here (need root and apt-get); install: ${MISSING_PKGS[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: apt-get update"
apt-get update -qq
echo "deps.sh: apt-get install ${MISSING_PKGS[*]}"
apt-get install -y -qq --no-install-recommends "${MISSING_PKGS[@]}"

still=()
for c in "${MISSING_CMDS[@]}"; do
    if [[ "$c" == /* ]]; then [[ -e "$c" ]] || still+=("$c")
    else command -v "$c" >/dev/null 2>&1 || still+=("$c"); fi
done
if [[ ${#still[@]} -gt 0 ]]; then
    echo "deps.sh: still missing after install: ${still[*]}" >&2
    exit 1
fi
echo "deps.sh: installed ${MISSING_PKGS[*]}"
[[ $CARGO_OK -eq 1 ]]
