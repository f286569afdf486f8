#!/usr/bin/env bash
# mpi4py, built from PyPI with MPICH's mpicc (unmodified), on FMI's MPI shim.
#
#   scripts/mpi4py-test.sh [--prefix DIR]
#
# Makes a venv in a temp dir, `pip install --no-binary mpi4py mpi4py` (compiles it
# against MPICH's mpi.h; a few minutes), then runs mpi-shim/tests/mpi4py/smoke.py at
# 1 and 3 ranks with real MPICH and with the shim by LD_PRELOAD under fmirun and under
# mpiexec; the outputs must be identical. DIR (default: target/release of the
# repository) holds lib/libfmi_mpi.so and bin/fmirun.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=""
[[ "${1:-}" == "--prefix" ]] && PREFIX=$2
if [[ -n "$PREFIX" ]]; then
    SHIM="$PREFIX/lib/libfmi_mpi.so"; FMIRUN="$PREFIX/bin/fmirun"
else
    T="${CARGO_TARGET_DIR:-$REPO/target}/release"; SHIM="$T/libfmi_mpi.so"; FMIRUN="$T/fmirun"
fi
for f in "$SHIM" "$FMIRUN"; do
    [[ -e "$f" ]] || { echo "mpi4py-test.sh: $f is missing (build or install FMI first)" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmi-mpi4py.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
python3 -m venv "$WORK/venv"
echo "mpi4py-test.sh: building mpi4py against MPICH's mpicc (pip, from source)"
MPICC=mpicc "$WORK/venv/bin/pip" install -q --no-binary mpi4py mpi4py > "$WORK/pip.log" 2>&1 ||
    { cat "$WORK/pip.log" >&2; echo "mpi4py-test.sh: pip could not build mpi4py" >&2; exit 1; }
PY="$WORK/venv/bin/python"
SMOKE="$REPO/mpi-shim/tests/mpi4py/smoke.py"
fails=0
for n in 1 3; do
    ref=$(timeout 120 mpiexec -launcher fork -n "$n" "$PY" "$SMOKE") ||
        { echo "mpi4py-test.sh: MPICH run at $n ranks failed" >&2; exit 1; }
    grep -q '^mpi4py smoke: done$' <<<"$ref" || { echo "mpi4py-test.sh: MPICH run incomplete" >&2; exit 1; }
    for mode in fmirun mpiexec; do
        if [[ $mode == fmirun ]]; then
            got=$(timeout 120 "$FMIRUN" -n "$n" -- env LD_PRELOAD="$SHIM" "$PY" "$SMOKE") || true
        else
            got=$(timeout 120 mpiexec -launcher fork -n "$n" env LD_PRELOAD="$SHIM" "$PY" "$SMOKE") || true
        fi
        if [[ "$got" == "$ref" ]]; then
            echo "mpi4py-test.sh: $n ranks, shim under $mode: same output as MPICH"
        else
            echo "mpi4py-test.sh: $n ranks, shim under $mode: output differs from MPICH" >&2
            diff <(echo "$ref") <(echo "$got") >&2 || true
            fails=$((fails + 1))
        fi
    done
done
[[ $fails -eq 0 ]] && echo "mpi4py-test.sh: passed" || { echo "mpi4py-test.sh: $fails runs failed" >&2; exit 1; }
