#!/usr/bin/env bash
# Build FMI, install it into build/prefix, build examples/demo against it and run it on 4
# ranks. Works on a fresh machine as root (scripts/deps.sh installs what is missing).
#
#   scripts/demo.sh
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

PREFIX="$REPO/build/prefix"
BUILD="$REPO/build/demo"

echo "demo.sh: checking dependencies"
scripts/deps.sh
echo "demo.sh: building and installing FMI into $PREFIX"
scripts/install.sh --prefix "$PREFIX"
echo "demo.sh: building the demo in $BUILD"
cmake -S examples/demo -B "$BUILD" -DCMAKE_PREFIX_PATH="$PREFIX"
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)"
echo "demo.sh: running: $PREFIX/bin/fmirun -n 4 -- $BUILD/demo"
exec "$PREFIX/bin/fmirun" -n 4 -- "$BUILD/demo"
