#!/usr/bin/env bash
# Build FMI and install it into a prefix.
#
#   scripts/install.sh --prefix DIR [--debug] [--no-build]
#
# Layout:
#   DIR/lib/libfmi.so, DIR/lib/libfmi.a         (and libfmi_mpi.so when the MPI shim is built)
#   DIR/include/fmi.h, fmi.hpp
#   DIR/include/fmi-mpi/mpi.h, DIR/bin/fmicc    (the MPI shim's header and compiler wrapper)
#   DIR/bin/fmirun, DIR/bin/fmi-rendezvous      (and fmi-bench, fmi-calibrate)
#   DIR/lib/cmake/FMI/FMIConfig.cmake, FMIConfigVersion.cmake   -> find_package(FMI)
#   DIR/lib/pkgconfig/fmi.pc                    -> pkg-config --cflags --libs fmi
#   DIR/lib/pkgconfig/fmi-mpi.pc                -> pkg-config --cflags --libs fmi-mpi
#
# Both the CMake targets and fmi.pc put DIR/lib into the RPATH of what links them, so
# programs find libfmi.so at run time without LD_LIBRARY_PATH.
# Honours CARGO_TARGET_DIR (default: target/ in the repository).
# --debug installs the debug profile; --no-build installs what is already built.
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

PREFIX=""
PROFILE=release
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
                  PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --debug) PROFILE=debug; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ -n "$PREFIX" ]] || { echo "install.sh: --prefix DIR is required" >&2; usage >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Relative paths (prefix, CARGO_TARGET_DIR) are taken relative to the caller's cwd.
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$PWD/$TARGET_DIR"
export CARGO_TARGET_DIR="$TARGET_DIR"

VERSION=$(awk '
    /^\[/ { in_pkg = ($0 == "[package]") }
    in_pkg && /^version[ \t]*=/ { gsub(/.*=[ \t]*"|".*/, ""); print; exit }
' "$REPO/Cargo.toml")
[[ -n "$VERSION" ]] || { echo "install.sh: could not read the version from Cargo.toml" >&2; exit 1; }
VERSION_MAJOR=${VERSION%%.*}

if [[ $BUILD -eq 1 ]]; then
    echo "install.sh: building FMI $VERSION ($PROFILE) in $TARGET_DIR"
    if [[ $PROFILE == release ]]; then
        (cd "$REPO" && cargo build --release --workspace)
    else
        (cd "$REPO" && cargo build --workspace)
    fi
fi

OUT="$TARGET_DIR/$PROFILE"
missing=()
for f in "$OUT/libfmi.so" "$OUT/libfmi.a" "$OUT/libfmi_mpi.so" "$OUT/fmirun" "$OUT/fmi-rendezvous" "$REPO/include/fmi.h"; do
    [[ -f "$f" ]] || missing+=("$f")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "install.sh: missing build outputs: ${missing[*]}" >&2
    exit 1
fi

echo "install.sh: installing into $PREFIX"
install -d "$PREFIX/lib" "$PREFIX/include" "$PREFIX/bin" "$PREFIX/lib/cmake/FMI" "$PREFIX/lib/pkgconfig"

install -m 0755 "$OUT/libfmi.so" "$PREFIX/lib/libfmi.so"
install -m 0644 "$OUT/libfmi.a" "$PREFIX/lib/libfmi.a"
install -m 0644 "$REPO/include/fmi.h" "$PREFIX/include/fmi.h"
[[ -f "$REPO/include/fmi.hpp" ]] && install -m 0644 "$REPO/include/fmi.hpp" "$PREFIX/include/fmi.hpp"
# The MPI shim: library, its own mpi.h in a directory of its own (so that a program
# built with a real MPI and FMI's include directory still finds that MPI's mpi.h),
# fmicc, and fmi-mpi.pc.
if [[ -f "$OUT/libfmi_mpi.so" ]]; then
    install -m 0755 "$OUT/libfmi_mpi.so" "$PREFIX/lib/libfmi_mpi.so"
    install -d "$PREFIX/include/fmi-mpi"
    for h in "$REPO/mpi-shim/include/"*.h; do
        install -m 0644 "$h" "$PREFIX/include/fmi-mpi/$(basename "$h")"
    done
fi
for b in fmirun fmi-rendezvous fmi-bench fmi-calibrate; do
    [[ -f "$OUT/$b" ]] && install -m 0755 "$OUT/$b" "$PREFIX/bin/$b"
done

# CMake package and pkg-config file from the templates in cmake/.
subst() {
    sed -e "s|@FMI_VERSION@|$VERSION|g" \
        -e "s|@FMI_VERSION_MAJOR@|$VERSION_MAJOR|g" \
        -e "s|@PREFIX@|$PREFIX|g" "$1" > "$2"
}
subst "$REPO/cmake/FMIConfig.cmake.in" "$PREFIX/lib/cmake/FMI/FMIConfig.cmake"
subst "$REPO/cmake/FMIConfigVersion.cmake.in" "$PREFIX/lib/cmake/FMI/FMIConfigVersion.cmake"
subst "$REPO/cmake/fmi.pc.in" "$PREFIX/lib/pkgconfig/fmi.pc"
if [[ -f "$PREFIX/lib/libfmi_mpi.so" ]]; then
    subst "$REPO/cmake/fmi-mpi.pc.in" "$PREFIX/lib/pkgconfig/fmi-mpi.pc"
    subst "$REPO/cmake/fmicc.in" "$PREFIX/bin/fmicc"
    chmod 0755 "$PREFIX/bin/fmicc"
fi

echo "install.sh: installed FMI $VERSION into $PREFIX"
echo "  CMake:      -DCMAKE_PREFIX_PATH=$PREFIX   then find_package(FMI) -> FMI::fmi"
echo "  pkg-config: PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs fmi"
echo "  run:        $PREFIX/bin/fmirun -n 4 -- ./program"
