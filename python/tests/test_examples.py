"""The deployment examples (examples/aws-lambda, examples/kubernetes): what can be
checked without AWS, a cluster or a Docker daemon."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, run

yaml = pytest.importorskip("yaml")

LAMBDA = os.path.join(REPO, "examples", "aws-lambda")
K8S = os.path.join(REPO, "examples", "kubernetes")


# ---- CloudFormation / SAM ---------------------------------------------------------------

class CfnLoader(yaml.SafeLoader):
    """safe_load plus CloudFormation's short forms (!Ref, !GetAtt, !Sub, ...)."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        val = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        val = loader.construct_sequence(node, deep=True)
    else:
        val = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": val}
    if suffix == "Condition":
        return {"Condition": val}
    if suffix == "GetAtt" and isinstance(val, str):
        val = val.split(".", 1)
    return {"Fn::" + suffix: val}


CfnLoader.add_multi_constructor("!", _cfn_tag)

PSEUDO = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
          "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}


@pytest.fixture(scope="module")
def template():
    with open(os.path.join(LAMBDA, "template.yaml"), encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


def _refs(node, out):
    """(kind, name) of every Ref, GetAtt, Sub variable and If condition below node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref":
                out.append(("ref", v))
            elif k == "Fn::GetAtt":
                out.append(("ref", v[0]))
            elif k == "Fn::Sub":
                text, extra = (v, {}) if isinstance(v, str) else (v[0], v[1])
                for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if var not in extra:
                        out.append(("ref", var.split(".")[0]))
                _refs(extra, out)
            elif k == "Fn::If":
                out.append(("cond", v[0]))
                _refs(v[1:], out)
            elif k in ("Condition",) and isinstance(v, str):
                out.append(("cond", v))
            else:
                _refs(v, out)
    elif isinstance(node, list):
        for x in node:
            _refs(x, out)
    return out


def test_template_structure(template):
    t = template
    assert t["AWSTemplateFormatVersion"] == "2010-09-09"
    assert t["Transform"] == "AWS::Serverless-2016-10-31"
    res = t["Resources"]
    types = {k: v["Type"] for k, v in res.items()}
    assert types["RankFunction"] == "AWS::Serverless::Function"
    assert types["TokenSecret"] == "AWS::SecretsManager::Secret"
    for kind in ("AWS::ECS::Cluster", "AWS::ECS::TaskDefinition", "AWS::ECS::Service",
                 "AWS::EC2::SecurityGroup", "AWS::IAM::Role"):
        assert kind in types.values()
    fn = res["RankFunction"]
    assert fn["Properties"]["PackageType"] == "Image"
    assert fn["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    md = fn["Metadata"]
    assert os.path.isfile(os.path.join(LAMBDA, md["DockerContext"], md["Dockerfile"]))
    assert os.path.samefile(os.path.join(LAMBDA, md["DockerContext"]), REPO)
    # the rendezvous task: the right command, port and token
    task = res["RendezvousTask"]["Properties"]["ContainerDefinitions"][0]
    assert task["Command"][:2] == ["fmi-rendezvous", "--listen"]
    assert [s["Name"] for s in task["Secrets"]] == ["FMI_TOKEN"]
    assert task["Secrets"][0]["ValueFrom"] == {"Ref": "TokenSecret"}
    ingress = res["RendezvousSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress[0]["IpProtocol"] == "tcp"
    assert ingress[0]["FromPort"] == ingress[0]["ToPort"] == {"Ref": "RendezvousPort"}
    assert res["RendezvousService"]["Properties"]["NetworkConfiguration"][
        "AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"


def test_template_references_resolve(template):
    t = template
    params, res = set(t.get("Parameters", {})), t["Resources"]
    conds = set(t.get("Conditions", {}))
    conditional = {k for k, v in res.items() if "Condition" in v}
    problems = []
    sections = [("Resources", k, v) for k, v in res.items()]
    sections += [("Outputs", k, v) for k, v in t.get("Outputs", {}).items()]
    sections += [("Conditions", k, v) for k, v in t.get("Conditions", {}).items()]
    for section, name, body in sections:
        for kind, target in _refs(body, []):
            if kind == "cond":
                if target not in conds:
                    problems.append("%s.%s: unknown condition %s" % (section, name, target))
            elif target not in params | set(res) | PSEUDO:
                problems.append("%s.%s: unknown reference %s" % (section, name, target))
            elif (target in conditional and section != "Conditions"
                  and body.get("Condition") != res[target]["Condition"]):
                problems.append("%s.%s: refers to conditional %s without its condition"
                                % (section, name, target))
    assert not problems, problems


def test_template_cfn_lint():
    pytest.importorskip("cfnlint", reason="cfn-lint not installed (FMI_PY_TEST_LINT=1)")
    exe = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    cmd = [exe] if os.path.exists(exe) else [
        sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]
    p = run(cmd + [os.path.join(LAMBDA, "template.yaml")], dict(os.environ))
    assert p.returncode == 0, p.stdout


def _dockerfile_copies(path):
    """Sources of COPY lines without --from (relative to the context: the repository)."""
    out = []
    with open(path, encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0].upper() == "COPY" and not any(p.startswith("--from") for p in parts):
            out.extend(p for p in parts[1:-1] if not p.startswith("--"))
    return out


@pytest.mark.parametrize("dockerfile", [os.path.join(LAMBDA, "Dockerfile"),
                                        os.path.join(K8S, "Dockerfile")])
def test_dockerfile_sources_exist(dockerfile):
    copies = _dockerfile_copies(dockerfile)
    assert copies
    for src in copies:
        assert os.path.exists(os.path.join(REPO, src)), "%s: COPY %s" % (dockerfile, src)
    ignore = dockerfile + ".dockerignore"
    with open(ignore, encoding="utf-8") as f:
        ignored = [x.strip() for x in f if x.strip() and not x.startswith("#")]
    for needed in ("src", "python", "Cargo.toml", "Cargo.lock", "examples"):
        assert needed not in ignored
    with open(dockerfile, encoding="utf-8") as f:
        text = f.read()
    assert "cargo build --release -p fmi" in text


def test_lambda_cmd_names_the_handler():
    with open(os.path.join(LAMBDA, "Dockerfile"), encoding="utf-8") as f:
        cmd = [l for l in f if l.startswith("CMD")][-1]
    module, func = json.loads(cmd[3:].strip())[0].split(".")
    with open(os.path.join(LAMBDA, module + ".py"), encoding="utf-8") as f:
        assert "def %s(event, context" % func in f.read()


# ---- the invoker ------------------------------------------------------------------------

def invoke_py(args, env=None, cwd=None):
    e = dict(os.environ)
    e.pop("FMI_TOKEN", None)
    e.update(env or {})
    return subprocess.run([sys.executable, os.path.join(LAMBDA, "invoke.py")] + args, env=e,
                          cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60)


def test_invoke_dry_run_events(tmp_path):
    tf = tmp_path / "token"
    tf.write_text("s3cret-token\n")
    p = invoke_py(["--function", "f", "-n", "5", "--rendezvous", "203.0.113.7:10000",
                   "--token-file", str(tf), "--job", "job-1", "--elements", "64", "--dry-run"])
    assert p.returncode == 0, p.stderr
    events = json.loads(p.stdout)
    assert [e["rank"] for e in events] == list(range(5))
    for e in events:
        assert e == {"rank": e["rank"], "size": 5, "job": "job-1",
                     "rendezvous": "203.0.113.7:10000", "token": "s3cret-token",
                     "elements": 64, "timeout_ms": 60000}


def test_invoke_default_job_and_env_token():
    p = invoke_py(["-n", "2", "--rendezvous", "rdv.example:10000", "--dry-run"],
                  env={"FMI_TOKEN": "t0k"})
    assert p.returncode == 0, p.stderr
    a, b = json.loads(p.stdout)
    assert a["job"] == b["job"] and re.match(r"^lambda-\d{8}-\d{6}-[0-9a-f]{8}$", a["job"])
    assert a["token"] == "t0k"
    q = invoke_py(["-n", "2", "--rendezvous", "rdv.example:10000", "--dry-run"],
                  env={"FMI_TOKEN": "t0k"})
    assert json.loads(q.stdout)[0]["job"] != a["job"], "a fresh job name per run"


@pytest.mark.parametrize("args,msg", [
    (["-n", "2", "--rendezvous", "no-port", "--dry-run"], "HOST:PORT"),
    (["-n", "2", "--rendezvous", "h:99999", "--dry-run"], "HOST:PORT"),
    (["-n", "0", "--rendezvous", "h:1", "--dry-run"], "size"),
    (["-n", "2", "--rendezvous", "h:1", "--job", "bad name!", "--dry-run"], "job name"),
])
def test_invoke_rejects_bad_arguments(args, msg):
    p = invoke_py(args, env={"FMI_TOKEN": "t"})
    assert p.returncode == 2 and msg in p.stderr, p.stderr


def test_invoke_needs_a_token():
    p = invoke_py(["-n", "2", "--rendezvous", "h:1", "--dry-run"])
    assert p.returncode == 2 and "no token" in p.stderr


STUB_BOTO3 = '''
import json, os, threading
_lock = threading.Lock()

class _Payload:
    def __init__(self, b):
        self.b = b
    def read(self):
        return self.b

class _Client:
    def __init__(self, service, **kw):
        self.service, self.kw = service, kw
    def invoke(self, FunctionName, InvocationType, Payload):
        ev = json.loads(Payload)
        with _lock, open(os.environ["STUB_LOG"], "a") as f:
            f.write(json.dumps({"service": self.service, "function": FunctionName,
                                "type": InvocationType, "event": ev,
                                "config": self.kw["config"].kw}) + "\\n")
        if InvocationType == "Event":
            return {"StatusCode": 202, "Payload": _Payload(b"")}
        return {"StatusCode": 200, "Payload": _Payload(json.dumps({"rank": ev["rank"], "ok": True}).encode())}
    def get_secret_value(self, SecretId):
        assert SecretId == "arn:secret"
        return {"SecretString": "from-secrets-manager\\n"}

def client(service, region_name=None, config=None):
    return _Client(service, region_name=region_name, config=config)
'''

STUB_BOTOCORE_CONFIG = '''
class Config:
    def __init__(self, **kw):
        self.kw = kw
'''


@pytest.fixture
def stub_boto3(tmp_path):
    (tmp_path / "boto3").mkdir()
    (tmp_path / "boto3" / "__init__.py").write_text(STUB_BOTO3)
    (tmp_path / "botocore").mkdir()
    (tmp_path / "botocore" / "__init__.py").write_text("")
    (tmp_path / "botocore" / "config.py").write_text(STUB_BOTOCORE_CONFIG)
    log = tmp_path / "calls.jsonl"
    return {"PYTHONPATH": str(tmp_path), "STUB_LOG": str(log)}, log


@pytest.mark.parametrize("wait", [False, True])
def test_invoke_calls_lambda(stub_boto3, wait):
    env, log = stub_boto3
    args = ["--function", "fmi-rank", "-n", "6", "--rendezvous", "198.51.100.1:10000",
            "--token-secret", "arn:secret", "--job", "j-42"] + (["--wait"] if wait else [])
    p = invoke_py(args, env=env)
    assert p.returncode == 0, p.stderr
    calls = [json.loads(l) for l in log.read_text().splitlines()]
    assert len(calls) == 6
    assert {c["service"] for c in calls} == {"lambda"}
    assert {c["function"] for c in calls} == {"fmi-rank"}
    assert {c["type"] for c in calls} == {"RequestResponse" if wait else "Event"}
    assert sorted(c["event"]["rank"] for c in calls) == list(range(6))
    for c in calls:
        ev = c["event"]
        assert (ev["size"], ev["job"], ev["rendezvous"], ev["token"]) == (
            6, "j-42", "198.51.100.1:10000", "from-secrets-manager")
        assert c["config"]["retries"] == {"max_attempts": 0}
        assert c["config"]["max_pool_connections"] >= 6
    printed = [json.loads(l) for l in p.stdout.splitlines()]
    assert sorted(r["rank"] for r in printed) == list(range(6))
    if wait:
        assert all(r["result"]["ok"] for r in printed)
    else:
        assert {r["status"] for r in printed} == {202}


def test_invoke_without_boto3_says_so():
    import importlib.util
    if importlib.util.find_spec("boto3") is not None:
        pytest.skip("boto3 is installed here")
    p = invoke_py(["-n", "1", "--rendezvous", "h:1"], env={"FMI_TOKEN": "t"})
    assert p.returncode != 0 and "boto3 is needed" in p.stderr


# ---- the handler, locally ---------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_lambda_handler_locally(fmi_install, n):
    p = run([sys.executable, os.path.join(LAMBDA, "local_run.py"), "-n", str(n),
             "--invocations", "2", "--elements", "4096"], fmi_install.env, timeout=150)
    assert p.returncode == 0, p.stdout
    results = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    assert len(results) == 2 * n
    assert len({r["job"] for r in results}) == 2
    for r in results:
        assert r["ok"] and r["size"] == n and r["allreduce_first"] == n * (n + 1) / 2
        assert r["ring_received"] == "hello from %d" % ((r["rank"] - 1) % n)
    assert "all ok" in p.stdout


def test_lambda_handler_rejects_bad_events(fmi_install):
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        import handler
        for ev in ({"rank": 0, "size": 2, "job": "j", "rendezvous": "h:1"},
                   {"rank": 2, "size": 2, "job": "j", "rendezvous": "h:1", "token": "t"}):
            try:
                handler.handler(ev, None)
            except ValueError as e:
                print("rejected:", e)
    """ % LAMBDA)
    p = run([sys.executable, "-c", code], fmi_install.env)
    assert "rejected: event lacks token" in p.stdout, p.stdout
    assert "rejected: rank 2 is not in 0..1" in p.stdout, p.stdout


# ---- Kubernetes -------------------------------------------------------------------------

def load_all(name):
    with open(os.path.join(K8S, name), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def test_kubernetes_manifests():
    rdv = {d["kind"]: d for d in load_all("rendezvous.yaml")}
    jobs = load_all("job.yaml")
    assert set(rdv) == {"Deployment", "Service"} and [j["kind"] for j in jobs] == ["Job"]
    dep, svc, job = rdv["Deployment"], rdv["Service"], jobs[0]
    assert (dep["apiVersion"], svc["apiVersion"], job["apiVersion"]) == ("apps/v1", "v1", "batch/v1")

    # server: one replica, the command, the token from the Secret, port behind the Service
    assert dep["spec"]["replicas"] == 1
    pod = dep["spec"]["template"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    c = pod["spec"]["containers"][0]
    assert c["command"][0] == "fmi-rendezvous" and "--listen" in c["command"]
    listen = c["command"][c["command"].index("--listen") + 1]
    port = int(listen.rsplit(":", 1)[1])
    env = {e["name"]: e for e in c["env"]}
    assert env["FMI_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "fmi-token", "key": "token"}
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert port in named.values()
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    sport = svc["spec"]["ports"][0]
    assert named.get(sport["targetPort"], sport["targetPort"]) == port

    # ranks: Indexed, all at once, no retries, rank from the index, size, token, server
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"]
    assert spec["backoffLimit"] == 0
    tpl = spec["template"]["spec"]
    assert tpl["restartPolicy"] == "Never"
    rc = tpl["containers"][0]
    renv = {e["name"]: e for e in rc["env"]}
    assert int(renv["FMI_SIZE"]["value"]) == spec["completions"]
    assert "FMI_RANK" not in renv and "JOB_COMPLETION_INDEX" not in renv  # set by Kubernetes
    assert renv["FMI_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "fmi-token", "key": "token"}
    assert "controller-uid" in renv["FMI_JOB"]["valueFrom"]["fieldRef"]["fieldPath"]
    host, rport = renv["FMI_RENDEZVOUS"]["value"].rsplit(":", 1)
    assert host == svc["metadata"]["name"] and int(rport) == sport["port"]
    assert rc["image"] == c["image"]
    assert rc["command"] == ["python3", "/app/rank.py"]
    with open(os.path.join(K8S, "Dockerfile"), encoding="utf-8") as f:
        assert "COPY examples/kubernetes/rank.py /app/rank.py" in f.read()


def test_kubernetes_validate():
    pytest.importorskip("kubernetes_validate",
                        reason="kubernetes-validate not installed (FMI_PY_TEST_LINT=1)")
    p = run([sys.executable, "-m", "kubernetes_validate", "--strict",
             os.path.join(K8S, "rendezvous.yaml"), os.path.join(K8S, "job.yaml")],
            dict(os.environ))
    assert p.returncode == 0, p.stdout


@pytest.mark.parametrize("n", [1, 2, 3, None])
def test_kubernetes_job_locally(fmi_install, n):
    """None: the manifest's own completions (4)."""
    args = [sys.executable, os.path.join(K8S, "local_run.py"), "--elements", "100000"]
    if n:
        args += ["-n", str(n)]
    p = run(args, fmi_install.env, timeout=150)
    assert p.returncode == 0, p.stdout
    reports = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    size = n or 4
    assert sorted(r["rank"] for r in reports) == list(range(size))
    for r in reports:
        assert r["ok"] and r["size"] == size and r["index"] == str(r["rank"])
        assert r["mean"] == (100000 - 1) / 2
