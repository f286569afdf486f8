#!/usr/bin/env python3
"""Run the Indexed Job of job.yaml here, as plain processes, the way Kubernetes would.

    python3 local_run.py [--prefix DIR] [-n N] [--elements K]

Reads job.yaml and rendezvous.yaml, starts fmi-rendezvous as the Deployment's command
says (on a free loopback port instead of 0.0.0.0:10000, with a fresh token standing in
for the fmi-token Secret), then starts `completions` processes with the container's
command and environment: every `value` as written, `secretKeyRef` fmi-token/token as
the token, the controller-uid label as a made-up uid, FMI_RENDEZVOUS pointed at the
local server, and JOB_COMPLETION_INDEX=i as the Job controller sets it. /app/rank.py
is this directory's rank.py. -n N overrides completions, parallelism and FMI_SIZE.
Prints each rank's output; the exit code is 0 only if every rank succeeded.
"""

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def the(docs, kind):
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        raise SystemExit("expected one %s, found %d" % (kind, len(found)))
    return found[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def binary(name, prefix):
    for d in [os.path.join(p, "bin") for p in (prefix, os.environ.get("FMI_PREFIX")) if p]:
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    found = shutil.which(name)
    if not found:
        raise SystemExit("local_run.py: no %s (give --prefix or set FMI_PREFIX)" % name)
    return found


def container_env(container, token, uid):
    """The container's env as the kubelet would set it (what this example uses)."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        src = e["valueFrom"]
        if "secretKeyRef" in src:
            ref = src["secretKeyRef"]
            if (ref["name"], ref["key"]) != ("fmi-token", "token"):
                raise SystemExit("unknown secret %s/%s" % (ref["name"], ref["key"]))
            env[e["name"]] = token
        elif "fieldRef" in src:
            path = src["fieldRef"]["fieldPath"]
            if "controller-uid" not in path:
                raise SystemExit("unsupported fieldRef %s" % path)
            env[e["name"]] = uid
        else:
            raise SystemExit("unsupported valueFrom %s" % sorted(src))
    return env


def local_command(command):
    """The container command with the image's paths mapped to this checkout."""
    out = []
    for a in command:
        if a == "python3":
            out.append(sys.executable)
        elif a == "/app/rank.py":
            out.append(os.path.join(HERE, "rank.py"))
        else:
            out.append(a)
    return out


def start_server(deploy, token_file, env, prefix):
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    cmd = list(c["command"])
    if cmd[0] != "fmi-rendezvous" or "--listen" not in cmd:
        raise SystemExit("unexpected rendezvous command %s" % cmd)
    port = free_port()
    cmd[0] = binary("fmi-rendezvous", prefix)
    cmd[cmd.index("--listen") + 1] = "127.0.0.1:%d" % port
    senv = dict(env)
    senv.update({k: v for k, v in container_env(c, "unused", "unused").items()
                 if k != "FMI_TOKEN"})  # the token comes from the file here
    proc = subprocess.Popen(cmd + ["--token-file", token_file], env=senv,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, "127.0.0.1:%d" % port
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise SystemExit("fmi-rendezvous did not start")
            time.sleep(0.05)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", help="FMI install prefix")
    ap.add_argument("-n", "--size", type=int, help="override completions/parallelism/FMI_SIZE")
    ap.add_argument("--elements", type=int, help="override ELEMENTS")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args(argv)

    job = the(load("job.yaml"), "Job")
    deploy = the(load("rendezvous.yaml"), "Deployment")
    spec = job["spec"]
    if spec.get("completionMode") != "Indexed":
        raise SystemExit("job.yaml is not an Indexed Job")
    n = args.size or spec["completions"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]

    base_env = dict(os.environ)
    for k in ("FMI_RANK", "FMI_SIZE", "FMI_JOB", "FMI_RENDEZVOUS", "FMI_TOKEN"):
        base_env.pop(k, None)
    if args.prefix:
        base_env["FMI_PREFIX"] = args.prefix
    with tempfile.TemporaryDirectory(prefix="fmi-k8s-") as tmp:
        token = secrets.token_hex(32)
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write(token)
        server, addr = start_server(deploy, token_file, base_env, args.prefix)
        try:
            env = dict(base_env)
            env.update(container_env(container, token, str(uuid.uuid4())))
            if env.get("FMI_RENDEZVOUS") != "fmi-rendezvous:10000":
                raise SystemExit("FMI_RENDEZVOUS should name the Service")
            env["FMI_RENDEZVOUS"] = addr
            if args.size:
                env["FMI_SIZE"] = str(n)
            if args.elements:
                env["ELEMENTS"] = str(args.elements)
            cmd = local_command(container["command"])
            procs = []
            for index in range(n):
                e = dict(env, JOB_COMPLETION_INDEX=str(index))
                log = open(os.path.join(tmp, "index%d.log" % index), "w+")
                procs.append((subprocess.Popen(cmd, env=e, stdout=log, stderr=subprocess.STDOUT),
                              log))
            deadline = time.time() + args.timeout
            outs = []
            for p, log in procs:
                try:
                    rc = p.wait(timeout=max(1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    for q, _ in procs:
                        q.kill()
                        q.wait()
                    raise SystemExit("ranks did not finish within %gs" % args.timeout)
                log.seek(0)
                outs.append((rc, log.read()))
                log.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    failed = 0
    for index, (rc, out) in enumerate(outs):
        sys.stdout.write(out)
        if rc != 0:
            failed += 1
            sys.stdout.write("index %d exited with %d\n" % (index, rc))
    print("local_run: %d ranks: %s" % (n, "all ok" if not failed else "%d failed" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
