"""Shared set-up for the end-to-end payment flows (examples/flows/*.py).

* `connect()`: boto3 control-plane and data-plane clients for a `paycrypt serve` endpoint, with
  credentials from `--credentials-file` (the `<data-dir>/credentials` file the server writes on
  first start), else `PAYCRYPT_ACCESS_KEY_ID` / `PAYCRYPT_SECRET_ACCESS_KEY`, else boto3's usual
  chain (`AWS_ACCESS_KEY_ID`, `AWS_SHARED_CREDENTIALS_FILE`, ...).
* `establish_kek()`: a key-encryption key established the way a real deployment bootstraps one,
  by KEY_CRYPTOGRAM: GetParametersForImport -> RSA-OAEP wrap of the known KEK in Python to the
  returned certificate (after checking it chains to the returned CA) -> ImportKey.
* `import_tr31()`: a known key wrapped in Python as a TR-31 key block (psec) under that KEK, then
  ImportKey; the KCV the server reports is checked against a KCV computed in Python.
* `Boundary`: prints what crosses each boundary, masked where a real system would mask.

Everything the "other side" (terminal, card, app, partner) computes is done here in Python with
psec / pyemv / pydukpt / cryptography, never by paycrypt.
"""
from __future__ import annotations

import argparse
import configparser
import os
import sys
import warnings
from typing import NamedTuple

import boto3
import psec
from botocore.config import Config
from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tr34 import load_api_cert

warnings.filterwarnings("ignore", module="cryptography")
warnings.filterwarnings("ignore", message=".*TripleDES.*")

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
DEFAULT_REGION = "us-east-1"

MODES = {
    "B": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
    "E": {"Encrypt": True, "Wrap": True},
    "D": {"Decrypt": True, "Unwrap": True},
    "C": {"Generate": True, "Verify": True},
    "G": {"Generate": True},
    "V": {"Verify": True},
    "X": {"DeriveKey": True},
    "N": {"NoRestrictions": True},
}

OAEP = {
    "RSA_OAEP_SHA_256": padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    "RSA_OAEP_SHA_512": padding.OAEP(mgf=padding.MGF1(hashes.SHA512()), algorithm=hashes.SHA512(), label=None),
}


class FlowError(Exception):
    """A value computed on one side does not match what the other side expected."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise FlowError(what)


# ---------------------------------------------------------------- clients


def arg_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--endpoint-url", default=os.environ.get("PAYCRYPT_ENDPOINT", DEFAULT_ENDPOINT), help=f"paycrypt serve endpoint (default {DEFAULT_ENDPOINT} or $PAYCRYPT_ENDPOINT)")
    p.add_argument("--credentials-file", help="the server's <data-dir>/credentials file (AWS shared-credentials format); default: $PAYCRYPT_ACCESS_KEY_ID/$PAYCRYPT_SECRET_ACCESS_KEY, else ./paycrypt-data/credentials if present, else boto3's chain")
    p.add_argument("--profile", default="default", help="profile in the credentials file (default: default)")
    p.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    p.add_argument("--quiet", action="store_true", help="print nothing (the flow still checks every value)")
    return p


def _credentials(args) -> dict:
    path = args.credentials_file
    if path is None and not os.environ.get("PAYCRYPT_ACCESS_KEY_ID") and os.path.exists("paycrypt-data/credentials"):
        path = "paycrypt-data/credentials"
    if path is not None:
        cfg = configparser.ConfigParser()
        if not cfg.read(path):
            raise SystemExit(f"cannot read credentials file {path}")
        section = cfg[args.profile]
        return {"aws_access_key_id": section["aws_access_key_id"], "aws_secret_access_key": section["aws_secret_access_key"]}
    if os.environ.get("PAYCRYPT_ACCESS_KEY_ID"):
        return {"aws_access_key_id": os.environ["PAYCRYPT_ACCESS_KEY_ID"], "aws_secret_access_key": os.environ["PAYCRYPT_SECRET_ACCESS_KEY"]}
    return {}  # boto3's default chain


def connect(args):
    """(control-plane client, data-plane client) for the endpoint in `args`."""
    session = boto3.Session(region_name=args.region, **_credentials(args))
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
    cp = session.client("payment-cryptography", endpoint_url=args.endpoint_url, config=cfg)
    dp = session.client("payment-cryptography-data", endpoint_url=args.endpoint_url, config=cfg)
    return cp, dp


# ---------------------------------------------------------------- printing what crosses a boundary


def mask_pan(pan: str) -> str:
    """First 6 and last 4 digits (PCI DSS 3.4 display masking)."""
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:] if len(pan) > 10 else "*" * len(pan)


def mask_track2(track2: str) -> str:
    """Track 2 as a log would show it: masked PAN; expiry, service code and discretionary data hidden."""
    body = track2.strip(";?")
    pan, _, rest = body.partition("=")
    return ";" + mask_pan(pan) + "=" + "*" * len(rest) + "?"


def short(value: str, keep: int = 16) -> str:
    """Long hex (ciphertexts, key blocks, certificates) shortened for display."""
    return value if len(value) <= 2 * keep + 3 else f"{value[:keep]}...{value[-keep:]} ({len(value)} chars)"


def arn(a: str) -> str:
    return a.rsplit("/", 1)[-1]


class Boundary:
    """Prints one line per value that crosses a boundary: `[from -> to] label: value`."""

    def __init__(self, title: str, quiet: bool = False, out=None):
        self.quiet = quiet
        self.out = out or sys.stdout
        self.lines: list[str] = []
        self.section(title, top=True)

    def _emit(self, line: str) -> None:
        self.lines.append(line)
        if not self.quiet:
            print(line, file=self.out, flush=True)

    def section(self, title: str, top: bool = False) -> None:
        self._emit(("=" if top else "-") * 4 + f" {title} " + ("=" if top else "-") * max(4, 72 - len(title)))

    def cross(self, src: str, dst: str, label: str, value: str = "") -> None:
        self._emit(f"[{src} -> {dst}] {label}" + (f": {value}" if value != "" else ""))

    def local(self, side: str, label: str, value: str = "") -> None:
        self._emit(f"[{side}] {label}" + (f": {value}" if value != "" else ""))


# ---------------------------------------------------------------- independent computations


def tdes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    c = Cipher(TripleDES(key), modes.ECB())
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(data) + x.finalize()


def tdes_cbc(key: bytes, data: bytes, iv: bytes = bytes(8), decrypt: bool = False) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    c = Cipher(TripleDES(key), modes.CBC(iv))
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(data) + x.finalize()


def aes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(algorithms.AES(key), modes.ECB())
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(data) + x.finalize()


def aes_cbc(key: bytes, data: bytes, iv: bytes = bytes(16), decrypt: bool = False) -> bytes:
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(data) + x.finalize()


def kcv_tdes(key: bytes) -> str:
    """ANSI X9.24 KCV: TDES-encrypt 8 zero bytes, 3 leftmost bytes."""
    return psec.des.generate_kcv(key, 3).hex().upper()


def kcv_aes(key: bytes) -> str:
    """CMAC KCV: AES-CMAC over 16 zero bytes, 3 leftmost bytes."""
    c = cmac.CMAC(algorithms.AES(key))
    c.update(bytes(16))
    return c.finalize()[:3].hex().upper()


def kcv(key: bytes, algorithm: str) -> str:
    if algorithm.startswith("TDES"):
        return kcv_tdes(key)
    if algorithm.startswith("AES"):
        return kcv_aes(key)
    import hmac as _hmac

    h = {"HMAC_SHA224": "sha224", "HMAC_SHA256": "sha256", "HMAC_SHA384": "sha384", "HMAC_SHA512": "sha512"}[algorithm]
    return _hmac.new(key, b"", h).digest()[:3].hex().upper()


def pkcs7(data: bytes, block: int) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def unpkcs7(data: bytes) -> bytes:
    n = data[-1]
    if not 1 <= n <= len(data) or data[-n:] != bytes([n]) * n:
        raise FlowError("bad PKCS#7 padding")
    return data[:-n]


# ANSI X9.24-3-2017 AES DUKPT, AES-128 BDK and AES-128 working keys, written from the standard
# (no Python oracle covers it); checked against the X9.24-3 supplement vector in `_selftest`.
AES_DUKPT_PIN = 0x1000
AES_DUKPT_MAC_GEN = 0x2000
AES_DUKPT_DATA_ENCRYPT = 0x3000  # DukptKeyVariant REQUEST
AES_DUKPT_DATA_DECRYPT = 0x3001  # DukptKeyVariant RESPONSE


def _aes_dd(usage: int, alg: int, bits: int, data: bytes) -> bytes:
    return bytes([1, 1]) + usage.to_bytes(2, "big") + alg.to_bytes(2, "big") + bits.to_bytes(2, "big") + data


def aes_dukpt_initial_key(bdk: bytes, ksn: bytes) -> bytes:
    """The initial key loaded into the terminal (derived from the BDK and the 8-byte initial key ID)."""
    return aes_ecb(bdk, _aes_dd(0x8001, 2, 128, ksn[:8]))


def aes_dukpt_working_key(initial_key: bytes, ksn: bytes, usage: int) -> bytes:
    """Terminal side: the working key for `usage` at the 12-byte KSN, from the terminal's initial key."""
    counter = int.from_bytes(ksn[8:], "big")
    key, working = initial_key, 0
    for bit in range(31, -1, -1):
        mask = 1 << bit
        if counter & mask:
            working |= mask
            key = aes_ecb(key, _aes_dd(0x8000, 2, 128, ksn[4:8] + working.to_bytes(4, "big")))
    return aes_ecb(key, _aes_dd(usage, 2, 128, ksn[4:8] + counter.to_bytes(4, "big")))


def _selftest() -> None:
    # X9.24-3-2017 supplement: BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, KSN 123456789012345600000001,
    # PIN encryption key AF8CB133A78F8DC2D1359F18527593FB.
    bdk, ksn = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1"), bytes.fromhex("123456789012345600000001")
    k = aes_dukpt_working_key(aes_dukpt_initial_key(bdk, ksn), ksn, AES_DUKPT_PIN)
    assert k.hex().upper() == "AF8CB133A78F8DC2D1359F18527593FB", "AES DUKPT reference implementation broken"


_selftest()


# ---------------------------------------------------------------- key set-up through the API


def key_attributes(usage: str, algorithm: str, modes: str = "B", key_class: str = "SYMMETRIC_KEY") -> dict:
    return {"KeyUsage": usage, "KeyClass": key_class, "KeyAlgorithm": algorithm, "KeyModesOfUse": MODES[modes]}


class Kek(NamedTuple):
    """A KEK held by both sides: its ARN in the HSM and (on the partner's side) its clear value."""

    arn: str
    key: bytes
    algorithm: str


def establish_kek(cp, log: Boundary, kek: bytes, algorithm: str, usage: str = "TR31_K1_KEY_BLOCK_PROTECTION_KEY", who: str = "key custodian") -> Kek:
    """Import the known KEK by KEY_CRYPTOGRAM (RSA-OAEP-SHA-256 to the import certificate)."""
    wrapping = "RSA_2048" if algorithm.startswith("TDES") else "RSA_3072"
    p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm=wrapping)
    cert = load_api_cert(p["WrappingKeyCertificate"])
    cert.verify_directly_issued_by(load_api_cert(p["WrappingKeyCertificateChain"]))
    log.cross("HSM", who, f"GetParametersForImport KEY_CRYPTOGRAM {wrapping}", f"wrapping certificate (chain verified), token {p['ImportToken']}")
    spec = "RSA_OAEP_SHA_256"
    wrapped = cert.public_key().encrypt(kek, OAEP[spec])
    log.cross(who, "HSM", f"ImportKey KeyCryptogram ({spec})", f"{usage} {algorithm}, cryptogram {short(wrapped.hex().upper())}")
    key = cp.import_key(
        KeyMaterial={
            "KeyCryptogram": {
                "KeyAttributes": key_attributes(usage, algorithm, "B"),
                "Exportable": True,
                "WrappedKeyCryptogram": wrapped.hex().upper(),
                "ImportToken": p["ImportToken"],
                "WrappingSpec": spec,
            }
        },
        KeyCheckValueAlgorithm="ANSI_X9_24" if algorithm.startswith("TDES") else "CMAC",
    )["Key"]
    expect(key["KeyCheckValue"] == kcv(kek, algorithm), f"KEK KCV {key['KeyCheckValue']} != {kcv(kek, algorithm)}")
    log.cross("HSM", who, "KEK imported", f"{arn(key['KeyArn'])} KCV {key['KeyCheckValue']} (matches)")
    return Kek(key["KeyArn"], kek, algorithm)


TR31_ALG = {"TDES_2KEY": "T", "TDES_3KEY": "T", "AES_128": "A", "AES_192": "A", "AES_256": "A", "HMAC_SHA256": "H"}


def import_tr31(cp, log: Boundary, kek: Kek, usage: str, algorithm: str, mode: str, key: bytes, name: str, who: str = "key custodian", exportable: bool = False) -> str:
    """Wrap a known key as TR-31 under the KEK (psec) and import it; returns its ARN.

    `usage` is the TR-31 two-character usage (e.g. "P0"), `mode` the TR-31 mode-of-use letter.
    """
    version = "D" if kek.algorithm.startswith("AES") else "B"
    optional = "0100HM0621" if algorithm == "HMAC_SHA256" else "0000"
    header = f"{version}0000{usage}{TR31_ALG[algorithm]}{mode}00{'E' if exportable else 'N'}{optional}"
    block = psec.tr31.wrap(kek.key, header, key)
    log.cross(who, "HSM", f"ImportKey Tr31KeyBlock ({name})", short(block, 20))
    k = cp.import_key(KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek.arn, "WrappedKeyBlock": block}})["Key"]
    expect(k["KeyAttributes"]["KeyAlgorithm"] == algorithm, f"{name}: algorithm {k['KeyAttributes']['KeyAlgorithm']}")
    expect(k["KeyCheckValue"] == kcv(key, algorithm), f"{name}: KCV {k['KeyCheckValue']} != {kcv(key, algorithm)}")
    log.cross("HSM", who, f"{name} imported", f"{arn(k['KeyArn'])} {k['KeyAttributes']['KeyUsage']} KCV {k['KeyCheckValue']} (matches)")
    return k["KeyArn"]


def error_of(exc) -> tuple[str, str]:
    """(code, VerificationFailedReason or message) of a botocore ClientError."""
    r = exc.response
    return r["Error"]["Code"], r.get("Reason", r["Error"].get("Message", ""))
