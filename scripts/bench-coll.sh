#!/usr/bin/env bash
# Collective latency, FMI against MPICH's TCP path, side by side.
#
#   scripts/bench-coll.sh [--prefix DIR] [--ranks "2 4 8"] [--max BYTES] [--scale N]
#
# Builds bench/coll_bench.c twice: against FMI (an install made by scripts/install.sh
# --prefix DIR, or else target/release/libfmi.so with -Iinclude) and with mpicc
# -DUSE_MPI against MPICH (Debian: apt-get install mpich libmpich-dev). Runs both at
# each rank count (fmirun -n N / mpiexec -n N with UCX_TLS=tcp,self) and prints one
# table: microseconds per call and the FMI/MPICH ratio (below 1: FMI is faster).
# --scale N (default 256) adds a run of N FMI ranks: barrier, 8 B allreduce, bcast and
# alltoall blocks, time per op; --scale 0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="" ranks="2 4 8" max=$((16 << 20)) scale=256
while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --max) max=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
out=${BENCH_DIR:-$(mktemp -d /tmp/fmi-bench-coll.XXXXXX)}
mkdir -p "$out"

if [ -n "$prefix" ]; then
    inc="$prefix/include" lib="$prefix/lib" fmirun="$prefix/bin/fmirun"
else
    tgt=${CARGO_TARGET_DIR:-target}
    cargo build --release --lib --bins >&2
    inc="include" lib="$tgt/release" fmirun="$tgt/release/fmirun"
fi
cc -O2 -Wall -I"$inc" bench/coll_bench.c -o "$out/coll_bench_fmi" -L"$lib" -lfmi -Wl,-rpath,"$(cd "$lib" && pwd)"
have_mpi=0
if command -v mpicc >/dev/null && command -v mpiexec >/dev/null; then
    mpicc -O2 -DUSE_MPI bench/coll_bench.c -o "$out/coll_bench_mpi" && have_mpi=1
else
    echo "MPICH not found (apt-get install mpich libmpich-dev): FMI only" >&2
fi

: >"$out/results"
for n in $ranks; do
    echo "running $n ranks ..." >&2
    "$fmirun" -n "$n" -- "$out/coll_bench_fmi" "$max" >>"$out/results"
    if [ $have_mpi = 1 ]; then
        UCX_TLS=tcp,self mpiexec -n "$n" "$out/coll_bench_mpi" "$max" >>"$out/results"
    fi
done

awk '
{ key = $2 " " $3 " " $4; t[$1, key] = $5; if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
END {
    printf "%5s %-10s %10s %12s %12s %7s\n", "ranks", "op", "bytes", "fmi us", "mpich us", "ratio"
    for (i = 1; i <= k; i++) {
        split(order[i], f, " ")
        a = t["fmi", order[i]]; b = t["mpich", order[i]]
        r = (a != "" && b != "" && b > 0) ? sprintf("%.2f", a / b) : "-"
        printf "%5s %-10s %10s %12s %12s %7s\n", f[1], f[2], f[3], a == "" ? "-" : a, b == "" ? "-" : b, r
    }
}' "$out/results"

if [ "$scale" -gt 0 ]; then
    echo "running $scale FMI ranks (scale) ..." >&2
    "$fmirun" -n "$scale" -- "$out/coll_bench_fmi" --scale 10
fi
echo "raw results: $out/results" >&2
