"""The `paycrypt keys` CLI's TR-34 paths, run as a subprocess against the interop server
(issue #5: "every command above works and is covered by tests (CLI tests that run the binary)").

`keys import --root-certificate`, `keys import-params --key-material-type TR34_KEY_BLOCK`,
`keys import --tr34`, `keys export-params` and `keys export --tr34`. The partner side (KDH / KRD
certificates, building and opening TR-34 blocks) is the independent Python implementation in
examples/flows/tr34.py; KCVs are computed with psec / cryptography, never by paycrypt.

`keys import --cryptogram` and `keys export --cryptogram` are covered by
crates/paycrypt/tests/ops.rs and not repeated here.
"""
import json
import os
import subprocess
import sys

import psec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import cmac, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms

from conftest import ACCESS_KEY_ID, ROOT, SECRET_ACCESS_KEY, _binary

sys.path.insert(0, str(ROOT / "examples" / "flows"))
from tr34 import OID_AES128_CBC, OID_DES_EDE3_CBC, make_ca, make_leaf, tr34_build, tr34_open  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")

S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"


# ---------------------------------------------------------------- independent computations


def kcv_tdes(key: bytes) -> str:
    return psec.des.generate_kcv(key, 3).hex().upper()


def kcv_aes_cmac(key: bytes) -> str:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(bytes(16))
    return c.finalize()[:3].hex().upper()


# ---------------------------------------------------------------- running the CLI


def run(server, *args):
    """Run `paycrypt --output json keys ARGS` against the interop server."""
    env = dict(os.environ, PAYCRYPT_ACCESS_KEY_ID=ACCESS_KEY_ID, PAYCRYPT_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY)
    env.pop("PAYCRYPT_ENDPOINT", None)
    return subprocess.run(
        [_binary(), "--output", "json", "keys", *[str(a) for a in args], "--endpoint-url", server.endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(server, *args) -> dict:
    p = run(server, *args)
    assert p.returncode == 0, f"{args}: {p.stderr}"
    assert p.stderr == "", p.stderr
    return json.loads(p.stdout)


def fails(server, code, *args) -> str:
    """A refused command: exit `code`, nothing on stdout, one `error:` line on stderr."""
    p = run(server, *args)
    assert p.returncode == code, f"{args}: exit {p.returncode}: {p.stderr}"
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    return lines[0]


def write_pem(path, cert: x509.Certificate):
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def import_root_ca(server, path) -> dict:
    k = ok(server, "import", "--root-certificate", path, "--usage", S0, "--algorithm", "RSA_2048", "--verify")["Key"]
    assert k["KeyAttributes"]["KeyClass"] == "PUBLIC_KEY" and k["KeyOrigin"] == "EXTERNAL"
    assert k["KeyAttributes"]["KeyUsage"] == S0
    return k


def load_pem(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# ---------------------------------------------------------------- the partners


@pytest.fixture(scope="module")
def kdh(server, tmp_path_factory):
    """A key distribution host in Python: its CA imported with `keys import --root-certificate`,
    and its signing certificate written to a PEM file."""
    d = tmp_path_factory.mktemp("cli-kdh")
    ca_key, ca_cert = make_ca(cn="cli KDH CA")
    ca = import_root_ca(server, write_pem(d / "kdh-ca.pem", ca_cert))
    key, cert = make_leaf(ca_key, ca_cert)
    return {"key": key, "cert": cert, "pem": write_pem(d / "kdh.pem", cert), "ca": ca, "ca_key": ca_key, "ca_cert": ca_cert, "dir": d}


@pytest.fixture(scope="module")
def krd(server, tmp_path_factory):
    """A key receiving device in Python: its CA imported with `keys import --root-certificate`,
    and RSA-2048 / RSA-3072 wrapping certificates (PEM files) with their private keys."""
    d = tmp_path_factory.mktemp("cli-krd")
    ca_key, ca_cert = make_ca(cn="cli KRD CA")
    ca = import_root_ca(server, write_pem(d / "krd-ca.pem", ca_cert))
    k2, c2 = make_leaf(ca_key, ca_cert)
    k3, c3 = make_leaf(ca_key, ca_cert, rsa.generate_private_key(public_exponent=65537, key_size=3072))
    return {"ca": ca, "rsa2048": (k2, c2, write_pem(d / "krd2048.pem", c2)), "rsa3072": (k3, c3, write_pem(d / "krd3072.pem", c3)), "dir": d}


def import_params(server, d, alg="RSA_2048"):
    """`keys import-params` for a TR-34 block: (token, wrapping certificate read from its file)."""
    cert_out, chain_out = d / f"wrap-{alg}.pem", d / f"wrap-{alg}-chain.pem"
    p = ok(server, "import-params", "--key-material-type", "TR34_KEY_BLOCK", "--wrapping-key-algorithm", alg, "--certificate-out", cert_out, "--chain-out", chain_out)
    assert p["WrappingKeyCertificate"] == str(cert_out) and p["WrappingKeyCertificateChain"] == str(chain_out)
    assert p["WrappingKeyAlgorithm"] == alg
    krd_cert = load_pem(cert_out)
    krd_cert.verify_directly_issued_by(load_pem(chain_out))
    return p["ImportToken"], krd_cert


def tr34_import_args(kdh, block: bytes, token: str, nonce: bytes):
    return ["import", "--tr34", block.hex().upper(), "--token", token, "--ca", kdh["ca"]["KeyArn"], "--signing-certificate", kdh["pem"], "--nonce", nonce.hex().upper()]


def cli_tr34_import(server, kdh, key: bytes, header: str, aes=False, alg="RSA_2048", kcv="ANSI_X9_24") -> dict:
    token, krd_cert = import_params(server, kdh["dir"], alg)
    nonce = os.urandom(8)
    block = tr34_build(key, header, nonce, kdh["cert"], kdh["key"], krd_cert, aes=aes)
    return ok(server, *tr34_import_args(kdh, block, token, nonce), "--kcv-algorithm", kcv)["Key"]


# ---------------------------------------------------------------- keys import --tr34


def test_cli_tr34_import(server, kdh):
    # TDES-2 KEK, RSA-2048 wrapping key, 8-byte nonce.
    key = psec.des.adjust_key_parity(os.urandom(16))
    k = cli_tr34_import(server, kdh, key, "D9999K0TB00E0000")
    assert k["KeyAttributes"]["KeyUsage"] == "TR31_K0_KEY_ENCRYPTION_KEY" and k["KeyAttributes"]["KeyAlgorithm"] == "TDES_2KEY"
    assert k["KeyCheckValue"] == kcv_tdes(key) and k["KeyCheckValueAlgorithm"] == "ANSI_X9_24"
    assert k["Exportable"] and k["KeyOrigin"] == "EXTERNAL"
    got = ok(server, "get", k["KeyArn"])["Key"]
    assert got["KeyCheckValue"] == kcv_tdes(key) and got["KeyState"] == "CREATE_COMPLETE"
    # AES-128 KBPK (RSA-3072 wrapping key, AES-128-CBC content), CMAC KCV, non-exportable.
    aes = os.urandom(16)
    k = cli_tr34_import(server, kdh, aes, "D9999K1AB00N0000", aes=True, alg="RSA_3072", kcv="CMAC")
    assert k["KeyAttributes"]["KeyUsage"] == "TR31_K1_KEY_BLOCK_PROTECTION_KEY" and k["KeyAttributes"]["KeyAlgorithm"] == "AES_128"
    assert k["KeyCheckValue"] == kcv_aes_cmac(aes) and not k["Exportable"]


def test_cli_tr34_import_refusals(server, kdh):
    key = psec.des.adjust_key_parity(os.urandom(16))
    nonce = os.urandom(8)
    # A tampered block: the server refuses it (exit 1, one line).
    token, krd_cert = import_params(server, kdh["dir"])
    tampered = bytearray(tr34_build(key, "D9999K0TB00E0000", nonce, kdh["cert"], kdh["key"], krd_cert))
    tampered[-300] ^= 1
    err = fails(server, 1, *tr34_import_args(kdh, bytes(tampered), token, nonce))
    assert "ValidationException" in err and key.hex().upper() not in err.upper()
    # A good block with another nonce than the one signed.
    token, krd_cert = import_params(server, kdh["dir"])
    good = tr34_build(key, "D9999K0TB00E0000", nonce, kdh["cert"], kdh["key"], krd_cert)
    err = fails(server, 1, *tr34_import_args(kdh, good, token, os.urandom(8)))
    assert "nonce" in err, err
    # No --nonce: the server names the missing RandomNonce.
    token, krd_cert = import_params(server, kdh["dir"])
    good = tr34_build(key, "D9999K0TB00E0000", nonce, kdh["cert"], kdh["key"], krd_cert)
    assert "RandomNonce" in fails(server, 1, *tr34_import_args(kdh, good, token, nonce)[:-2])
    # Command-line errors (exit 2, checked before any request): missing --ca / --signing-certificate
    # / --token, a signing certificate file that is not a certificate.
    args = tr34_import_args(kdh, good, token, nonce)
    no_ca = args[:5] + args[7:]
    assert "--ca" in fails(server, 2, *no_ca)
    assert "--signing-certificate" in fails(server, 2, *args[:7] + args[9:])
    assert "--token" in fails(server, 2, *args[:3] + args[5:])
    not_cert = kdh["dir"] / "not-a-cert.pem"
    not_cert.write_text("hello\n")
    assert "not a PEM certificate" in fails(server, 2, *args[:8] + [not_cert] + args[9:])


# ---------------------------------------------------------------- keys export --tr34


def export_params(server, d, name):
    cert_out, chain_out = d / f"{name}.pem", d / f"{name}-chain.pem"
    p = ok(server, "export-params", "--signing-key-algorithm", "RSA_2048", "--certificate-out", cert_out, "--chain-out", chain_out)
    assert p["SigningKeyCertificate"] == str(cert_out) and p["SigningKeyAlgorithm"] == "RSA_2048"
    kdh_cert = load_pem(cert_out)
    kdh_cert.verify_directly_issued_by(load_pem(chain_out))
    return p["ExportToken"], kdh_cert


def tr34_export_args(key_arn, krd, size, token, nonce: bytes, *extra):
    return ["export", key_arn, "--tr34", "--certificate", krd[size][2], "--ca", krd["ca"]["KeyArn"], "--token", token, "--nonce", nonce.hex().upper(), *extra]


def test_cli_tr34_export(server, krd):
    d = krd["dir"]
    # A TDES-2 KEK created by the server: the block opens (Python) to a key whose KCV is the
    # one `keys get` reports.
    k = ok(server, "create", "--usage", "TR31_K0_KEY_ENCRYPTION_KEY", "--algorithm", "TDES_2KEY", "--modes", "B", "--kcv-algorithm", "ANSI_X9_24")["Key"]
    kcv = ok(server, "get", k["KeyArn"])["Key"]["KeyCheckValue"]
    token, kdh_cert = export_params(server, d, "sign1")
    nonce = os.urandom(8)
    w = ok(server, *tr34_export_args(k["KeyArn"], krd, "rsa2048", token, nonce))["WrappedKey"]
    assert w["WrappedKeyMaterialFormat"] == "TR34_KEY_BLOCK" and w["KeyCheckValue"] == kcv
    key_pair, cert, _ = krd["rsa2048"]
    header, out, alg = tr34_open(bytes.fromhex(w["KeyMaterial"]), nonce, kdh_cert, cert, key_pair)
    assert kcv_tdes(out) == kcv and header[5:12] == "K0TB00E" and alg == OID_DES_EDE3_CBC
    # The token was used: a second export with it is refused (exit 1, one line).
    err = fails(server, 1, *tr34_export_args(k["KeyArn"], krd, "rsa2048", token, nonce))
    assert "already been used" in err, err
    # AES-128 to the RSA-3072 KRD, narrowed to decrypt/unwrap and marked non-exportable.
    a = ok(server, "create", "--usage", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "--algorithm", "AES_128", "--modes", "B")["Key"]
    kcv = ok(server, "get", a["KeyArn"])["Key"]["KeyCheckValue"]
    token, kdh_cert = export_params(server, d, "sign2")
    w = ok(server, *tr34_export_args(a["KeyArn"], krd, "rsa3072", token, nonce, "--modes", "D", "--exportability", "NON_EXPORTABLE"))["WrappedKey"]
    key_pair, cert, _ = krd["rsa3072"]
    header, out, alg = tr34_open(bytes.fromhex(w["KeyMaterial"]), nonce, kdh_cert, cert, key_pair)
    assert kcv_aes_cmac(out) == kcv and header[5:12] == "D0AD00N" and alg == OID_AES128_CBC


def test_cli_tr34_round_trip(server, kdh, krd):
    """A known key goes in by `keys import --tr34` and comes back out by `keys export --tr34`."""
    key = psec.des.adjust_key_parity(os.urandom(24))
    k = cli_tr34_import(server, kdh, key, "D9999P0TB00E0000")
    assert k["KeyAttributes"]["KeyAlgorithm"] == "TDES_3KEY" and k["KeyCheckValue"] == kcv_tdes(key)
    token, kdh_cert = export_params(server, krd["dir"], "sign-rt")
    nonce = os.urandom(16)
    w = ok(server, *tr34_export_args(k["KeyArn"], krd, "rsa2048", token, nonce))["WrappedKey"]
    key_pair, cert, _ = krd["rsa2048"]
    header, out, _ = tr34_open(bytes.fromhex(w["KeyMaterial"]), nonce, kdh_cert, cert, key_pair)
    assert out == key and header[5:7] == "P0"


def test_cli_tr34_export_refusals(server, kdh, krd):
    k = ok(server, "create", "--usage", "TR31_K0_KEY_ENCRYPTION_KEY", "--algorithm", "TDES_2KEY", "--modes", "B")["Key"]
    nonce = os.urandom(8)
    # A certificate the KRD CA did not sign (the KDH's): refused by the server.
    token, _ = export_params(server, krd["dir"], "sign-bad")
    args = ["export", k["KeyArn"], "--tr34", "--certificate", kdh["pem"], "--ca", krd["ca"]["KeyArn"], "--token", token, "--nonce", nonce.hex()]
    assert "does not verify" in fails(server, 1, *args)
    # A non-exportable key.
    secret = ok(server, "create", "--usage", "TR31_K0_KEY_ENCRYPTION_KEY", "--algorithm", "TDES_2KEY", "--modes", "B", "--no-exportable")["Key"]
    token, _ = export_params(server, krd["dir"], "sign-bad2")
    assert "not exportable" in fails(server, 1, *tr34_export_args(secret["KeyArn"], krd, "rsa2048", token, nonce))
    # Command-line errors: --tr34 without --token; export-params without --certificate-out.
    assert fails(server, 2, "export", k["KeyArn"], "--tr34", "--certificate", krd["rsa2048"][2], "--ca", krd["ca"]["KeyArn"])
    assert fails(server, 2, "export-params", "--signing-key-algorithm", "RSA_2048")
