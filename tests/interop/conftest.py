"""Interop suite: drives an already-built `paycrypt serve` only through boto3 / the AWS CLI.

The binary is `$PAYCRYPT_BIN`, else target/release/paycrypt, else target/debug/paycrypt
(this file builds nothing; scripts/test.sh builds first).
"""
import glob
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCESS_KEY_ID = "AKIDPAYCRYPTINTEROP1"
SECRET_ACCESS_KEY = "interop/Secret+Key0123456789abcdefghijklm"
REGION = "us-east-1"


def _binary() -> str:
    env = os.environ.get("PAYCRYPT_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "paycrypt"
        if p.exists():
            return str(p)
    pytest.fail("paycrypt binary not found: build it (cargo build --release -p paycrypt) or set PAYCRYPT_BIN")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: pathlib.Path, extra_args=(), env_credentials=True, scheme="http", verify=None):
        self.port = _free_port()
        self.endpoint = f"{scheme}://127.0.0.1:{self.port}"
        self.data_dir = tmp / "data"
        self.audit_log = tmp / "audit.log"
        self.stdout = open(tmp / "stdout.log", "w")
        self.stderr = open(tmp / "stderr.log", "w")
        env = dict(os.environ, RUST_LOG="info")
        env.pop("PAYCRYPT_ACCESS_KEY_ID", None)
        env.pop("PAYCRYPT_SECRET_ACCESS_KEY", None)
        if env_credentials:
            env.update(PAYCRYPT_ACCESS_KEY_ID=ACCESS_KEY_ID, PAYCRYPT_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY)
        self.proc = subprocess.Popen(
            [
                _binary(),
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                str(self.data_dir),
                "--audit-log",
                str(self.audit_log),
                *extra_args,
            ],
            env=env,
            stdout=self.stdout,
            stderr=self.stderr,
        )
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"paycrypt exited early with {self.proc.returncode}: {(tmp / 'stderr.log').read_text()}")
            try:
                ctx = ssl.create_default_context(cafile=verify) if verify else None
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1, context=ctx) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError("paycrypt did not become healthy within 60 s")
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stdout.close()
        self.stderr.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("paycrypt"))
    yield s
    rc = s.stop()
    assert rc == 0, f"paycrypt exited with {rc} after SIGTERM"


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin_dir():
    """The directory holding initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: [int(x) if x.isdigit() else 0 for x in d.split("/")], reverse=True)
    for d in dirs:
        if d and os.path.isfile(os.path.join(d, "initdb")) and os.path.isfile(os.path.join(d, "pg_ctl")):
            # Follow a symlinked initdb (e.g. /usr/local/bin/initdb) to the directory that also
            # holds createdb.
            return os.path.dirname(os.path.realpath(os.path.join(d, "initdb")))
    return None


class PgCluster:
    """A throw-away PostgreSQL cluster: initdb into a temporary directory, pg_ctl start with only
    a Unix socket (in that directory) on a free port number, trust authentication for user
    `paycrypt`. As root the server binaries run as the `postgres` user (runuser)."""

    def __init__(self, bin_dir: str):
        self.bin = bin_dir
        self.as_postgres = os.geteuid() == 0
        # Not under pytest's tmp (mode 0700, closed to the postgres user); short for the socket path.
        self.dir = tempfile.mkdtemp(prefix="paycrypt-pg-")
        os.chmod(self.dir, 0o777)
        self.port = _free_port()
        self.data = os.path.join(self.dir, "data")
        self._run("initdb", "-D", self.data, "-U", "paycrypt", "-A", "trust", "-E", "UTF8", "--no-sync")
        opts = f"-k {self.dir} -c listen_addresses='' -p {self.port} -c fsync=off"
        self._opts = opts
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o", opts, "start")

    def _run(self, program, *args):
        cmd = [os.path.join(self.bin, program), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{program} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def url(self, db: str) -> str:
        """The URL form the keystore accepts: the socket directory percent-encoded as the host."""
        return f"postgres://paycrypt@{urllib.parse.quote(self.dir, safe='')}:{self.port}/{db}"

    def create_db(self, db: str) -> str:
        self._run("createdb", "-h", self.dir, "-p", str(self.port), "-U", "paycrypt", db)
        return self.url(db)

    def stop_server(self, mode="fast"):
        """Stop PostgreSQL (`pg_ctl stop -m MODE`) but keep the cluster for `start_server`."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def start_server(self):
        """Start a cluster stopped by `stop_server` again (same socket directory and port)."""
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o", self._opts, "start")

    def stop(self):
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    """The session's PostgreSQL cluster. Without PostgreSQL server binaries the tests that use it
    are skipped — or fail when PAYCRYPT_REQUIRE_POSTGRES is set (as in CI)."""
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        msg = "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin"
        if os.environ.get("PAYCRYPT_REQUIRE_POSTGRES"):
            pytest.fail(f"PAYCRYPT_REQUIRE_POSTGRES is set but {msg}")
        pytest.skip(f"{msg}: PostgreSQL-backed tests not run (install postgresql to run them)")
    c = PgCluster(bin_dir)
    yield c
    c.stop()


def master_key_file(tmp: pathlib.Path) -> pathlib.Path:
    p = tmp / "master.hex"
    p.write_text(os.urandom(32).hex())
    return p


@pytest.fixture(scope="session")
def pg_server(pg_cluster, tmp_path_factory):
    """A paycrypt server on its own PostgreSQL database."""
    tmp = tmp_path_factory.mktemp("paycrypt-pg")
    url = pg_cluster.create_db("interop")
    s = Server(tmp, extra_args=["--database-url", url, "--master-key-file", str(master_key_file(tmp))])
    yield s
    rc = s.stop()
    assert rc == 0, f"paycrypt (PostgreSQL) exited with {rc} after SIGTERM"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def any_server(request):
    """The SQLite-backed and then the PostgreSQL-backed server: a module that overrides `cp`/`dp`
    with this runs every test on both back ends."""
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


def client(server, service, **kw):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=kw.pop("region_name", REGION),
        aws_access_key_id=kw.pop("aws_access_key_id", ACCESS_KEY_ID),
        aws_secret_access_key=kw.pop("aws_secret_access_key", SECRET_ACCESS_KEY),
        config=kw.pop("config", Config(retries={"max_attempts": 1, "mode": "standard"})),
        **kw,
    )


@pytest.fixture(scope="session")
def cp(server):
    return client(server, "payment-cryptography")


@pytest.fixture(scope="session")
def dp(server):
    return client(server, "payment-cryptography-data")


MODES = {
    "B": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
    "E": {"Encrypt": True, "Wrap": True},
    "D": {"Decrypt": True, "Unwrap": True},
    "C": {"Generate": True, "Verify": True},
    "G": {"Generate": True},
    "V": {"Verify": True},
    "N": {"NoRestrictions": True},
}


def make_key(cp, usage, algorithm, modes="B", **kw):
    return cp.create_key(
        KeyAttributes={
            "KeyUsage": usage,
            "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": algorithm,
            "KeyModesOfUse": MODES[modes],
        },
        Exportable=kw.pop("Exportable", False),
        **kw,
    )["Key"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]
