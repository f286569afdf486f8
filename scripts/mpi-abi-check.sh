#!/usr/bin/env bash
# Checks that the MPI shim (mpi-shim/, libfmi_mpi.so) has MPICH's ABI:
#
#   1. constants and types: a C program generated from MPICH's headers
#      (mpi-shim/gen/gen_abi.py --check-program) prints every MPI_/MPIX_ constant of
#      mpi.h and mpio.h (integer expressions, handles, pointer sentinels as integers,
#      strings, empty and function-like macros as "defined"), the size (and
#      signedness) of every MPI type and the offset of every MPI_Status field. It is
#      built once with MPICH's mpicc and once with `gcc -I mpi-shim/include`; the two
#      outputs must be identical. The function declarations of both headers
#      (preprocessed) must be identical too, and the shim's header must compile
#      cleanly as C99, C17 and C++.
#   2. exports: `nm -D --defined-only` of libfmi_mpi.so must show every function of
#      MPICH's prototypes as MPI_x and PMPI_x (MPIR_Dup_fn for MPI_DUP_FN), and the
#      data objects of mpi.h.
#   3. the C programs of mpi-shim/tests/programs/ compile against the shim's header.
#
#   scripts/mpi-abi-check.sh [path/to/libfmi_mpi.so]
#
# The library defaults to $FMI_MPI_LIB or target/release/libfmi_mpi.so (under
# $CARGO_TARGET_DIR if set); build it first (cargo build --release -p fmi-mpi).
# MPICH_INCLUDE (default /usr/include/x86_64-linux-gnu/mpich), MPICC (mpicc), CC (gcc)
# and CXX (g++) can be overridden. Prints a summary; exits non-zero if a check fails.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

GEN=mpi-shim/gen/gen_abi.py
INC=mpi-shim/include
MPICH_INCLUDE=${MPICH_INCLUDE:-/usr/include/x86_64-linux-gnu/mpich}
export MPICH_INCLUDE
MPICC=${MPICC:-mpicc}
CC=${CC:-gcc}
CXX=${CXX:-g++}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
LIB=${1:-${FMI_MPI_LIB:-$TARGET_DIR/release/libfmi_mpi.so}}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mpi-abi-check.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

failed=0
summary=()
pass() { summary+=("PASS  $1"); }
fail() { summary+=("FAIL  $1"); failed=1; }
skip() { summary+=("SKIP  $1"); }
say() { printf '%s\n' "$*"; }

# ---- 1. constants, types and declarations -------------------------------------------
say "== 1. constants and types: MPICH's mpi.h against $INC/mpi.h"
if ! command -v "$MPICC" >/dev/null 2>&1; then
    fail "1. constants: $MPICC not found (MPICH's compiler wrapper, package mpich)"
elif ! n_checked=$(python3 "$GEN" --check-program "$TMP/abi.c"); then
    fail "1. constants: gen_abi.py --check-program failed"
else
    ok=1
    if ! "$MPICC" -o "$TMP/abi-mpich" "$TMP/abi.c" 2>"$TMP/mpich.err"; then
        cat "$TMP/mpich.err"
        fail "1. constants: the check program does not build with $MPICC"
        ok=0
    elif ! "$CC" -Wall -I "$INC" -o "$TMP/abi-shim" "$TMP/abi.c" 2>"$TMP/shim.err"; then
        cat "$TMP/shim.err"
        fail "1. constants: the check program does not build against $INC/mpi.h"
        ok=0
    fi
    # The right header each time: the shim's defines FMI_MPI_SHIM, MPICH's MPICH_VERSION.
    if [[ $ok == 1 ]]; then
        echo '#include <mpi.h>' >"$TMP/which.c"
        "$CC" -I "$INC" -E -dM "$TMP/which.c" >"$TMP/which-shim" 2>&1
        "$MPICC" -E -dM "$TMP/which.c" >"$TMP/which-mpich" 2>&1
        if ! grep -q '^#define FMI_MPI_SHIM ' "$TMP/which-shim"; then
            fail "1. constants: $CC -I $INC does not pick up the shim's mpi.h"
            ok=0
        fi
        if ! grep -q '^#define MPICH_VERSION ' "$TMP/which-mpich"; then
            fail "1. constants: $MPICC does not pick up MPICH's mpi.h"
            ok=0
        fi
    fi
    if [[ $ok == 1 ]]; then
        "$TMP/abi-mpich" >"$TMP/mpich.out" && "$TMP/abi-shim" >"$TMP/shim.out"
        lines=$(wc -l <"$TMP/mpich.out")
        if diff -u --label "MPICH's mpi.h" --label "$INC/mpi.h" "$TMP/mpich.out" "$TMP/shim.out" >"$TMP/diff"; then
            pass "1. constants: $n_checked values ($lines lines) identical with MPICH's header and the shim's"
        else
            sed -n '1,60p' "$TMP/diff"
            fail "1. constants: $(grep -c '^[-+][^-+]' "$TMP/diff") lines differ between MPICH's header and the shim's"
        fi
    fi

    # Function declarations, as the compiler sees them.
    echo '#include <mpi.h>' >"$TMP/decl.c"
    if "$MPICC" -E -P "$TMP/decl.c" >"$TMP/decl-mpich.i" 2>"$TMP/err" &&
        "$CC" -I "$INC" -E -P "$TMP/decl.c" >"$TMP/decl-shim.i" 2>>"$TMP/err"; then
        if out=$(python3 "$GEN" --compare-protos "$TMP/decl-mpich.i" "$TMP/decl-shim.i"); then
            pass "1. declarations: ${out##*$'\n'}"
        else
            printf '%s\n' "$out" | sed -n '1,40p'
            fail "1. declarations: ${out##*$'\n'}"
        fi
    else
        cat "$TMP/err"
        fail "1. declarations: preprocessing mpi.h failed"
    fi

    # The shim's header alone: clean in C99, C17 and C++.
    printf '#include <mpi.h>\nint main(void) { return MPI_SUCCESS; }\n' >"$TMP/hdr.c"
    hdr_ok=1
    for std in c99 c17; do
        if ! "$CC" -std=$std -Wall -Wextra -Werror -I "$INC" -fsyntax-only "$TMP/hdr.c" 2>"$TMP/err"; then
            cat "$TMP/err"
            fail "1. header: $INC/mpi.h does not compile cleanly with -std=$std -Wall -Wextra"
            hdr_ok=0
        fi
    done
    if command -v "$CXX" >/dev/null 2>&1; then
        if ! "$CXX" -x c++ -Wall -Wextra -Werror -I "$INC" -fsyntax-only "$TMP/hdr.c" 2>"$TMP/err"; then
            cat "$TMP/err"
            fail "1. header: $INC/mpi.h does not compile cleanly as C++"
            hdr_ok=0
        fi
        cxx="C++ and "
    else
        cxx=""
    fi
    [[ $hdr_ok == 1 ]] && pass "1. header: $INC/mpi.h compiles cleanly as ${cxx}C (c99, c17; -Wall -Wextra)"
fi

# ---- 2. exports -------------------------------------------------------------------------
say "== 2. exports of $LIB"
if [[ ! -f "$LIB" ]]; then
    fail "2. exports: $LIB not found (cargo build --release -p fmi-mpi, or pass the path)"
elif ! python3 "$GEN" --list-exports >"$TMP/want"; then
    fail "2. exports: gen_abi.py --list-exports failed"
else
    nm -D --defined-only "$LIB" | awk 'NF == 3 { print $2, $3 }' >"$TMP/have"
    # F: a function (T, or W/i); D: a data object (D, B, R, or V/u).
    missing=$(awk '
        NR == FNR { t = $1; if (t ~ /^[TWi]$/) fn[$2] = 1; else if (t ~ /^[DBRVu]$/) data[$2] = 1; next }
        $1 == "F" && !($2 in fn) { print "function " $2 }
        $1 == "D" && !($2 in data) { print "data     " $2 }
    ' "$TMP/have" "$TMP/want")
    n_f=$(grep -c '^F ' "$TMP/want")
    n_d=$(grep -c '^D ' "$TMP/want")
    if [[ -z "$missing" ]]; then
        pass "2. exports: all $n_f function symbols (MPI_x and PMPI_x) and $n_d data objects of MPICH's ABI"
    else
        n_missing=$(printf '%s\n' "$missing" | wc -l)
        say "missing from $LIB:"
        printf '%s\n' "$missing" | sed 's/^/    /'
        fail "2. exports: $n_missing of $((n_f + n_d)) symbols missing from $LIB"
    fi
fi

# ---- 3. test programs ---------------------------------------------------------------------
say "== 3. mpi-shim/tests/programs/*.c against $INC/mpi.h"
shopt -s nullglob
progs=(mpi-shim/tests/programs/*.c)
if [[ ${#progs[@]} -eq 0 ]]; then
    skip "3. programs: no C program in mpi-shim/tests/programs/ yet"
else
    bad=0
    for p in "${progs[@]}"; do
        if "$CC" -std=gnu17 -I "$INC" -Werror=implicit-function-declaration \
            -Werror=incompatible-pointer-types -Werror=int-conversion \
            -c "$p" -o "$TMP/prog.o" 2>"$TMP/err"; then
            [[ -s "$TMP/err" ]] && cat "$TMP/err"
        else
            sed -n '1,30p' "$TMP/err"
            say "  $p: does not compile"
            bad=$((bad + 1))
        fi
    done
    if [[ $bad -eq 0 ]]; then
        pass "3. programs: ${#progs[@]} compile against $INC/mpi.h"
    else
        fail "3. programs: $bad of ${#progs[@]} do not compile against $INC/mpi.h"
    fi
fi

say ""
say "mpi-abi-check summary:"
printf '  %s\n' "${summary[@]}"
if [[ $failed -ne 0 ]]; then
    say "mpi-abi-check: FAILED"
    exit 1
fi
say "mpi-abi-check: ok"
