#!/usr/bin/env bash
# Regenerates include/fmi.h from the Rust sources with cbindgen.
set -euo pipefail
cd "$(dirname "$0")/.."
FMI_BLESS=1 cargo test --quiet --test header
echo "include/fmi.h regenerated"
