"""The worker scripts in workers/ run as FMI jobs under fmirun at 1, 2, 3 and 4 ranks;
each rank prints "WORKER OK <name> rank R of N" when all its checks passed."""

import os
import re
import sys

import pytest

from conftest import WORKERS

WORKER_SCRIPTS = ["p2p", "coll", "coll_bytes", "ops", "errors", "comm", "nonumpy"]
RANKS = [1, 2, 3, 4]


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("worker", WORKER_SCRIPTS)
def test_worker(fmirun, worker, n):
    # `fmirun -n N python3 script.py`, as a user types it (no "--")
    p = fmirun(n, [sys.executable, os.path.join(WORKERS, worker + ".py")], prefix=True)
    ok = re.findall(r"^\[rank (\d+)\] WORKER OK %s rank \1 of %d$" % (worker, n), p.stdout, re.M)
    assert p.returncode == 0 and sorted(map(int, ok)) == list(range(n)), p.stdout


def test_fmirun_with_dashdash_and_failure_exit_code(fmirun, tmp_path):
    """A failing rank makes fmirun fail, naming it (the harness above relies on it)."""
    script = tmp_path / "fail.py"
    script.write_text(
        "import sys, fmi\n"
        "c = fmi.Communicator.from_env()\n"
        "c.barrier()\n"
        "sys.exit(3 if c.rank == 1 else 0)\n")
    p = fmirun(2, [sys.executable, str(script)], dashdash=True)
    assert p.returncode == 3, p.stdout
    assert "rank 1" in p.stdout, p.stdout


def test_abort_ends_every_rank(fmirun, tmp_path):
    """comm.abort(code) ends the whole job with that exit status."""
    script = tmp_path / "abort.py"
    script.write_text(
        "import fmi\n"
        "c = fmi.Communicator.from_env()\n"
        "c.barrier()\n"
        "if c.rank == 1:\n"
        "    c.abort(7)\n"
        "c.recv(1, 5)  # never sent: only the abort ends this\n")
    p = fmirun(3, [sys.executable, str(script)])
    assert p.returncode == 7, p.stdout
