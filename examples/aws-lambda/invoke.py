#!/usr/bin/env python3
"""Start an FMI job of N ranks on AWS Lambda: one asynchronous invocation per rank.

    python3 invoke.py --function fmi-rank -n 8 --rendezvous 203.0.113.7:10000 \\
        --token-secret arn:aws:secretsmanager:...      # or --token-file F, or FMI_TOKEN
    python3 invoke.py ... --dry-run                    # print the events, invoke nothing
    python3 invoke.py ... --wait                       # synchronous: print each result

Every event carries rank, size, job, rendezvous and token (see handler.py). All N
functions must run at the same time: the account's concurrency limit must allow N.
boto3 is needed only to invoke (not for --dry-run).
"""

import argparse
import json
import os
import re
import secrets
import sys
import time

HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def check_rendezvous(addr):
    m = HOST_PORT.match(addr or "")
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ValueError("rendezvous %r is not HOST:PORT" % (addr,))
    return addr


def new_job_name(prefix="lambda"):
    return "%s-%s-%s" % (prefix, time.strftime("%Y%m%d-%H%M%S"), secrets.token_hex(4))


def build_events(size, job, rendezvous, token, elements=1024, timeout_ms=60000, extra=None):
    """The N events of one job, rank 0 .. size-1."""
    if int(size) < 1:
        raise ValueError("size must be at least 1")
    if not job or not re.match(r"^[A-Za-z0-9_.:-]{1,200}$", job):
        raise ValueError("job name %r: use 1-200 letters, digits and _.:-" % (job,))
    if not token:
        raise ValueError("no token: give --token-file, --token-secret or FMI_TOKEN")
    check_rendezvous(rendezvous)
    if int(elements) < 1:
        raise ValueError("elements must be at least 1")
    events = []
    for rank in range(int(size)):
        ev = {
            "rank": rank,
            "size": int(size),
            "job": job,
            "rendezvous": rendezvous,
            "token": token,
            "elements": int(elements),
            "timeout_ms": int(timeout_ms),
        }
        ev.update(extra or {})
        events.append(ev)
    return events


def read_token(args):
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            return f.read().strip()
    if args.token_secret:
        boto3 = _boto3()
        sm = boto3.client("secretsmanager", region_name=args.region)
        return sm.get_secret_value(SecretId=args.token_secret)["SecretString"].strip()
    return os.environ.get("FMI_TOKEN", "").strip()


def _boto3():
    try:
        import boto3  # noqa: F401 - optional
    except ImportError:
        sys.exit("invoke.py: boto3 is needed to call AWS (pip install boto3); "
                 "--dry-run works without it")
    return boto3


def invoke(function, events, region=None, wait=False, out=sys.stdout):
    """Invokes one function per event, all at once. Asynchronous ('Event') by default;
    with wait=True synchronously from one thread per rank, printing each result."""
    boto3 = _boto3()
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config

    n = len(events)
    cfg = Config(max_pool_connections=max(10, n), read_timeout=900, connect_timeout=10,
                 retries={"max_attempts": 0})  # a retried rank would join a finished job
    client = boto3.client("lambda", region_name=region, config=cfg)

    def one(ev):
        r = client.invoke(FunctionName=function,
                          InvocationType="RequestResponse" if wait else "Event",
                          Payload=json.dumps(ev).encode())
        res = {"rank": ev["rank"], "status": r.get("StatusCode")}
        if wait:
            body = r["Payload"].read()
            res["result"] = json.loads(body) if body else None
            if r.get("FunctionError"):
                res["error"] = r["FunctionError"]
        return res

    # wait=True needs all N calls in flight at once: the ranks wait for each other
    with ThreadPoolExecutor(max_workers=n if wait else min(n, 64)) as pool:
        results = list(pool.map(one, events))
    for res in results:
        out.write(json.dumps(res) + "\n")
    bad = [r for r in results if r.get("error") or r.get("status") not in (200, 202)]
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--function", default="fmi-rank", help="Lambda function name or ARN")
    ap.add_argument("-n", "--size", type=int, required=True, help="number of ranks")
    ap.add_argument("--rendezvous", required=True, help="HOST:PORT of fmi-rendezvous")
    ap.add_argument("--job", help="job name (default: a fresh one)")
    ap.add_argument("--token-file", help="file holding the job token")
    ap.add_argument("--token-secret", help="Secrets Manager secret holding the token")
    ap.add_argument("--elements", type=int, default=1024, help="doubles to allreduce")
    ap.add_argument("--timeout-ms", type=int, default=60000, help="FMI_TIMEOUT_MS of the ranks")
    ap.add_argument("--region", help="AWS region (default: from the AWS configuration)")
    ap.add_argument("--dry-run", action="store_true", help="print the events as JSON, invoke nothing")
    ap.add_argument("--wait", action="store_true", help="invoke synchronously and print the results")
    args = ap.parse_args(argv)
    try:
        token = read_token(args)
        events = build_events(args.size, args.job or new_job_name(), args.rendezvous, token,
                              elements=args.elements, timeout_ms=args.timeout_ms)
    except (ValueError, OSError) as e:
        ap.error(str(e))
    if args.dry_run:
        json.dump(events, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    sys.stderr.write("invoke.py: starting job %s: %d ranks of %s\n"
                     % (events[0]["job"], len(events), args.function))
    return invoke(args.function, events, region=args.region, wait=args.wait)


if __name__ == "__main__":
    sys.exit(main())
