"""Every example of README.md, run (issue #5: "keep each example in the README tested").

Convention: each fenced code block of README.md is preceded by a marker line
`<!-- test: KIND -->` that says how this file tests it:

* `server`: the server start command; the README server of this module is started from it
  (the built binary for `cargo run --release --`, in a fresh directory, on a free port).
* `run`: a shell block, run with bash against the README server.
* `run quickstart`: the quickstart's shell blocks, run in ONE bash session in README order
  (variables carry over, as in the user's terminal).
* `run calc`: `paycrypt calc` lines; each is run and its values checked against independent
  computations (psec, published ANSI X9.24-1 values).
* `output`: the expected stdout of the block run just before it.
* `python`: a Python block, executed against the README server.
* `file PATH`: the block must be the exact content of PATH (which a `run` block executes).
* `skip (REASON)`: not run, for the reason given (the test checks what it can: flags exist).

A block without a marker fails `test_every_block_is_marked`, so no example can be added untested
by accident. Before running, the README's literal values are replaced by the test's:
`cargo run --release --` by the built binary, `http://127.0.0.1:8080` by the README server's
endpoint, `paycrypt-data/` by its data directory, `.venv/bin/` by this interpreter's directory.
"""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from typing import NamedTuple

import psec
import pytest

from conftest import ROOT, _binary

warnings.filterwarnings("ignore")
pytestmark = pytest.mark.filterwarnings("ignore")

README = ROOT / "README.md"
MARKER = re.compile(r"<!-- test: (?P<kind>server|run(?: quickstart| calc)?|output|python|file (?P<path>\S+)|skip \((?P<reason>.+)\)) -->")
END = "@@README-BLOCK-END@@"


class Block(NamedTuple):
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    marker: str | None
    section: str


def readme_blocks() -> list[Block]:
    lines = README.read_text().splitlines()
    out, section, i = [], "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            assert j < len(lines), f"README.md:{i + 1}: unclosed code fence"
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            marker = lines[k].strip() if k >= 0 and lines[k].strip().startswith("<!-- test:") else None
            out.append(Block(i + 1, line[3:].strip(), "\n".join(lines[i + 1 : j]), marker, section))
            i = j + 1
            continue
        i += 1
    return out


BLOCKS = readme_blocks()


def kind(b: Block) -> str:
    m = MARKER.fullmatch(b.marker or "")
    assert m, f"README.md:{b.line}: unknown marker {b.marker!r}"
    if m.group("path"):
        return "file"
    if m.group("reason"):
        return "skip"
    return m.group("kind")


def binary() -> str:
    return os.path.abspath(_binary())


def venv_bin() -> str:
    return os.path.dirname(sys.executable)


# ---------------------------------------------------------------- the README's own server


class ReadmeServer:
    """`paycrypt serve` exactly as the README starts it: embedded defaults, fresh directory,
    generated credentials; only the port is chosen by the test."""

    def __init__(self, cwd: pathlib.Path, command: list[str]):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cwd = cwd
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.stdout_path, self.stderr_path = cwd / "stdout.log", cwd / "stderr.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYCRYPT_", "AWS_"))}
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen([*command, "--listen", f"127.0.0.1:{self.port}"], cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = time.time() + 60
        while True:
            assert self.proc.poll() is None, f"paycrypt exited: {self.stderr_path.read_text()}"
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "paycrypt did not become healthy within 60 s"
            time.sleep(0.1)

    def substitute(self, text: str) -> str:
        return (
            text.replace("cargo run --release --", binary())
            .replace("http://127.0.0.1:8080", self.endpoint)
            .replace("paycrypt-data/", f"{self.cwd}/paycrypt-data/")
            .replace(".venv/bin/", venv_bin() + "/")
        )

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYCRYPT_", "AWS_"))}
        env.update(
            PATH=venv_bin() + os.pathsep + env.get("PATH", ""),
            AWS_CONFIG_FILE=os.devnull,  # no user profile may change what the README does
            PAYCRYPT_ENDPOINT=self.endpoint,  # examples/flows: their default endpoint is the README's
        )
        return env

    def bash(self, script: str, timeout=300) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", "set -euo pipefail\n" + self.substitute(script)], cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory):
    servers = [b for b in BLOCKS if b.marker and kind(b) == "server"]
    assert servers and all(b.body == "cargo run --release -- serve" for b in servers)
    command = [binary(), *servers[0].body.split()[4:]]
    s = ReadmeServer(tmp_path_factory.mktemp("readme"), command)
    yield s
    assert s.stop() == 0


# ---------------------------------------------------------------- the convention itself


def test_every_block_is_marked():
    assert len(BLOCKS) >= 10
    for b in BLOCKS:
        assert b.marker, f"README.md:{b.line}: code block without a `<!-- test: ... -->` marker"
        kind(b)
    # No indented (unfenced) code blocks: they could not carry a marker.
    lines = README.read_text().splitlines()
    fenced = False
    for n, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("    ") and n > 0 and not lines[n - 1].strip():
            pytest.fail(f"README.md:{n + 1}: indented code block; use a fenced block with a marker")
    # An `output` block follows a block that is run.
    for prev, b in zip(BLOCKS, BLOCKS[1:]):
        if kind(b) == "output":
            assert kind(prev).startswith("run"), f"README.md:{b.line}: output of a block that is not run"


def test_setup_has_exactly_two_commands():
    """The set-up contract: start the server, run the tests (CI runs the same script)."""
    setup = [b for b in BLOCKS if b.section == "Set-up"]
    assert [b.body for b in setup] == ["cargo run --release -- serve", "scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec scripts/test.sh" in ci


def test_file_blocks_are_the_files():
    files = [b for b in BLOCKS if b.marker and kind(b) == "file"]
    assert files
    for b in files:
        path = MARKER.fullmatch(b.marker).group("path")
        assert b.body == (ROOT / path).read_text().rstrip("\n"), f"README.md:{b.line} differs from {path}"


def test_serve_flags_exist():
    """Flags the README gives to `paycrypt serve` (commands and the Options paragraph) exist."""
    help_text = subprocess.run([binary(), "serve", "--help"], capture_output=True, text=True, check=True).stdout
    text = README.read_text()
    options = re.search(r"^Options: (.*?)\n\n", text, re.S | re.M).group(1)
    flags = set(re.findall(r"--[a-z][a-z-]+", options))
    for b in BLOCKS:
        for cmd in re.findall(r"(?:paycrypt|cargo run --release --) serve([^\n]*)", b.body):
            flags |= set(re.findall(r"--[a-z][a-z-]+", cmd))
    assert {"--database-url", "--master-key-file", "--listen", "--data-dir"} <= flags
    for f in sorted(flags):
        assert re.search(rf"^\s+{re.escape(f)}\b", help_text, re.M), f"README mentions `serve {f}`, which does not exist"


# ---------------------------------------------------------------- the quickstart, end to end


def quickstart_constants():
    src = (ROOT / "examples" / "quickstart.py").read_text()
    zpk = re.search(r'TEST_ZPK = bytes.fromhex\("([0-9A-F]{32})"\)', src).group(1)
    pan, pin = re.search(r'PAN, PIN = "(\d+)", "(\d+)"', src).groups()
    return bytes.fromhex(zpk), pan, pin


def test_quickstart(readme_server):
    s = readme_server
    # Step 1: the server says where the credentials are, and they are there.
    assert "./paycrypt-data/credentials" in s.stdout_path.read_text()
    assert (s.cwd / "paycrypt-data" / "credentials").read_text().startswith("[default]")

    qs = [b for b in BLOCKS if b.section.startswith("Quickstart")]
    runs = [b for b in qs if b.marker and kind(b) == "run quickstart"]
    assert len(runs) >= 4
    script = "".join(f"{b.body}\necho {END}\n" for b in runs)
    r = s.bash(script)
    assert r.returncode == 0, r.stderr
    outputs = r.stdout.split(END + "\n")
    assert len(outputs) == len(runs) + 1 and outputs[-1] == ""
    by_block = {b.line: out for b, out in zip(runs, outputs)}

    # Every `output` block is what the block before it printed.
    for prev, b in zip(qs, qs[1:]):
        if b.marker and kind(b) == "output":
            assert by_block[prev.line].rstrip("\n") == b.body, f"README.md:{b.line}: the output shown is not what {prev.body!r} prints"

    # The translated block is right (computed independently with psec) and decodes to the PIN
    # the script encrypted.
    zpk, pan, pin = quickstart_constants()
    expected = psec.des.encrypt_tdes_ecb(zpk, psec.pinblock.encode_pinblock_iso_0(pin, pan)).hex().upper()
    printed = dict(line.split(":", 1) for line in "".join(outputs).splitlines() if ":" in line)
    assert printed["PIN block under the ZPK"].strip() == expected
    assert printed["ZPK key check value"].strip() == psec.des.generate_kcv(zpk, 3).hex().upper()
    assert printed["pin"].strip() == pin

    # The server's logs and audit lines (stderr) carry neither the PAN nor a PIN block.
    logs = s.stdout_path.read_text() + s.stderr_path.read_text()
    assert '"operation":"TranslatePinData"' in logs
    for secret in (pan, expected):
        assert secret not in logs


# ---------------------------------------------------------------- "Using the server", flows


def test_run_blocks(readme_server):
    runs = [b for b in BLOCKS if b.marker and kind(b) == "run"]
    assert len(runs) >= 2
    for b in runs:
        r = readme_server.bash(b.body)
        assert r.returncode == 0, f"README.md:{b.line}: {r.stderr}"
        if "list-keys" in b.body:
            assert "Keys" in json.loads(r.stdout)
        if "examples/flows/" in b.body:
            assert "OK" in r.stdout.splitlines()[-1]


def test_python_blocks(readme_server, monkeypatch):
    blocks = [b for b in BLOCKS if b.marker and kind(b) == "python"]
    assert blocks
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    # The comment in the snippet names the credentials file; boto3 finds it through this variable.
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(readme_server.cwd / "paycrypt-data" / "credentials"))
    for b in blocks:
        ns: dict = {}
        exec(compile(readme_server.substitute(b.body), f"README.md:{b.line}", "exec"), ns)
        if "encrypt_data" in b.body:
            plain = ns["dp"].decrypt_data(KeyIdentifier=ns["key"]["KeyArn"], CipherText=ns["ct"], DecryptionAttributes={"Symmetric": {"Mode": "CBC"}})["PlainText"]
            assert plain == "31323334353637383930313233343536" and ns["ct"] != plain


# ---------------------------------------------------------------- offline calculators


def calc_lines():
    blocks = [b for b in BLOCKS if b.marker and kind(b) == "run calc"]
    assert blocks
    return [line for b in blocks for line in b.body.splitlines() if line.strip()]


def run_calc(line: str) -> dict:
    assert line.startswith("cargo run --release -- calc ")
    r = subprocess.run([binary(), *line.split()[4:]], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{line}: {r.stderr}"
    return dict((k.strip(), v.strip()) for k, v in (l.split(":", 1) for l in r.stdout.splitlines() if ":" in l))


def test_calc_examples():
    seen = set()
    for line in calc_lines():
        out = run_calc(line)
        opt = dict(re.findall(r"--([a-z-]+) (\S+)", line))
        if " calc kcv " in line:
            assert out["kcv"] == psec.des.generate_kcv(bytes.fromhex(opt["key"]), 3).hex().upper()
            seen.add("kcv")
        elif " pinblock encode " in line:
            assert out["clear_pin_block"] == psec.pinblock.encode_pinblock_iso_0(opt["pin"], opt["pan"]).hex().upper()
            seen.add("pinblock")
        elif " dukpt derive " in line:
            # ANSI X9.24-1:2009 Appendix A.4 (BDK 0123…3210, KSN FFFF9876543210E0000x): the IPEK
            # and the PIN-variant key of counter 1.
            assert (opt["bdk"], opt["ksn"]) == ("0123456789ABCDEFFEDCBA9876543210", "FFFF9876543210E00001")
            assert out["ipek"] == "6AC292FAA1315B4D858AB3A3D7D5933A"
            assert out["pin_key"] == "042666B49184CF5C68DE9628D0397B36"
            seen.add("dukpt")
        elif " tr31 inspect " in line:
            blk = opt["block"]
            assert (out["version"], out["key_usage"], out["algorithm"], out["mode_of_use"], out["key_version"], out["exportability"]) == (
                blk[0], blk[5:7], blk[7], blk[8], blk[9:11], blk[11])
            seen.add("tr31")
        else:
            pytest.fail(f"no check for README calc example {line!r}")
    assert seen == {"kcv", "pinblock", "dukpt", "tr31"}


# ---------------------------------------------------------------- docs/OPERATIONS.md


def operations_doc() -> dict:
    """{operation: served?} from the tables of docs/OPERATIONS.md."""
    served, col = {}, None
    for line in (ROOT / "docs" / "OPERATIONS.md").read_text().splitlines():
        if not line.startswith("|"):
            col = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if "Served" in cells:
            col = cells.index("Served")
            continue
        if col is None or set(cells[0]) <= set("- "):
            continue
        for op in re.split(r",\s*|\s*/\s*", cells[0]):
            assert op not in served, f"{op} appears twice in docs/OPERATIONS.md"
            served[op] = {"yes": True, "no": False}[cells[col]]
    return served


def operations_code() -> dict:
    """{operation: served?} from the server's source (control.rs lists, data/mod.rs ROUTES)."""
    src = (ROOT / "crates" / "paycrypt-server" / "src" / "control.rs").read_text()
    ops = {}
    for name, served in (("SUPPORTED", True), ("NOT_YET_SUPPORTED", False)):
        body = re.search(rf"pub const {name}: &\[&str\] = &\[(.*?)\];", src, re.S).group(1)
        ops.update((op, served) for op in re.findall(r'"(\w+)"', body))
    routes = (ROOT / "crates" / "paycrypt-server" / "src" / "data" / "mod.rs").read_text()
    for op, handler in re.findall(r'operation: "(\w+)",.*?handler: (Some|None)', routes, re.S):
        ops[op] = handler == "Some"
    return ops


def test_operations_doc_lists_every_aws_operation_as_served_by_the_code():
    import botocore.session

    session = botocore.session.get_session()
    model = {op for svc in ("payment-cryptography", "payment-cryptography-data") for op in session.get_service_model(svc).operation_names}
    doc, code = operations_doc(), operations_code()
    assert set(doc) == model, f"docs/OPERATIONS.md vs the AWS model: missing {model - set(doc)}, extra {set(doc) - model}"
    assert set(code) == model, f"server source vs the AWS model: missing {model - set(code)}, extra {set(code) - model}"
    wrong = {op for op in model if doc[op] != code[op]}
    assert not wrong, f"docs/OPERATIONS.md says the wrong 'Served' for {sorted(wrong)}"


def test_readme_links_resolve():
    for doc in (README, ROOT / "docs" / "OPERATIONS.md", ROOT / "docs" / "SECURITY.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
            if not re.match(r"[a-z]+://", target):
                assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"
    text = README.read_text()
    for doc in ("docs/OPERATIONS.md", "docs/BENCHMARKS.md", "docs/SECURITY.md"):
        assert f"]({doc})" in text, f"README does not link {doc}"
