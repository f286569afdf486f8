"""One rank of the example job: the Indexed Job runs it once per completion index.

FMI reads everything from the environment the Job sets: JOB_COMPLETION_INDEX (the
rank), FMI_SIZE, FMI_JOB, FMI_RENDEZVOUS and FMI_TOKEN (see job.yaml). The ranks
compute a data-parallel mean: each owns a block of a vector that all of them
generate, the sums are combined with allreduce, and rank 0 gathers a per-rank report.
Prints one JSON line per rank; exits non-zero if a check fails.
"""

import json
import os
import socket
import sys
import time

import numpy as np

import fmi


def main():
    t0 = time.time()
    with fmi.Communicator.from_env() as comm:
        rank, size = comm.rank, comm.size
        n = int(os.environ.get("ELEMENTS", "1000000"))
        data = np.arange(n, dtype=np.float64)          # every rank knows the data...
        lo, hi = rank * n // size, (rank + 1) * n // size
        part = np.array([data[lo:hi].sum(), hi - lo])  # ...and sums its own block
        total = comm.allreduce(part)                   # [sum, count] of all blocks
        mean = total[0] / total[1]
        hosts = comm.gather(socket.gethostname().encode()[:64].ljust(64), root=0)
        index = os.environ.get("JOB_COMPLETION_INDEX")
        ok = bool(total[1] == n and mean == (n - 1) / 2)
        ok = ok and (index is None or int(index) == rank)  # the Job's index is the rank
        ok = comm.allreduce(ok, op=fmi.LAND)
        report = {"rank": rank, "size": size, "index": index,
                  "mean": mean, "ok": ok, "seconds": round(time.time() - t0, 3)}
        if rank == 0:
            report["hosts"] = sorted({h.rstrip().decode() for h in hosts})
        print(json.dumps(report), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
