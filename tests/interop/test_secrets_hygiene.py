"""Secrets hygiene (issue #7 item 6) and process hardening, against the real binary.

`test_no_secret_in_any_server_artefact` starts a dedicated server at the most verbose log level
(`RUST_LOG=trace`), with the audit log on, its master key in a file OUTSIDE its data directory
and API credentials from the environment (so the data directory is meant to hold no clear
secret at all). It runs every flow of examples/flows/ against it, then a set of requests that
fail (wrong PIN, tampered MAC, malformed hex / PAN / PIN block, unknown key, wrong key type, a
bad TR-31 block, a bad signature), and scans every artefact the server produced — stdout and
stderr logs, the audit log, every HTTP error body, `/metrics`, every file of the data directory
(SQLite database, WAL, SHM) while running and after shutdown — for every secret of the run.

The secrets are collected while the run happens, not listed by hand: every key handed to a
cipher or MAC on the Python side (`cryptography` Cipher/CMAC, pycryptodome DES/DES3/AES, hmac),
every DUKPT key pydukpt derives, every clear PIN block / PIN field psec encodes or decodes, every
PIN and PAN passed to those encoders, plus each flow's module constants (PAN, PIN, track data)
and the master key and SigV4 secret. Keys and PIN blocks are searched as upper- and lower-case
hex, raw bytes and base64; PANs and track data as ASCII and as hex of the ASCII.

PIN rule: a 4-6 digit PIN matches by chance in any hex or binary data (a 4-digit string occurs
about once per 10^4 random digit positions), so a bare PIN search would fail randomly. A clear
PIN is looked for where a match means a leak: as a clear PIN block / PIN field (16+ hex digits,
the encoded form a PIN travels in), and as the value of a PIN-labelled field (`"Pin": "1234"`,
`pin=1234`, `NewPin: 1234` — regex `pin\\w*["']?\\s*[:=]\\s*["']?<PIN>` not followed by a digit).

A positive control proves the scanner sees each artefact: a canary value planted through the
real API (a key tag value → database file; an unknown URL path → error body and trace log) and
the access key id (→ audit log) are found by the same scan function.

The hardening tests check `serve`'s no-core-dump / mlock start-up (crates/paycrypt/src/harden.rs)
from outside the process: /proc/<pid>/limits, VmLck in /proc/<pid>/status, and that a process
without CAP_SYS_PTRACE cannot open /proc/<pid>/mem of the server (it can for a dumpable
process of the same user: the control). Reading a live process's memory remains possible for
root with CAP_SYS_PTRACE: no-dump is about crash dumps and same-user debuggers, not root.
"""
import base64
import importlib
import json
import os
import pathlib
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY_ID, ROOT, SECRET_ACCESS_KEY, _binary, _free_port, client

FLOW_DIR = ROOT / "examples" / "flows"
sys.path.insert(0, str(FLOW_DIR))

pytestmark = pytest.mark.filterwarnings("ignore")

FLOWS = sorted(p.stem for p in FLOW_DIR.glob("*.py") if p.stem not in ("common", "tr34"))
ACCOUNT_ARN = "arn:aws:payment-cryptography:us-east-1:111122223333"


# ---------------------------------------------------------------- a server process


class Proc:
    """`paycrypt serve` with its own data directory and logs; optional command prefix
    (e.g. setpriv) and pre-exec hook (e.g. a lower RLIMIT_MEMLOCK)."""

    def __init__(self, tmp: pathlib.Path, args=(), env=None, prefix=(), preexec=None, healthy=True):
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp / "data"
        self.stdout_path, self.stderr_path = tmp / "stdout.log", tmp / "stderr.log"
        e = dict(os.environ, RUST_LOG="info", PAYCRYPT_ACCESS_KEY_ID=ACCESS_KEY_ID, PAYCRYPT_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY)
        e.pop("PAYCRYPT_LOG_FORMAT", None)
        e.update(env or {})
        cmd = [*prefix, _binary(), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir), *args]
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(cmd, env=e, stdout=out, stderr=err, preexec_fn=preexec)
        if healthy:
            self.wait_healthy()

    def wait_healthy(self):
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"paycrypt exited early ({self.proc.returncode}): {self.stderr_path.read_text()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
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
        return self.proc.returncode

    def stdout(self) -> str:
        return self.stdout_path.read_text()


# ---------------------------------------------------------------- collecting the secrets of the run


class Secrets:
    def __init__(self):
        self.binary = {}  # bytes -> label: keys, clear PIN blocks / fields
        self.text = {}  # str -> label: PANs, track data, API secret (ASCII, and hex of the ASCII)
        self.pins = set()

    def key(self, value, label):
        if isinstance(value, (bytes, bytearray)) and len(value) >= 8 and len(set(value)) > 2:
            self.binary.setdefault(bytes(value), label)

    def block(self, value, label):
        if isinstance(value, str):
            try:
                value = bytes.fromhex(value)
            except ValueError:
                return
        self.key(value, label)

    def pan(self, value):
        if isinstance(value, str) and value.isdigit() and 12 <= len(value) <= 19:
            self.text.setdefault(value, "PAN")

    def pin(self, value):
        if isinstance(value, str) and value.isdigit() and 4 <= len(value) <= 12:
            self.pins.add(value)

    def pin_and_pan(self, pin, pan):
        """A PIN with its PAN: also the deterministic clear forms the PIN travels in."""
        self.pin(pin)
        self.pan(pan)
        if not (isinstance(pin, str) and pin.isdigit() and isinstance(pan, str) and pan.isdigit()):
            return
        self.key(ORIG["encode_pinblock_iso_0"](pin, pan), "ISO 0 clear PIN block")
        self.block(f"0{len(pin):X}{pin}".ljust(16, "F"), "ISO 0 PIN field")
        self.block(f"4{len(pin):X}{pin}".ljust(16, "A"), "ISO 4 PIN field (fixed half)")

    def needles(self):
        """[(label, bytes)] to search for in binary haystacks."""
        out = []
        for v, label in self.binary.items():
            h = v.hex()
            out += [(f"{label} (hex)", h.encode()), (f"{label} (HEX)", h.upper().encode()), (f"{label} (raw)", v)]
            b64 = base64.b64encode(v).rstrip(b"=")
            out.append((f"{label} (base64)", b64[: len(b64) - 1]))
        for v, label in self.text.items():
            a = v.encode()
            out += [(label, a), (f"{label} (hex of ASCII)", a.hex().encode()), (f"{label} (HEX of ASCII)", a.hex().upper().encode())]
        return out


ORIG = {}


def install_recorders(monkeypatch, s: Secrets):
    """Record every secret the Python side of the run uses (see the module docstring)."""
    import hmac

    import psec.pinblock
    import pydukpt
    from Crypto.Cipher import AES as C_AES
    from Crypto.Cipher import DES as C_DES
    from Crypto.Cipher import DES3 as C_DES3
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import base as cipher_base

    pb = psec.pinblock
    for name in dir(pb):
        if name.startswith(("encode_", "decode_", "encipher_", "decipher_")):
            ORIG.setdefault(name, getattr(pb, name))

    orig_cipher_init = cipher_base.Cipher.__init__

    def cipher_init(self, algorithm, mode, *a, **kw):
        s.key(getattr(algorithm, "key", None), f"key ({type(algorithm).__name__})")
        return orig_cipher_init(self, algorithm, mode, *a, **kw)

    monkeypatch.setattr(cipher_base.Cipher, "__init__", cipher_init)

    orig_cmac = cmac.CMAC

    def cmac_ctor(algorithm, *a, **kw):
        s.key(getattr(algorithm, "key", None), "CMAC key")
        return orig_cmac(algorithm, *a, **kw)

    monkeypatch.setattr(cmac, "CMAC", cmac_ctor)

    orig_hmac_new = hmac.new

    def hmac_new(key, *a, **kw):
        s.key(key, "HMAC key")
        return orig_hmac_new(key, *a, **kw)

    monkeypatch.setattr(hmac, "new", hmac_new)

    for mod, label in ((C_DES, "DES key"), (C_DES3, "TDES key"), (C_AES, "AES key")):
        orig = mod.new

        def new(key, *a, _orig=orig, _label=label, **kw):
            s.key(key, _label)
            return _orig(key, *a, **kw)

        monkeypatch.setattr(mod, "new", new)

    for name in ("derive_ipek", "derive_key", "data_request_key", "data_response_key", "pin_key", "mac_request_key", "mac_response_key"):
        if hasattr(pydukpt, name):
            orig = getattr(pydukpt, name)

            def derive(*a, _orig=orig, _name=name, **kw):
                if a:  # the key (the other arguments, e.g. the KSN, are not secret)
                    s.key(a[0], f"pydukpt.{_name} key input")
                r = _orig(*a, **kw)
                s.key(r, f"DUKPT key ({_name})")
                return r

            monkeypatch.setattr(pydukpt, name, derive)
    if hasattr(pydukpt, "encrypt_pin"):
        orig_ep = pydukpt.encrypt_pin

        def encrypt_pin(key, pin, pan, *a, **kw):
            s.key(key, "DUKPT PIN key")
            s.pin_and_pan(pin, pan)
            return orig_ep(key, pin, pan, *a, **kw)

        monkeypatch.setattr(pydukpt, "encrypt_pin", encrypt_pin)

    def enc0(pin, pan, *a, **kw):
        r = ORIG["encode_pinblock_iso_0"](pin, pan, *a, **kw)
        s.pin_and_pan(pin, pan)
        s.key(r, "ISO 0 clear PIN block")
        return r

    def enc_other(name):
        def f(pin, *a, **kw):
            r = ORIG[name](pin, *a, **kw)
            s.pin(pin)
            for x in a:
                s.pan(x)
            s.key(r, f"clear PIN block ({name})")
            return r

        return f

    def dec(name):
        def f(*a, **kw):
            for x in a:
                s.key(x if isinstance(x, (bytes, bytearray)) else None, f"clear PIN block decoded ({name})")
                s.pan(x)
            r = ORIG[name](*a, **kw)
            s.pin(r)
            return r

        return f

    def encipher4(key, pin, pan, *a, **kw):
        s.key(key, "ISO 4 PIN key")
        s.pin_and_pan(pin, pan)
        return ORIG["encipher_pinblock_iso_4"](key, pin, pan, *a, **kw)

    def decipher4(key, block, pan, *a, **kw):
        s.key(key, "ISO 4 PIN key")
        s.pan(pan)
        r = ORIG["decipher_pinblock_iso_4"](key, block, pan, *a, **kw)
        s.pin(r)
        return r

    monkeypatch.setattr(pb, "encode_pinblock_iso_0", enc0)
    for name in ORIG:
        if name.startswith("encode_") and name not in ("encode_pinblock_iso_0", "encode_pan_field_iso_4"):
            monkeypatch.setattr(pb, name, enc_other(name))
        elif name.startswith("decode_"):
            monkeypatch.setattr(pb, name, dec(name))
    monkeypatch.setattr(pb, "encipher_pinblock_iso_4", encipher4)
    monkeypatch.setattr(pb, "decipher_pinblock_iso_4", decipher4)


def module_constants(module, s: Secrets):
    for name, v in vars(module).items():
        if not name.isupper():
            continue
        if "PAN" in name or "TOKEN" in name:
            s.pan(v)
        elif "PIN" in name and isinstance(v, str):
            s.pin(v)
        elif "TRACK" in name and isinstance(v, str):
            s.text.setdefault(v, f"{module.__name__}.{name} (track data)")
            s.text.setdefault(v.split("=", 1)[-1].strip("?"), f"{module.__name__}.{name} (track data after the PAN)") if "=" in v else None
        elif isinstance(v, bytes):
            s.key(v, f"{module.__name__}.{name}")


# ---------------------------------------------------------------- the scan


def pin_regex(pin: str) -> re.Pattern:
    return re.compile(rb"(?i)pin\w*[\"']?\s*[:=]\s*[\"']?" + pin.encode() + rb"(?![0-9])")


def scan(artefacts: dict, secrets: Secrets):
    """[(artefact, secret label, context)] for every secret found in an artefact."""
    hits = []
    needles = secrets.needles()
    pin_res = [(p, pin_regex(p)) for p in sorted(secrets.pins)]
    for name, data in artefacts.items():
        for label, needle in needles:
            i = data.find(needle)
            if i >= 0:
                hits.append((name, label, data[max(0, i - 60) : i].decode("latin-1")[-60:]))
        for p, rx in pin_res:
            m = rx.search(data)
            if m:
                hits.append((name, "clear PIN in a PIN-labelled field", m.group(0).decode("latin-1")))
    return hits


def artefacts(srv: Proc, error_bodies, when: str) -> dict:
    out = {}
    if srv.data_dir.exists():
        for p in sorted(srv.data_dir.rglob("*")):
            if p.is_file():
                out[f"data dir {when}: {p.name}"] = p.read_bytes()
    for p in (srv.stdout_path, srv.stderr_path, srv.tmp / "audit.log"):
        out[f"{p.name} {when}"] = p.read_bytes() if p.exists() else b""
    out["HTTP error bodies"] = b"\n".join(error_bodies)
    return out


# ---------------------------------------------------------------- failing requests


def failing_requests(srv: Proc, s: Secrets):
    """Error paths with secrets in the request: every call must fail."""
    import psec

    from common import Boundary, establish_kek, import_tr31, tdes_ecb

    cp = client(srv, "payment-cryptography")
    dp = client(srv, "payment-cryptography-data")
    log = Boundary("failing requests", quiet=True)
    kek_value, tpk_value, pvk_value, mac_value = (os.urandom(16) for _ in range(4))
    for v, label in ((kek_value, "test KEK"), (tpk_value, "test TPK"), (pvk_value, "test PVK"), (mac_value, "test HMAC key")):
        s.key(v, label)
    kek = establish_kek(cp, log, kek_value, "AES_128")
    tpk = import_tr31(cp, log, kek, "P0", "TDES_2KEY", "B", tpk_value, "TPK")
    pvk = import_tr31(cp, log, kek, "V2", "TDES_2KEY", "C", pvk_value, "PVK")
    mac = import_tr31(cp, log, kek, "M7", "HMAC_SHA256", "C", mac_value, "HMAC key")
    pan, pin, wrong_pin = "4000002345671234", "5802", "5803"
    track2 = f";{pan}=29121011000012300000?"
    s.text[track2] = "test track 2"
    pvv = psec.pin.generate_visa_pvv(pvk_value, "1", pin, pan)
    bad_block = tdes_ecb(tpk_value, psec.pinblock.encode_pinblock_iso_0(wrong_pin, pan)).hex().upper()
    good_block = tdes_ecb(tpk_value, psec.pinblock.encode_pinblock_iso_0(pin, pan)).hex().upper()
    s.pin_and_pan(pin, pan)
    clear_block = ORIG["encode_pinblock_iso_0"](pin, pan).hex().upper()
    t2hex = track2.encode().hex().upper()
    unknown = f"{ACCOUNT_ARN}:key/abcdefghijklmnop"

    def verify_pin(**over):
        a = dict(
            VerificationKeyIdentifier=pvk,
            EncryptionKeyIdentifier=tpk,
            VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
            EncryptedPinBlock=good_block,
            PrimaryAccountNumber=pan,
            PinBlockFormat="ISO_FORMAT_0",
        )
        a.update(over)
        return dp.verify_pin_data(**a)

    verify_pin()  # the right PIN verifies: the set-up is right, so the failures below are the intended ones
    real_mac = dp.generate_mac(KeyIdentifier=mac, MessageData=t2hex, GenerationAttributes={"Algorithm": "HMAC_SHA256"})["Mac"]
    tampered = ("0" if real_mac[0] != "0" else "1") + real_mac[1:]
    bad_sig = client(srv, "payment-cryptography-data", aws_secret_access_key="wrong/" + SECRET_ACCESS_KEY[6:])
    cases = {
        "wrong PIN": lambda: verify_pin(EncryptedPinBlock=bad_block),
        "malformed PIN block": lambda: verify_pin(EncryptedPinBlock=clear_block[:-1] + "G"),
        "malformed PAN (letter)": lambda: verify_pin(PrimaryAccountNumber=pan + "X"),
        "malformed PAN (too long)": lambda: verify_pin(PrimaryAccountNumber=pan + pan),
        "wrong PIN block format for the key": lambda: verify_pin(PinBlockFormat="ISO_FORMAT_3"),
        "tampered MAC": lambda: dp.verify_mac(KeyIdentifier=mac, MessageData=t2hex, Mac=tampered, VerificationAttributes={"Algorithm": "HMAC_SHA256"}),
        "malformed hex (plaintext)": lambda: dp.encrypt_data(KeyIdentifier=tpk, PlainText=t2hex + "Z", EncryptionAttributes={"Symmetric": {"Mode": "ECB"}}),
        "malformed hex (ciphertext)": lambda: dp.decrypt_data(KeyIdentifier=tpk, CipherText=clear_block + "G", DecryptionAttributes={"Symmetric": {"Mode": "ECB"}}),
        "malformed hex (MAC message)": lambda: dp.generate_mac(KeyIdentifier=mac, MessageData=t2hex + "Q", GenerationAttributes={"Algorithm": "HMAC_SHA256"}),
        "unknown key": lambda: dp.encrypt_data(KeyIdentifier=unknown, PlainText=t2hex[:32], EncryptionAttributes={"Symmetric": {"Mode": "ECB"}}),
        "unknown key (PIN)": lambda: verify_pin(EncryptionKeyIdentifier=unknown),
        "wrong key type (PVK to encrypt)": lambda: dp.encrypt_data(KeyIdentifier=pvk, PlainText=clear_block, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}}),
        "wrong key type (TPK as PVK)": lambda: verify_pin(VerificationKeyIdentifier=tpk),
        "wrong key type (MAC key for CVV)": lambda: dp.verify_card_validation_data(
            KeyIdentifier=mac, PrimaryAccountNumber=pan, VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "2912"}}, ValidationData="123"
        ),
        "TR-31 block under the wrong KEK": lambda: cp.import_key(
            KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek.arn, "WrappedKeyBlock": psec.tr31.wrap(os.urandom(16), "D0000P0TB00N0000", tpk_value)}}
        ),
        "bad signature": lambda: bad_sig.encrypt_data(KeyIdentifier=tpk, PlainText=clear_block, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}}),
    }
    codes = {}
    for name, call in cases.items():
        with pytest.raises(ClientError) as e:
            call()
        codes[name] = (e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"])
    assert codes["wrong PIN"][0] == "VerificationFailedException"
    assert codes["tampered MAC"][0] == "VerificationFailedException"
    assert codes["unknown key"][0] == "ResourceNotFoundException"
    assert all(status >= 400 for _, status in codes.values()), codes
    return codes


# ---------------------------------------------------------------- the test


def test_no_secret_in_any_server_artefact(tmp_path, monkeypatch):
    assert len(FLOWS) >= 6, FLOWS
    master = os.urandom(32)
    mk_file = tmp_path / "master.hex"
    mk_file.write_text(master.hex())
    srv = Proc(tmp_path / "srv", ["--audit-log", str(tmp_path / "srv" / "audit.log"), "--master-key-file", str(mk_file)], env={"RUST_LOG": "trace"})
    try:
        s = Secrets()
        s.key(master, "master key")
        s.text[SECRET_ACCESS_KEY] = "SigV4 secret access key"
        install_recorders(monkeypatch, s)
        error_bodies = []
        orig_client = boto3.session.Session.client

        def recording_client(self, *a, **kw):
            c = orig_client(self, *a, **kw)

            def after_call(http_response, **_):
                if http_response.status_code >= 400:
                    error_bodies.append(http_response.content)

            c.meta.events.register("after-call", after_call)
            return c

        monkeypatch.setattr(boto3.session.Session, "client", recording_client)
        monkeypatch.setenv("PAYCRYPT_ACCESS_KEY_ID", ACCESS_KEY_ID)
        monkeypatch.setenv("PAYCRYPT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)

        for name in FLOWS:
            module = importlib.import_module(name)
            module_constants(module, s)
            result = module.main(["--endpoint-url", srv.endpoint, "--quiet"])
            assert "OK" in result["lines"][-1], name
        codes = failing_requests(srv, s)

        # Positive control, planted through the real API: a canary (random, not a secret of the
        # run) as a key tag value -> database; in an unknown URL path -> error body and trace log.
        canary = os.urandom(16)
        cp = client(srv, "payment-cryptography")
        cp.create_key(
            KeyAttributes={"KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True, "Wrap": True}},
            Exportable=False,
            Tags=[{"Key": "canary", "Value": canary.hex().upper()}],
        )
        dp = client(srv, "payment-cryptography-data")
        dp.meta.events.register("before-sign.*", lambda request, **_: setattr(request, "url", request.url.replace("/keys/", f"/{canary.hex()}/keys/")))
        with pytest.raises(ClientError):
            dp.encrypt_data(KeyIdentifier="alias/x", PlainText="00" * 16, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}})

        with urllib.request.urlopen(srv.endpoint + "/metrics", timeout=5) as r:
            metrics = r.read()
        running = artefacts(srv, error_bodies, "while running")
        running["/metrics"] = metrics
        assert srv.stop() == 0
        stopped = artefacts(srv, error_bodies, "after shutdown")

        control = Secrets()
        control.key(canary, "canary")
        control.text[ACCESS_KEY_ID] = "access key id"
        found = {(a.split(":")[0], label) for a, label, _ in scan({**running, **stopped}, control)}
        db_hits = {a for a, label, _ in scan(running, control) if a.startswith("data dir") and label.startswith("canary")}
        assert db_hits, f"positive control: canary tag not found in the database files {sorted(running)}"
        assert any(a.startswith("stderr.log") and lab.startswith("canary") for a, lab in found), "positive control: canary not found in the trace log"
        assert ("HTTP error bodies", "canary (hex)") in found, "positive control: canary not found in the error bodies"
        assert any(a.startswith("audit.log") and lab == "access key id" for a, lab in found), "positive control: access key id not found in the audit log"
        assert b"VerifyPinData" in metrics, "metrics scraped"

        # The scan itself.
        assert len(s.binary) >= 30 and len(s.text) >= 6 and len(s.pins) >= 5, (len(s.binary), len(s.text), sorted(s.pins))
        assert len(error_bodies) >= len(codes), (len(error_bodies), codes)
        # Nothing in the tree emits at TRACE level (hyper's tracing is a compile-time opt-in that is
        # off); DEBUG lines (one "request failed" line per error, with its message) prove that the
        # filter is below the default INFO.
        assert stopped["stderr.log after shutdown"].count(b"DEBUG") >= len(codes), "no DEBUG lines: is RUST_LOG=trace in force?"
        hits = scan({**running, **stopped}, s)
        everything = {**running, **stopped}
        print(
            f"\nsecrets scan: {len(s.binary)} keys/PIN blocks, {len(s.text)} PANs/track data/API secret, "
            f"{len(s.pins)} PINs, {len(s.needles())} byte patterns + {len(s.pins)} PIN regexes over "
            f"{len(everything)} artefacts ({sum(map(len, everything.values()))} bytes; {len(error_bodies)} error bodies), "
            f"{len(hits)} hits\n" + "\n".join(f"  {k}: {len(v)} bytes" for k, v in everything.items())
        )
        assert not hits, "secrets found in server artefacts:\n" + "\n".join(f"  {a}: {label} after ...{ctx!r}" for a, label, ctx in hits[:40])
    finally:
        srv.stop()


# ---------------------------------------------------------------- no core dumps, memory locking


def proc_status(pid: int) -> dict:
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def core_limits(pid: int) -> tuple[str, str]:
    for line in pathlib.Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core limit line")


def hardening_line(srv: Proc) -> str:
    lines = [l for l in srv.stdout().splitlines() if l.startswith("paycrypt: hardening: ")]
    assert len(lines) == 1, srv.stdout()
    return lines[0]


def unprivileged(cmd):
    """`cmd` without CAP_SYS_PTRACE, CAP_IPC_LOCK and CAP_SYS_RESOURCE (as root: setpriv drops
    them from the bounding set, so the exec'd program does not get them)."""
    if os.geteuid() != 0:
        return list(cmd)
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop capabilities as root"
    return ["setpriv", "--bounding-set=-sys_ptrace,-ipc_lock,-sys_resource", *cmd]


def low_memlock():
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    lim = 8 << 20 if hard == resource.RLIM_INFINITY else min(hard, 8 << 20)
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (lim, lim))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="no-dump and mlock are Linux-only")
def test_serve_disables_core_dumps_and_locks_memory_when_it_can(tmp_path):
    srv = Proc(tmp_path / "a", ["--audit-log", "off"])
    try:
        line = hardening_line(srv)
        assert "dumpable=false core-limit=0 " in line, line
        assert core_limits(srv.proc.pid) == ("0", "0")
        locked_kb = int(proc_status(srv.proc.pid)["VmLck"].split()[0])
        if line.endswith("mlock=locked"):
            assert locked_kb > 0, line
        else:
            assert "mlock=skipped" in line and locked_kb == 0, (line, locked_kb)
            # Without privileges it is skipped only when RLIMIT_MEMLOCK is finite.
            assert resource.getrlimit(resource.RLIMIT_MEMLOCK)[1] != resource.RLIM_INFINITY
        if os.geteuid() == 0 and "mlock=locked" not in line:
            caps = int(proc_status(os.getpid())["CapEff"], 16)
            assert not caps & (1 << 14), "root with CAP_IPC_LOCK should have locked memory"
    finally:
        assert srv.stop() == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="no-dump and mlock are Linux-only")
def test_non_dumpable_server_cannot_be_inspected_and_mlock_require_refuses_when_limited(tmp_path):
    # Unprivileged server (no CAP_IPC_LOCK / CAP_SYS_RESOURCE, 8 MiB RLIMIT_MEMLOCK).
    srv = Proc(tmp_path / "a", ["--audit-log", "off"], prefix=unprivileged([]), preexec=low_memlock)
    control = subprocess.Popen(unprivileged(["sleep", "30"]), preexec_fn=low_memlock)
    try:
        line = hardening_line(srv)
        assert "dumpable=false core-limit=0 mlock=skipped (RLIMIT_MEMLOCK is 8192 KiB" in line, line
        assert int(proc_status(srv.proc.pid)["VmLck"].split()[0]) == 0
        assert "memory not locked" in srv.stderr_path.read_text()
        # A same-user process without CAP_SYS_PTRACE may open /proc/<pid>/mem (ptrace attach
        # mode: what gdb/gcore need) of a dumpable process (control) but not of the server:
        # PR_SET_DUMPABLE 0 is in force. (/proc/<pid>/environ is no proof: kernels let the same
        # uid read it regardless.)
        time.sleep(0.1)

        def open_mem(pid):
            probe = f"open('/proc/{pid}/mem', 'rb'); print('opened')"
            return subprocess.run(unprivileged([sys.executable, "-c", probe]), capture_output=True, text=True)

        yama = pathlib.Path("/proc/sys/kernel/yama/ptrace_scope")
        if not yama.exists() or yama.read_text().strip() == "0":
            ok = open_mem(control.pid)
            assert ok.returncode == 0 and "opened" in ok.stdout, ok.stderr
        denied = open_mem(srv.proc.pid)
        assert denied.returncode != 0 and "PermissionError" in denied.stderr, (denied.returncode, denied.stderr)
    finally:
        control.kill()
        control.wait()
        assert srv.stop() == 0
    # `--mlock require` refuses to start there, before opening the key store.
    req = Proc(tmp_path / "b", ["--audit-log", "off", "--mlock", "require"], prefix=unprivileged([]), preexec=low_memlock, healthy=False)
    assert req.proc.wait(timeout=30) == 1
    assert "--mlock require: memory could not be locked: skipped (RLIMIT_MEMLOCK" in req.stderr_path.read_text()
    assert not (req.data_dir / "paycrypt.db").exists()
    # `--mlock off` runs unlocked, without the warning, still non-dumpable.
    off = Proc(tmp_path / "c", ["--audit-log", "off", "--mlock", "off"], prefix=unprivileged([]), preexec=low_memlock)
    try:
        assert hardening_line(off).endswith("dumpable=false core-limit=0 mlock=off")
        assert "memory not locked" not in off.stderr_path.read_text()
    finally:
        assert off.stop() == 0
