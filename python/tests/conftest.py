"""Shared fixtures: where FMI is installed and how to run a job under fmirun.

The tests need an FMI install: FMI_PREFIX=DIR (scripts/install.sh --prefix DIR), or
`fmirun` on PATH. scripts/python-test.sh sets this up in a fresh virtualenv.
"""

import os
import shutil
import subprocess
import sys
import types

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "workers")
REPO = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="session")
def fmi_install():
    prefix = os.environ.get("FMI_PREFIX")
    if prefix:
        bindir = os.path.join(prefix, "bin")
    else:
        found = shutil.which("fmirun")
        bindir = os.path.dirname(found) if found else None
        prefix = os.path.dirname(bindir) if bindir else None
    fmirun = os.path.join(bindir, "fmirun") if bindir else None
    if not fmirun or not os.path.exists(fmirun):
        pytest.fail("no FMI install: set FMI_PREFIX=DIR (scripts/install.sh --prefix DIR) "
                    "or put fmirun on PATH")
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["FMI_PREFIX"] = prefix
    env.setdefault("FMI_TIMEOUT_MS", "30000")
    env["PYTHONUNBUFFERED"] = "1"
    for k in ("FMI_RANK", "FMI_SIZE", "FMI_JOB", "FMI_RENDEZVOUS", "FMI_TOKEN",
              "JOB_COMPLETION_INDEX", "PMI_RANK", "PMI_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        env.pop(k, None)
    return types.SimpleNamespace(
        prefix=prefix, bindir=bindir, fmirun=fmirun,
        rendezvous=os.path.join(bindir, "fmi-rendezvous"), env=env,
    )


def run(cmd, env, timeout=120, cwd=None):
    """Runs cmd; returns the CompletedProcess (text), with output on failure in asserts."""
    return subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


@pytest.fixture
def fmirun(fmi_install, tmp_path):
    """fmirun(n, argv, timeout=..., env=...) -> CompletedProcess; a whole job."""

    def go(n, argv, timeout=120, env=None, dashdash=False, prefix=False):
        e = dict(fmi_install.env)
        if env:
            e.update(env)
        cmd = [fmi_install.fmirun, "-n", str(n), "--timeout", str(timeout - 10)]
        if prefix:  # "[rank R] " before every line (and whole lines only)
            cmd.append("--prefix")
        if dashdash:
            cmd.append("--")
        return run(cmd + list(argv), e, timeout=timeout, cwd=str(tmp_path))

    return go


def python():
    return sys.executable
