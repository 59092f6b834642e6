"""The six end-to-end payment flows of examples/flows/ (issue #5), each run as its `main()` against
the real server: a flow that breaks fails the suite.

Each flow checks every value it receives against an independent Python computation and raises
on a mismatch; here we also check what it printed: full PANs never appear, and a clear PIN
appears only on lines labelled as the terminal's / app's own input or display.
"""
import importlib
import re
import sys

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY_ID, ROOT, SECRET_ACCESS_KEY

sys.path.insert(0, str(ROOT / "examples" / "flows"))

pytestmark = pytest.mark.filterwarnings("ignore")

PIN_LABELS = ("own input", "app side")


@pytest.fixture
def env_credentials(monkeypatch):
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    monkeypatch.setenv("PAYCRYPT_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("PAYCRYPT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)


def run_flow(name, server, capsys, extra=()):
    module = importlib.import_module(name)
    result = module.main(["--endpoint-url", server.endpoint, *extra])
    out = capsys.readouterr().out
    assert result["lines"] and "OK" in result["lines"][-1]
    assert out.splitlines() == result["lines"]
    check_printed(module, out)
    return module, result, out


def check_printed(module, out):
    pans = [getattr(module, n) for n in ("PAN", "VISA_TOKEN", "MC_TOKEN") if hasattr(module, n)]
    for pan in pans:
        assert pan not in out, f"full PAN printed by {module.__name__}"
    pins = {getattr(module, n) for n in ("PIN", "NEW_PIN") if hasattr(module, n)}
    for line in out.splitlines():
        tokens = set(re.split(r"[^0-9A-Za-z]+", line))
        for pin in pins & tokens:
            assert any(label in line for label in PIN_LABELS), f"clear PIN on an unlabelled line: {line}"


def test_p2pe_with_credentials_file(server, capsys, tmp_path, monkeypatch):
    # The README's way: the server's credentials file (AWS shared-credentials format).
    monkeypatch.delenv("PAYCRYPT_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("PAYCRYPT_SECRET_ACCESS_KEY", raising=False)
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n")
    module, result, out = run_flow("p2pe", server, capsys, ["--credentials-file", str(creds)])
    assert result["tdes"]["pan"] == result["aes"]["pan"] == "476173******0010"
    assert "DecryptData Dukpt TDES_2KEY" in out and "DecryptData Dukpt AES_128" in out
    assert module.TRACK2 not in out


def test_atm_pin_set(server, capsys, env_credentials):
    module, result, out = run_flow("atm_pin_set", server, capsys)
    assert result["results"] == {"correct PIN": "verified", "mistyped PIN": "INVALID_PIN"}
    assert f"pvv: {result['pvv']}" in out


def test_pin_purchase(server, capsys, env_credentials):
    _, result, out = run_flow("pin_purchase", server, capsys)
    # Both terminals' PINs arrive at the issuer as the same ISO 0 block under the zone key.
    assert result["IsoFormat0"]["zpk_block"] == result["IsoFormat4"]["zpk_block"]
    assert out.count("ARPC verified") == 2 and "INVALID_PIN" in out


def test_card_not_present(server, capsys, env_credentials):
    _, result, _ = run_flow("card_not_present", server, capsys)
    for k in ("cvv2", "dcvv", "cvc3"):
        assert result[k] == ["verified", "INVALID_VALIDATION_DATA"]


def test_mobile_pin_ecdh(server, capsys, env_credentials):
    try:
        _, result, out = run_flow("mobile_pin_ecdh", server, capsys)
    except ClientError as e:
        err = e.response["Error"]
        message = err.get("Message", "")
        # Skip ONLY while the server refuses ECDH-derived wrapped keys as not supported; any
        # other failure fails the test, and once the server supports them the flow runs.
        if err["Code"] == "ValidationException" and "not supported" in message and ("WrappedKey" in message or "DiffieHellman" in message):
            pytest.skip(f"server does not support ECDH wrapped keys yet: {message}")
        raise
    assert "PIN decrypted on the phone" in out and result["pvv"]


def test_key_exchange(server, capsys, env_credentials):
    _, result, out = run_flow("key_exchange", server, capsys)
    assert result["outbound"] and "TR-34 key block" in out and "(= partner's KCV)" in out
