"""Interop suite: drives an already-built `paycrypt serve` only through boto3 / the AWS CLI.

The binary is `$PAYCRYPT_BIN`, else target/release/paycrypt, else target/debug/paycrypt
(this file builds nothing; scripts/test.sh builds first).
"""
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import time
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
