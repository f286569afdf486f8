#!/usr/bin/env bash
# Tests of the Python package (python/) and the deployment examples (examples/aws-lambda,
# examples/kubernetes), as a user would meet them: a fresh virtualenv in a temporary
# directory, `pip install numpy pytest pyyaml ./python` from PyPI, then pytest on
# python/tests against an FMI install (outside the source tree, so the installed
# package is what is tested).
#
#   scripts/python-test.sh [--prefix DIR] [-- PYTEST_ARGS...]
#
# --prefix DIR   an FMI install (scripts/install.sh --prefix DIR). Default: one is made
#                in the temporary directory with scripts/install.sh (a cargo build;
#                honours CARGO_TARGET_DIR).
# FMI_PY_TEST_LINT=1 also installs cfn-lint and kubernetes-validate (about 300 MB) and
# lints the SAM template and the Kubernetes manifests; otherwise those two tests skip.
# Everything in the temporary directory is removed at the end. The exit code is
# non-zero if anything failed (including pytest finding no tests).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=""
PYTEST_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || { echo "python-test.sh: --prefix needs a directory" >&2; exit 2; }
                  PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "python-test.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || { echo "python-test.sh: no $PYTHON" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmi-python-test.XXXXXX")
cleanup() {
    local rc=$?
    rm -rf "$WORK"
    # pip builds ./python in place; leave the tree as it was
    rm -rf "$REPO/python/build" "$REPO/python/fmi.egg-info"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "$PREFIX" ]]; then
    PREFIX="$WORK/prefix"
    echo "python-test.sh: installing FMI into $PREFIX"
    "$REPO/scripts/install.sh" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 || {
        tail -n 40 "$WORK/install.log" >&2
        echo "python-test.sh: scripts/install.sh failed" >&2
        exit 1
    }
fi
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
for f in lib/libfmi.so bin/fmirun bin/fmi-rendezvous lib/pkgconfig/fmi.pc; do
    [[ -e "$PREFIX/$f" ]] || { echo "python-test.sh: $PREFIX/$f is missing (not an FMI install?)" >&2; exit 1; }
done

echo "python-test.sh: virtualenv in $WORK/venv"
"$PYTHON" -m venv "$WORK/venv" || {
    echo "python-test.sh: '$PYTHON -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
}
PIP=("$WORK/venv/bin/python" -m pip --disable-pip-version-check -q)
rm -rf "$REPO/python/build" "$REPO/python/fmi.egg-info"
"${PIP[@]}" install numpy pytest pyyaml "$REPO/python"
if [[ "${FMI_PY_TEST_LINT:-0}" == 1 ]]; then
    "${PIP[@]}" install cfn-lint kubernetes-validate
fi

echo "python-test.sh: pytest python/tests against $PREFIX"
cd "$WORK"   # not the source tree: `import fmi` must find the installed package
set +e
env FMI_PREFIX="$PREFIX" PATH="$PREFIX/bin:$PATH" FMI_PY_TEST_INSTALLED=1 \
    PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
    "$WORK/venv/bin/python" -m pytest -p no:cacheprovider -q -rs \
    "$REPO/python/tests" ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"}
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
    echo "python-test.sh: pytest failed (exit $rc)" >&2
    exit 1
fi
echo "python-test.sh: passed"
