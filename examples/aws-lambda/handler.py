"""AWS Lambda handler: one invocation is one rank of an FMI job.

The event (built by invoke.py) says who this rank is and where the job meets:

    {"rank": 0, "size": 4, "job": "lambda-1a2b3c", "rendezvous": "203.0.113.7:10000",
     "token": "<job secret>", "elements": 1024, "timeout_ms": 60000}

The function joins the job, runs an allreduce of `elements` doubles (every rank adds
rank + 1), a ring exchange and a barrier, and returns what it saw. The token is never
printed or returned.
"""

import json
import os
import time

import fmi

try:
    import numpy as np
except ImportError:  # the package works without NumPy; so does this handler
    np = None

REQUIRED = ("rank", "size", "job", "rendezvous", "token")


def _configure(event):
    missing = [k for k in REQUIRED if k not in event]
    if missing:
        raise ValueError("event lacks %s" % ", ".join(missing))
    rank, size = int(event["rank"]), int(event["size"])
    if not 0 <= rank < size:
        raise ValueError("rank %d is not in 0..%d" % (rank, size - 1))
    # FMI_Comm_create reads the rendezvous address and token from the environment. A
    # warm Lambda environment runs many invocations: set them every time.
    os.environ["FMI_RENDEZVOUS"] = str(event["rendezvous"])
    os.environ["FMI_TOKEN"] = str(event["token"])
    os.environ["FMI_TIMEOUT_MS"] = str(int(event.get("timeout_ms", 60000)))
    for k in ("punch_timeout_ms", "log"):
        if k in event:
            os.environ["FMI_" + k.upper()] = str(event[k])
    return rank, size, str(event["job"])


def handler(event, context=None):
    rank, size, job = _configure(event)
    n = int(event.get("elements", 1024))
    t0 = time.time()
    with fmi.Communicator(rank, size, comm_name=job) as comm:
        t_join = time.time()
        if np is not None:
            vec = np.full(n, rank + 1.0)
            total = comm.allreduce(vec, op=fmi.SUM, out=vec)  # in place
            first, uniform = float(total[0]) if n else 0.0, bool(np.all(total == total[0]))
        else:
            total = comm.allreduce(float(rank + 1))
            first, uniform = total, True
        t_reduce = time.time()
        right, left = (rank + 1) % size, (rank - 1) % size
        got = comm.sendrecv(b"hello from %d" % rank, right, 1, left, 1)
        comm.barrier()
    want = size * (size + 1) / 2.0
    result = {
        "rank": rank,
        "size": size,
        "job": job,
        "elements": n,
        "allreduce_first": first,
        "allreduce_expected": want,
        "ring_received": got.decode(),
        "ok": first == want and uniform and got == b"hello from %d" % left,
        "seconds_join": round(t_join - t0, 4),
        "seconds_allreduce": round(t_reduce - t_join, 6),
        "aws_request_id": getattr(context, "aws_request_id", None),
    }
    print(json.dumps(result))  # CloudWatch Logs (asynchronous invocations drop the return value)
    return result
