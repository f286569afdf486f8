#!/usr/bin/env python3
"""Run the Lambda handler locally: N plain processes, one per rank, as Lambda would.

    python3 local_run.py -n 4 [--prefix DIR] [--invocations 2] [--elements 4096]

Starts an fmi-rendezvous with a fresh token on a free loopback port (from DIR/bin,
$FMI_PREFIX/bin or PATH), builds the events with invoke.py's build_events, and starts
N processes that each call handler.handler(event, context) with their own event. With
--invocations K every process handles K jobs one after the other, as a warm Lambda
environment does. Prints each result as a JSON line; the exit code is 0 only if every
rank of every job reports ok.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import invoke  # noqa: E402


def child(events_file):
    """One 'Lambda environment': runs the handler on each event of the file, in turn."""
    import handler
    with open(events_file, encoding="utf-8") as f:
        events = [json.loads(line) for line in f]
    for i, event in enumerate(events):
        ctx = types.SimpleNamespace(aws_request_id="local-%d-%d" % (event["rank"], i))
        res = handler.handler(event, ctx)
        sys.stdout.write("RESULT " + json.dumps(res) + "\n")
        sys.stdout.flush()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def find_rendezvous(prefix):
    for d in ([os.path.join(prefix, "bin")] if prefix else []) + (
            [os.path.join(os.environ["FMI_PREFIX"], "bin")] if os.environ.get("FMI_PREFIX") else []):
        p = os.path.join(d, "fmi-rendezvous")
        if os.path.exists(p):
            return p
    p = shutil.which("fmi-rendezvous")
    if not p:
        sys.exit("local_run.py: no fmi-rendezvous (give --prefix or set FMI_PREFIX)")
    return p


def start_server(binary, token_file, env):
    port = free_port()
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:%d" % port, "--token-file", token_file],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, "127.0.0.1:%d" % port
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                sys.exit("local_run.py: fmi-rendezvous did not start: %s" % proc.stderr.read())
            time.sleep(0.05)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--size", type=int, default=4)
    ap.add_argument("--prefix", help="FMI install prefix (bin/fmi-rendezvous, lib/libfmi.so)")
    ap.add_argument("--invocations", type=int, default=1, help="jobs per process (warm starts)")
    ap.add_argument("--elements", type=int, default=1024)
    ap.add_argument("--timeout", type=float, default=120, help="seconds for everything")
    ap.add_argument("--child", metavar="EVENTS_FILE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child)

    env = dict(os.environ)
    if args.prefix:
        env["FMI_PREFIX"] = args.prefix
    binary = find_rendezvous(args.prefix)
    with tempfile.TemporaryDirectory(prefix="fmi-lambda-") as tmp:
        token = secrets.token_hex(32)
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write(token)
        server, addr = start_server(binary, token_file, env)
        try:
            jobs = [invoke.build_events(args.size, invoke.new_job_name("local") + "-%d" % j,
                                        addr, token, elements=args.elements)
                    for j in range(args.invocations)]
            # the token travels in files only this user can read, never on a command line
            procs = []
            for rank in range(args.size):
                base = os.path.join(tmp, "rank%d" % rank)
                fd = os.open(base + ".events", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write("".join(json.dumps(job[rank]) + "\n" for job in jobs))
                out, err = open(base + ".out", "w+"), open(base + ".err", "w+")
                p = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                      "--child", base + ".events"],
                                     env=env, cwd=HERE, stdout=out, stderr=err)
                procs.append((p, out, err))
            deadline = time.time() + args.timeout
            outs = []
            for p, out, err in procs:
                try:
                    p.wait(timeout=max(1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    for q, _, _ in procs:
                        q.kill()
                        q.wait()
                    sys.exit("local_run.py: ranks did not finish within %gs" % args.timeout)
                out.seek(0)
                err.seek(0)
                outs.append((p.returncode, out.read(), err.read()))
                out.close()
                err.close()
        finally:
            server.terminate()
            server.wait(timeout=10)

    failed = 0
    results = []
    for rank, (rc, out, err) in enumerate(outs):
        got = [json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")]
        results.extend(got)
        if rc != 0 or len(got) != args.invocations or not all(r.get("ok") for r in got):
            failed += 1
            sys.stderr.write("rank %d failed (exit %s):\n%s%s\n" % (rank, rc, out, err))
    for r in sorted(results, key=lambda r: (r["job"], r["rank"])):
        print(json.dumps(r))
    assert all(token not in json.dumps(r) for r in results), "a result carries the token"
    print("local_run: %d ranks x %d jobs: %s" % (args.size, args.invocations,
                                               "all ok" if not failed else "%d ranks failed" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
