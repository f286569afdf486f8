"""One-process tests: finding the library, datatypes, errors from the library (config,
connect, auth), a world of one, ops without a communicator."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import fmi
from conftest import REPO, run


def py(code, env, timeout=60, cwd=None):
    return run([sys.executable, "-c", textwrap.dedent(code)], env, timeout=timeout, cwd=cwd)


def test_installed_package_is_tested(fmi_install):
    """scripts/python-test.sh tests what pip installed, not the source tree."""
    if os.environ.get("FMI_PY_TEST_INSTALLED") == "1":
        assert not os.path.abspath(fmi.__file__).startswith(os.path.join(REPO, "python") + os.sep)
    assert os.path.exists(fmi.library_path)


def test_library_found_in_prefix(fmi_install):
    env = dict(fmi_install.env)
    p = py("import fmi; print(fmi.library_path)", env)
    assert p.returncode == 0, p.stdout
    assert os.path.realpath(p.stdout.strip()) == os.path.realpath(
        os.path.join(fmi_install.prefix, "lib", "libfmi.so"))


def test_library_search_order(monkeypatch, tmp_path):
    from fmi import _lib
    monkeypatch.setenv("FMI_LIBRARY", "/x/libfmi.so")
    monkeypatch.setenv("FMI_PREFIX", "/p")
    names = [w for w, _ in _lib.candidates()]
    assert names[:3] == ["FMI_LIBRARY", "package directory", "FMI_PREFIX"]
    assert _lib.candidates()[2][1] == "/p/lib/libfmi.so"


def test_bad_fmi_library_is_an_import_error(fmi_install):
    env = dict(fmi_install.env, FMI_LIBRARY="/nonexistent/libfmi.so")
    p = py("import fmi", env)
    assert p.returncode != 0
    assert "ImportError" in p.stdout and "FMI_LIBRARY=/nonexistent/libfmi.so" in p.stdout


def test_not_found_names_what_was_tried(fmi_install, tmp_path):
    """A copy of the package outside any checkout, no prefix, no fmirun on PATH."""
    import fmi as pkg
    dst = tmp_path / "site" / "fmi"
    shutil.copytree(os.path.dirname(pkg.__file__), str(dst),
                    ignore=shutil.ignore_patterns("_origin.py", "libfmi.so", "__pycache__"))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "site"),
           "FMI_PREFIX": str(tmp_path / "noprefix"), "HOME": str(tmp_path)}
    p = py("import fmi", env, cwd=str(tmp_path))
    assert p.returncode != 0
    out = p.stdout
    assert "cannot find libfmi.so" in out, out
    for what in ("package directory", "FMI_PREFIX: %s" % (tmp_path / "noprefix"),
                 "find_library", "LD_LIBRARY_PATH"):
        assert what in out, out


def test_datatypes_and_constants():
    assert (fmi.BYTE, fmi.CHAR, fmi.INT8, fmi.DOUBLE) == (0, 1, 2, 11)
    assert [int(o) for o in (fmi.SUM, fmi.PROD, fmi.MIN, fmi.MAX, fmi.LAND, fmi.LOR, fmi.LXOR,
                             fmi.BAND, fmi.BOR, fmi.BXOR)] == list(range(10))
    assert (fmi.ANY_SOURCE, fmi.ANY_TAG) == (-1, -1)
    assert (fmi.ERR_ARG, fmi.ERR_TRUNCATE, fmi.ERR_INTERNAL) == (1, 4, 10)
    from fmi._buffers import resolve_dtype
    np = pytest.importorskip("numpy")
    assert resolve_dtype(np.float32).code == fmi.FLOAT
    assert resolve_dtype("int16").code == fmi.INT16
    assert resolve_dtype(float).pytype is float
    assert resolve_dtype(np.complex64).code is None
    with pytest.raises(fmi.ArgError):
        resolve_dtype(99)


def test_error_classes():
    for code in range(1, 11):
        assert fmi.error_string(code)
    from fmi._errors import make_error
    classes = [fmi.ArgError, fmi.TimeoutError, fmi.PeerLostError, fmi.TruncateError,
               fmi.ConnectError, fmi.AuthError, fmi.ConfigError, fmi.ChannelError,
               fmi.UnsupportedError, fmi.InternalError]
    for code, cls in enumerate(classes, start=1):
        e = make_error(code, "msg")
        assert type(e) is cls and e.code == code and isinstance(e, fmi.FMIError)
        assert e.message == "msg"
    assert isinstance(make_error(fmi.ERR_TIMEOUT, "t"), TimeoutError)
    e = make_error(77, "odd")
    assert type(e) is fmi.FMIError and e.code == 77


def test_op_without_communicator():
    op = fmi.Op(lambda a, b: None, commutative=False, associative=False)
    assert op.handle >= 100 and not op.commutative
    op.free()
    assert op.handle is None
    with pytest.raises(TypeError):
        fmi.Op(42)


def test_world_of_one(fmi_install):
    """from_env with no launcher variables: a singleton, no server needed."""
    p = py("""
        import fmi
        with fmi.Communicator.from_env() as c:
            assert (c.rank, c.size) == (0, 1)
            assert c.allreduce(5) == 5 and c.bcast(b"x") == b"x"
            assert c.gather(3) == [3] and c.scatter([7]) == 7 and c.alltoall([2]) == [2]
            c.send(b"self", 0, tag=1)
            assert c.recv(0, 1) == b"self"
        print("single ok")
    """, fmi_install.env)
    assert p.returncode == 0 and "single ok" in p.stdout, p.stdout


def test_config_error(fmi_install):
    env = dict(fmi_install.env, FMI_RANK="5", FMI_SIZE="2", FMI_JOB="j")
    p = py("""
        import fmi
        try:
            fmi.Communicator.from_env()
        except fmi.ConfigError as e:
            print("code", e.code, e.message)
    """, env)
    assert "code 7" in p.stdout and "FMI_RANK=5 is not below FMI_SIZE=2" in p.stdout, p.stdout


def test_config_file_error(fmi_install, tmp_path):
    """A broken original-FMI JSON file: ConfigError naming the file and line."""
    bad = tmp_path / "fmi.json"
    bad.write_text('{\n  "backends": {\n    "Direct": { "host": "x" "port": 1 }\n  }\n}\n')
    code = textwrap.dedent("""
        import sys, fmi
        try:
            fmi.Communicator(0, 2, comm_name="j", config_path=sys.argv[1])
        except fmi.ConfigError as e:
            print("config", e.code, e.message)
    """)
    p = run([sys.executable, "-c", code, str(bad)], fmi_install.env)
    assert "config 7" in p.stdout and str(bad) in p.stdout and "line 3" in p.stdout, p.stdout


def test_cost(fmi_install, tmp_path):
    """Communicator.cost: the model's price of this rank's share (a world of one:
    its function's GiB-seconds only), with the file's model parameters."""
    cfg = tmp_path / "fmi.json"
    cfg.write_text('{"model": {"FaaS": {"gib_second_price": 0.5, "memory_gib": 4}}}')
    code = textwrap.dedent("""
        import sys, fmi
        with fmi.Communicator(0, 1, comm_name="j", config_path=sys.argv[1]) as c:
            print("cost", c.cost(3))
            try:
                c.cost(-1)
            except fmi.ArgError as e:
                print("arg", e.code)
    """)
    p = run([sys.executable, "-c", code, str(cfg)], fmi_install.env)
    assert "cost 6.0" in p.stdout and "arg 1" in p.stdout, p.stdout + p.stderr


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connect_error(fmi_install):
    env = dict(fmi_install.env, FMI_RENDEZVOUS="127.0.0.1:%d" % free_port(), FMI_TIMEOUT_MS="3000",
               FMI_TOKEN="t")
    p = py("""
        import fmi
        try:
            fmi.Communicator(0, 2, comm_name="nobody-home")
        except fmi.FMIError as e:
            print("class", type(e).__name__, e.code, e.message)
    """, env)
    assert "class ConnectError 5" in p.stdout and "rendezvous" in p.stdout, p.stdout


@pytest.fixture
def rendezvous(fmi_install, tmp_path):
    """An fmi-rendezvous with a token on a free loopback port: (address, token)."""
    token = "server-token-" + os.urandom(8).hex()
    tf = tmp_path / "token"
    tf.write_text(token)
    port = free_port()
    proc = subprocess.Popen([fmi_install.rendezvous, "--listen", "127.0.0.1:%d" % port,
                             "--token-file", str(tf)], env=fmi_install.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("fmi-rendezvous did not start")
                time.sleep(0.05)
        yield "127.0.0.1:%d" % port, token
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_auth_error(fmi_install, rendezvous):
    addr, _token = rendezvous
    env = dict(fmi_install.env, FMI_RENDEZVOUS=addr, FMI_TOKEN="not-the-token",
               FMI_TIMEOUT_MS="5000")
    p = py("""
        import fmi
        try:
            fmi.Communicator(0, 2, comm_name="guarded")
        except fmi.AuthError as e:
            print("auth", e.code, e.message)
    """, env)
    assert "auth 6" in p.stdout and "token" in p.stdout, p.stdout


def test_ranks_started_by_hand(fmi_install, rendezvous, tmp_path):
    """The serverless path: processes started on their own, each with rank and size,
    meeting at a standalone fmi-rendezvous; rank 0 finds the server through an
    original-FMI JSON config file (config_path), the others through FMI_RENDEZVOUS."""
    addr, token = rendezvous
    host, port = addr.rsplit(":", 1)
    cfg = tmp_path / "fmi.json"
    cfg.write_text(json.dumps({"backends": {"Direct": {"host": host, "port": int(port),
                                                       "max_timeout": 30000}}}))
    env = dict(fmi_install.env, FMI_TOKEN=token)
    code = textwrap.dedent("""
        import sys, fmi
        rank, size, cfg = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None
        with fmi.Communicator(rank, size, comm_name="by-hand", config_path=cfg) as c:
            print("sum", c.allreduce(rank + 1))
    """)
    n = 3
    procs = [subprocess.Popen([sys.executable, "-c", code, str(r), str(n), str(cfg) if r == 0 else ""],
                              env=env if r == 0 else dict(env, FMI_RENDEZVOUS=addr),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(n)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all("sum 6" in o for o in outs), outs
