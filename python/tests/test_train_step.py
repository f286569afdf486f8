"""The issue's check: a data-parallel logistic regression step in Python (NumPy
gradients averaged by allreduce, workers/train_step.py) gives the weights of the same
step in C (train_step.c, built with cc against the installed libfmi via pkg-config)."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import HERE, WORKERS

TOL = 1e-12


@pytest.fixture(scope="module")
def c_program(fmi_install, tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler (cc) for train_step.c")
    if shutil.which("pkg-config") is None:
        pytest.fail("no pkg-config (apt-get install pkg-config)")
    env = dict(fmi_install.env)
    env["PKG_CONFIG_PATH"] = os.path.join(fmi_install.prefix, "lib", "pkgconfig")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fmi"], env=env, check=True,
                           stdout=subprocess.PIPE, text=True).stdout.split()
    exe = str(tmp_path_factory.mktemp("train") / "train_step")
    # no FMA contraction: the C side computes exactly what its source says
    subprocess.run([cc, "-O2", "-ffp-contract=off", "-o", exe,
                    os.path.join(HERE, "train_step.c")] + flags + ["-lm"],
                   env=env, check=True)
    return exe


def parse(out):
    vals = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("W", "B", "LOSS"):
            key = parts[0] + (parts[1] if parts[0] == "W" else "")
            vals[key] = float(parts[-1])
    return vals


@pytest.mark.parametrize("n", [1, 3, 4])
def test_python_step_matches_c(fmirun, c_program, n):
    pc = fmirun(n, [c_program])
    assert pc.returncode == 0, pc.stdout
    pp = fmirun(n, [sys.executable, os.path.join(WORKERS, "train_step.py")])
    assert pp.returncode == 0, pp.stdout
    c, py = parse(pc.stdout), parse(pp.stdout)
    assert len(c) == 8 and set(c) == set(py), (pc.stdout, pp.stdout)
    worst = max(abs(c[k] - py[k]) / max(1.0, abs(c[k])) for k in c)
    exact = sum(c[k] == py[k] for k in c)
    print("n=%d: %d of %d values bit-identical, largest relative difference %.3g"
          % (n, exact, len(c), worst))
    assert worst <= TOL, "C:\n%s\nPython:\n%s" % (pc.stdout, pp.stdout)
    # and the model learned something (the labels are far from random)
    assert c["LOSS"] < 0.4
