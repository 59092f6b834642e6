"""Key import and export through boto3: KEY_CRYPTOGRAM (RSA-OAEP), TR-31 (psec), root/trusted
certificates and GetPublicKeyCertificate. Every expected value (KCVs, ciphertexts, unwrapped
keys, certificate checks) is computed in Python with psec / cryptography, never by paycrypt."""
import base64
import datetime
import os
import re
import sys
import time
import warnings

import psec
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conftest import MODES, ROOT, client, error_code, make_key

sys.path.insert(0, str(ROOT / "examples" / "flows"))
from tr34 import OID_AES128_CBC, OID_DES_EDE3_CBC, make_ca, make_leaf, tr34_build, tr34_open  # noqa: E402

warnings.filterwarnings("ignore")
pytestmark = pytest.mark.filterwarnings("ignore")

K0 = "TR31_K0_KEY_ENCRYPTION_KEY"
K1 = "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
D0 = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
P0 = "TR31_P0_PIN_ENCRYPTION_KEY"
S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
D1 = "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION"

TDES2_KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TDES3_KEK = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98C2E0F3B4A59687D1")
AES_KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")


# Every test here runs on the SQLite-backed and on the PostgreSQL-backed server.
@pytest.fixture(scope="module")
def cp(any_server):
    return client(any_server, "payment-cryptography")


@pytest.fixture(scope="module")
def dp(any_server):
    return client(any_server, "payment-cryptography-data")


# ---------------------------------------------------------------- independent computations


def kcv_tdes(key: bytes) -> str:
    return psec.des.generate_kcv(key, 3).hex().upper()


def kcv_aes_cmac(key: bytes) -> str:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(bytes(16))
    return c.finalize()[:3].hex().upper()


def aes_ecb(key: bytes, data: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(data) + e.finalize()


def load_api_cert(s: str) -> x509.Certificate:
    pem = base64.b64decode(s)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    return x509.load_pem_x509_certificate(pem)


def api_cert(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


OAEP = {
    "RSA_OAEP_SHA_256": padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    "RSA_OAEP_SHA_512": padding.OAEP(mgf=padding.MGF1(hashes.SHA512()), algorithm=hashes.SHA512(), label=None),
}


def attrs(usage, algorithm, modes="B", key_class="SYMMETRIC_KEY"):
    return {"KeyUsage": usage, "KeyClass": key_class, "KeyAlgorithm": algorithm, "KeyModesOfUse": MODES[modes] if isinstance(modes, str) else modes}


def import_by_cryptogram(cp, key: bytes, usage, algorithm, modes="B", wrapping="RSA_2048", spec="RSA_OAEP_SHA_256", exportable=True, **kw):
    p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm=wrapping)
    cert = load_api_cert(p["WrappingKeyCertificate"])
    ct = cert.public_key().encrypt(key, OAEP[spec])
    return cp.import_key(
        KeyMaterial={
            "KeyCryptogram": {
                "KeyAttributes": attrs(usage, algorithm, modes),
                "Exportable": exportable,
                "WrappedKeyCryptogram": ct.hex().upper(),
                "ImportToken": p["ImportToken"],
                "WrappingSpec": spec,
            }
        },
        **kw,
    )["Key"]


def import_tr31(cp, kek_arn, block, **kw):
    return cp.import_key(KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn, "WrappedKeyBlock": block}}, **kw)["Key"]


@pytest.fixture(scope="module")
def keks(cp):
    return {
        "TDES2": import_by_cryptogram(cp, TDES2_KEK, K0, "TDES_2KEY"),
        "TDES3": import_by_cryptogram(cp, TDES3_KEK, K0, "TDES_3KEY"),
        "AES": import_by_cryptogram(cp, AES_KEK, K1, "AES_128", wrapping="RSA_3072", spec="RSA_OAEP_SHA_512"),
    }


# ---------------------------------------------------------------- GetParametersForImport


@pytest.mark.parametrize("alg,bits", [("RSA_2048", 2048), ("RSA_3072", 3072), ("RSA_4096", 4096)])
def test_parameters_for_import(cp, alg, bits):
    p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm=alg)
    assert re.fullmatch(r"import-token-[0-9a-zA-Z]{16,64}", p["ImportToken"])
    assert p["WrappingKeyAlgorithm"] == alg
    cert = load_api_cert(p["WrappingKeyCertificate"])
    chain = load_api_cert(p["WrappingKeyCertificateChain"])
    assert cert.public_key().key_size == bits
    cert.verify_directly_issued_by(chain)
    chain.verify_directly_issued_by(chain)
    assert chain.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment
    now = datetime.datetime.now(datetime.timezone.utc)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    days = (cert.not_valid_after_utc - now).days
    assert 29 <= days <= 30
    valid_until = p["ParametersValidUntilTimestamp"]
    assert 29 * 86400 < (valid_until - now).total_seconds() <= 30 * 86400 + 60
    # The CA is stable: the same chain every time.
    again = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048")
    assert again["WrappingKeyCertificateChain"] == p["WrappingKeyCertificateChain"]
    assert again["ImportToken"] != p["ImportToken"]


def test_parameters_for_import_reuse_and_refusals(cp):
    a = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048")
    b = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048", ReuseLastGeneratedToken=True)
    assert b["ImportToken"] == a["ImportToken"] and b["WrappingKeyCertificate"] == a["WrappingKeyCertificate"]
    for kw in (
        {"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "AES_128"},
        {"KeyMaterialType": "TR31_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048"},
        {"KeyMaterialType": "ROOT_PUBLIC_KEY_CERTIFICATE", "WrappingKeyAlgorithm": "RSA_2048"},
    ):
        with pytest.raises(cp.exceptions.ValidationException):
            cp.get_parameters_for_import(**kw)


# ---------------------------------------------------------------- ImportKey KeyCryptogram


def test_import_key_cryptogram(cp, dp):
    k = import_by_cryptogram(cp, TDES2_KEK, K0, "TDES_2KEY", KeyCheckValueAlgorithm="ANSI_X9_24")
    assert k["KeyOrigin"] == "EXTERNAL" and k["KeyState"] == "CREATE_COMPLETE"
    assert k["KeyCheckValue"] == kcv_tdes(TDES2_KEK) and k["KeyCheckValueAlgorithm"] == "ANSI_X9_24"
    data_key = os.urandom(16)
    d = import_by_cryptogram(cp, data_key, D0, "AES_128", wrapping="RSA_4096", spec="RSA_OAEP_SHA_512")
    assert d["KeyCheckValue"] == kcv_aes_cmac(data_key) and d["KeyCheckValueAlgorithm"] == "CMAC"
    pt = os.urandom(32)
    r = dp.encrypt_data(KeyIdentifier=d["KeyArn"], PlainText=pt.hex(), EncryptionAttributes={"Symmetric": {"Mode": "ECB"}})
    assert bytes.fromhex(r["CipherText"]) == aes_ecb(data_key, pt)


def test_import_key_cryptogram_refusals(cp):
    p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048")
    pub = load_api_cert(p["WrappingKeyCertificate"]).public_key()

    def attempt(token, ct, a=None, spec="RSA_OAEP_SHA_256"):
        return cp.import_key(
            KeyMaterial={
                "KeyCryptogram": {
                    "KeyAttributes": a or attrs(K0, "TDES_2KEY"),
                    "Exportable": True,
                    "WrappedKeyCryptogram": ct.hex().upper(),
                    "ImportToken": token,
                    "WrappingSpec": spec,
                }
            }
        )

    good = pub.encrypt(TDES2_KEK, OAEP["RSA_OAEP_SHA_256"])
    attempt(p["ImportToken"], good)
    # Single-use token (AWS allows reuse; paycrypt does not).
    with pytest.raises(cp.exceptions.ValidationException) as e:
        attempt(p["ImportToken"], good)
    assert "already been used" in str(e.value)
    with pytest.raises(cp.exceptions.ValidationException):
        attempt("import-token-" + "a" * 32, good)

    def fresh(alg="RSA_2048"):
        q = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm=alg)
        return q["ImportToken"], load_api_cert(q["WrappingKeyCertificate"]).public_key()

    # Wrong WrappingSpec (encrypted with SHA-256, declared SHA-512).
    t, pk = fresh()
    with pytest.raises(cp.exceptions.ValidationException) as e:
        attempt(t, pk.encrypt(TDES2_KEK, OAEP["RSA_OAEP_SHA_256"]), spec="RSA_OAEP_SHA_512")
    assert "does not decrypt" in str(e.value)
    # Tampered cryptogram.
    t, pk = fresh()
    ct = bytearray(pk.encrypt(TDES2_KEK, OAEP["RSA_OAEP_SHA_256"]))
    ct[10] ^= 1
    with pytest.raises(cp.exceptions.ValidationException):
        attempt(t, bytes(ct))
    # Encrypted to another wrapping key.
    t, _ = fresh()
    _, other = fresh()
    with pytest.raises(cp.exceptions.ValidationException):
        attempt(t, other.encrypt(TDES2_KEK, OAEP["RSA_OAEP_SHA_256"]))
    # AES-128 needs RSA-3072/4096; AES-256 is not carried at all.
    t, pk = fresh()
    with pytest.raises(cp.exceptions.ValidationException) as e:
        attempt(t, pk.encrypt(AES_KEK, OAEP["RSA_OAEP_SHA_256"]), a=attrs(K0, "AES_128"))
    assert "RSA_3072" in str(e.value)
    t, pk = fresh("RSA_3072")
    with pytest.raises(cp.exceptions.ValidationException):
        attempt(t, pk.encrypt(bytes(32), OAEP["RSA_OAEP_SHA_256"]), a=attrs(K0, "AES_256"))
    # Bad attribute combination (K0 with Generate) and wrong key length.
    t, pk = fresh()
    with pytest.raises(cp.exceptions.ValidationException):
        attempt(t, pk.encrypt(TDES2_KEK, OAEP["RSA_OAEP_SHA_256"]), a=attrs(K0, "TDES_2KEY", "G"))
    t, pk = fresh()
    with pytest.raises(cp.exceptions.ValidationException) as e:
        attempt(t, pk.encrypt(TDES3_KEK, OAEP["RSA_OAEP_SHA_256"]), a=attrs(K0, "TDES_2KEY"))
    assert "not a TDES_2KEY key" in str(e.value)
    # Malformed members.
    with pytest.raises(ClientError) as e:
        attempt("not-a-token", good)
    assert error_code(e) == "ValidationException" and "ImportToken" in str(e.value)
    with pytest.raises(ClientError) as e:
        cp.import_key(KeyMaterial={"KeyCryptogram": {"KeyAttributes": attrs(K0, "TDES_2KEY"), "Exportable": True, "WrappedKeyCryptogram": "ab" * 16, "ImportToken": p["ImportToken"]}})
    assert error_code(e) == "ValidationException" and "WrappedKeyCryptogram" in str(e.value)


# ---------------------------------------------------------------- ImportKey TR-31


@pytest.mark.parametrize(
    "kek,header,key_len,algorithm,kcv",
    [
        ("TDES3", "B0000P0TE00E0000", 16, "TDES_2KEY", kcv_tdes),
        ("TDES3", "A0000D0TB00E0000", 24, "TDES_3KEY", kcv_tdes),
        ("TDES3", "C0000K0TD00N0000", 16, "TDES_2KEY", kcv_tdes),
        ("TDES2", "B0000M3TC00E0000", 16, "TDES_2KEY", kcv_tdes),
        ("AES", "D0000D0AB00E0000", 16, "AES_128", kcv_aes_cmac),
        ("AES", "D0000K0TB00S0000", 24, "TDES_3KEY", kcv_tdes),
    ],
)
def test_import_tr31_from_psec(cp, keks, kek, header, key_len, algorithm, kcv):
    kek_bytes = {"TDES2": TDES2_KEK, "TDES3": TDES3_KEK, "AES": AES_KEK}[kek]
    key = psec.des.adjust_key_parity(os.urandom(key_len)) if algorithm.startswith("TDES") else os.urandom(key_len)
    block = psec.tr31.wrap(kek_bytes, header, key)
    k = import_tr31(cp, keks[kek]["KeyArn"], block)
    a = k["KeyAttributes"]
    assert a["KeyAlgorithm"] == algorithm and a["KeyClass"] == "SYMMETRIC_KEY"
    assert a["KeyUsage"].startswith("TR31_" + header[5:7] + "_")
    assert a["KeyModesOfUse"] == {m: m in MODES[header[8]] for m in ["Encrypt", "Decrypt", "Wrap", "Unwrap", "Generate", "Sign", "Verify", "DeriveKey", "NoRestrictions"]}
    assert k["Exportable"] == (header[11] != "N")
    assert k["KeyCheckValue"] == kcv(key) and k["KeyOrigin"] == "EXTERNAL"


def test_import_tr31_working_key_works(cp, dp, keks):
    key = os.urandom(16)
    block = psec.tr31.wrap(AES_KEK, "D0000D0AB00E0000", key)
    k = import_tr31(cp, keks["AES"]["KeyArn"], block, Tags=[{"Key": "src", "Value": "psec"}])
    pt = os.urandom(16)
    r = dp.encrypt_data(KeyIdentifier=k["KeyArn"], PlainText=pt.hex(), EncryptionAttributes={"Symmetric": {"Mode": "ECB"}})
    assert bytes.fromhex(r["CipherText"]) == aes_ecb(key, pt)


def test_import_tr31_hmac_key(cp, keks):
    key = os.urandom(32)
    block = psec.tr31.wrap(AES_KEK, "D0000M7HC00E0100HM0621", key)
    k = import_tr31(cp, keks["AES"]["KeyArn"], block)
    assert k["KeyAttributes"]["KeyAlgorithm"] == "HMAC_SHA256"


def test_import_tr31_refusals(cp, keks):
    aes_kek = keks["AES"]["KeyArn"]
    tdes_kek = keks["TDES3"]["KeyArn"]
    key = os.urandom(16)
    block = psec.tr31.wrap(AES_KEK, "D0000D0AB00E0000", key)

    def refused(kek, blk, text=None):
        with pytest.raises(cp.exceptions.ValidationException) as e:
            import_tr31(cp, kek, blk)
        if text:
            assert text in str(e.value), str(e.value)

    # Tampered block (MAC, header, payload).
    last = "0" if block[-1] != "0" else "1"
    refused(aes_kek, block[:-1] + last, "does not authenticate")
    refused(aes_kek, block.replace("D0AB00E", "D0AE00E", 1), "does not authenticate")
    mid = len(block) - 40
    refused(aes_kek, block[:mid] + ("0" if block[mid] != "0" else "1") + block[mid + 1 :], "does not authenticate")
    # Wrong KEK of the right type.
    other = import_by_cryptogram(cp, os.urandom(16), K1, "AES_128", wrapping="RSA_3072")
    refused(other["KeyArn"], block, "does not authenticate")
    # Version D under a TDES KEK, version B under an AES KEK.
    refused(tdes_kek, block, "version A, B or C")
    refused(aes_kek, psec.tr31.wrap(TDES3_KEK, "B0000P0TE00E0000", psec.des.adjust_key_parity(key)), "version D")
    # KEK weaker than the key (TDES-2 KEK: 80 bits; TDES-3 key: 112 bits).
    k3 = psec.des.adjust_key_parity(os.urandom(24))
    refused(keks["TDES2"]["KeyArn"], psec.tr31.wrap(TDES2_KEK, "B0000P0TE00E0000", k3), "at least as strong")
    refused(aes_kek, psec.tr31.wrap(AES_KEK, "D0000D0AB00E0000", os.urandom(32)), "at least as strong")
    # Unsupported usage / mode of use, bad attribute combination.
    refused(aes_kek, psec.tr31.wrap(AES_KEK, "D0000B1AX00E0000", key), "not supported")
    refused(aes_kek, psec.tr31.wrap(AES_KEK, "D0000D0AS00E0000", key))  # D0 with Sign
    refused(aes_kek, psec.tr31.wrap(AES_KEK, "D0000P0AG00E0000", key))  # P0 with Generate
    # The KEK must be a K0/K1 key allowed to unwrap.
    enc_only = import_by_cryptogram(cp, AES_KEK, K0, "AES_128", modes="E", wrapping="RSA_3072")
    refused(enc_only["KeyArn"], block, "Unwrap")
    d0 = import_by_cryptogram(cp, AES_KEK, D0, "AES_128", wrapping="RSA_3072")
    refused(d0["KeyArn"], block, "KeyUsage")
    # Disabled, deleted and unknown KEKs.
    cp.stop_key_usage(KeyIdentifier=d0["KeyArn"])
    kek2 = import_by_cryptogram(cp, AES_KEK, K1, "AES_128", wrapping="RSA_3072")
    assert import_tr31(cp, kek2["KeyArn"], block)["KeyCheckValue"] == kcv_aes_cmac(key)
    cp.stop_key_usage(KeyIdentifier=kek2["KeyArn"])
    refused(kek2["KeyArn"], block, "disabled")
    cp.delete_key(KeyIdentifier=kek2["KeyArn"], DeleteKeyInDays=3)
    refused(kek2["KeyArn"], block, "DELETE_PENDING")
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        import_tr31(cp, "alias/no-such-kek", block)
    # Malformed member.
    with pytest.raises(ClientError) as e:
        import_tr31(cp, aes_kek, "D0016" + "!" * 60)
    assert error_code(e) == "ValidationException" and "WrappedKeyBlock" in str(e.value)
    # Unsupported union members.
    with pytest.raises(ClientError) as e:
        cp.import_key(KeyMaterial={"Tr34KeyBlock": {"CertificateAuthorityPublicKeyIdentifier": aes_kek, "SigningKeyCertificate": "AA", "WrappedKeyBlock": "AA", "KeyBlockFormat": "X9_TR34_2012"}})
    assert error_code(e) == "ValidationException" and "Tr34KeyBlock" in str(e.value)


# ---------------------------------------------------------------- ExportKey TR-31


def export_tr31(cp, key_arn, kek_arn, headers=None, **kw):
    m = {"WrappingKeyIdentifier": kek_arn}
    if headers is not None:
        m["KeyBlockHeaders"] = headers
    return cp.export_key(KeyMaterial={"Tr31KeyBlock": m}, ExportKeyIdentifier=key_arn, **kw)["WrappedKey"]


def test_export_tr31_unwraps_with_psec(cp, keks):
    # A key created in paycrypt: psec recovers it; its KCV (computed in Python) matches.
    k = make_key(cp, D0, "AES_128", "B", Exportable=True)
    w = export_tr31(cp, k["KeyArn"], keks["AES"]["KeyArn"])
    assert w["WrappedKeyMaterialFormat"] == "TR31_KEY_BLOCK" and w["WrappingKeyArn"] == keks["AES"]["KeyArn"]
    header, key = psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])
    assert w["KeyMaterial"][:1] == "D" and w["KeyMaterial"][5:12] == "D0AB00E"
    assert kcv_aes_cmac(key) == k["KeyCheckValue"] == w["KeyCheckValue"] and w["KeyCheckValueAlgorithm"] == "CMAC"
    # TDES key under a TDES KEK: version B; narrower modes, key version, exportability, optional block.
    t = make_key(cp, P0, "TDES_2KEY", "B", Exportable=True)
    w = export_tr31(
        cp,
        t["KeyArn"],
        keks["TDES3"]["KeyArn"],
        {"KeyModesOfUse": {"Encrypt": True, "Wrap": True}, "KeyVersion": "07", "KeyExportability": "NON_EXPORTABLE", "OptionalBlocks": {"TS": "20261121120000Z"}},
        ExportAttributes={"KeyCheckValueAlgorithm": "CMAC"},
    )
    header, key = psec.tr31.unwrap(TDES3_KEK, w["KeyMaterial"])
    assert str(header).startswith("B") and str(header)[5:16] == "P0TE07N0200"
    assert header.blocks["TS"] == "20261121120000Z"
    assert kcv_tdes(key) == t["KeyCheckValue"]
    c = cmac.CMAC(algorithms.TripleDES(key))  # CMAC KCV requested for the export
    c.update(bytes(8))
    assert w["KeyCheckValue"] == c.finalize()[:3].hex().upper() and w["KeyCheckValueAlgorithm"] == "CMAC"


def test_tr31_round_trip_psec_to_paycrypt_to_psec(cp, keks):
    key = psec.des.adjust_key_parity(os.urandom(24))
    imported = import_tr31(cp, keks["AES"]["KeyArn"], psec.tr31.wrap(AES_KEK, "D0000K0TB00E0000", key))
    w = export_tr31(cp, imported["KeyArn"], keks["AES"]["KeyArn"])
    header, out = psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])
    assert out == key and str(header)[5:12] == "K0TB00E"


def test_export_tr31_refusals(cp, keks):
    aes_kek = keks["AES"]["KeyArn"]

    def refused(key_arn, kek, headers=None, text=None, exc=None):
        with pytest.raises((exc or cp.exceptions.ValidationException)) as e:
            export_tr31(cp, key_arn, kek, headers)
        if text:
            assert text in str(e.value), str(e.value)

    secret = make_key(cp, D0, "AES_128", "B", Exportable=False)
    refused(secret["KeyArn"], aes_kek, text="not exportable")
    k = make_key(cp, D0, "AES_128", "E", Exportable=True)
    refused(k["KeyArn"], aes_kek, {"KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}}, "more restrictive")
    refused(k["KeyArn"], aes_kek, {"KeyModesOfUse": {"NoRestrictions": True}}, "more restrictive")
    refused(k["KeyArn"], aes_kek, {"KeyModesOfUse": {"Encrypt": True}}, "no TR-31 mode")
    refused(k["KeyArn"], aes_kek, {"OptionalBlocks": {"PB": "00"}}, "PB")
    refused(k["KeyArn"], aes_kek, {"OptionalBlocks": {"A1": "x" * 60, "A2": "y" * 60}}, "112")
    # Weaker KEK, KEK that may not wrap, the key under itself.
    refused(k["KeyArn"], keks["TDES3"]["KeyArn"], text="at least as strong")
    unwrap_only = import_by_cryptogram(cp, os.urandom(16), K1, "AES_128", modes="D", wrapping="RSA_3072")
    refused(k["KeyArn"], unwrap_only["KeyArn"], text="Wrap")
    kek_self = make_key(cp, K0, "AES_128", "B", Exportable=True)
    refused(kek_self["KeyArn"], kek_self["KeyArn"], text="itself")
    # Disabled and deleted keys.
    cp.stop_key_usage(KeyIdentifier=k["KeyArn"])
    refused(k["KeyArn"], aes_kek, text="disabled")
    cp.start_key_usage(KeyIdentifier=k["KeyArn"])
    assert export_tr31(cp, k["KeyArn"], aes_kek)["KeyMaterial"].startswith("D")
    cp.delete_key(KeyIdentifier=k["KeyArn"], DeleteKeyInDays=3)
    refused(k["KeyArn"], aes_kek, text="DELETE_PENDING")
    refused("alias/no-such-key", aes_kek, exc=cp.exceptions.ResourceNotFoundException)
    # Header member patterns (botocore does not check them; the server does).
    with pytest.raises(ClientError) as e:
        export_tr31(cp, kek_self["KeyArn"], aes_kek, {"KeyVersion": "ab"})
    assert error_code(e) == "ValidationException" and "KeyVersion" in str(e.value)
    with pytest.raises(ClientError) as e:
        export_tr31(cp, kek_self["KeyArn"], aes_kek, {"OptionalBlocks": {"T1": "not alnum!"}})
    assert error_code(e) == "ValidationException" and "OptionalBlocks" in str(e.value)


# ---------------------------------------------------------------- certificates, KEY_CRYPTOGRAM export


def import_root(cp, cert, algorithm="RSA_2048"):
    return cp.import_key(
        KeyMaterial={"RootCertificatePublicKey": {"KeyAttributes": attrs(S0, algorithm, "V", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(cert)}},
        KeyCheckValueAlgorithm="ANSI_X9_24",
    )["Key"]


@pytest.fixture(scope="module")
def root(cp):
    key, cert = make_ca()
    k = import_root(cp, cert)
    assert k["KeyAttributes"]["KeyClass"] == "PUBLIC_KEY" and k["KeyOrigin"] == "EXTERNAL"
    return key, cert, k


def export_cryptogram(cp, key_arn, ca_arn, cert, spec=None):
    m = {"CertificateAuthorityPublicKeyIdentifier": ca_arn, "WrappingKeyCertificate": api_cert(cert)}
    if spec:
        m["WrappingSpec"] = spec
    return cp.export_key(KeyMaterial={"KeyCryptogram": m}, ExportKeyIdentifier=key_arn)["WrappedKey"]


def test_export_key_cryptogram(cp, root):
    ca_key, ca_cert, ca = root
    leaf_key, leaf = make_leaf(ca_key, ca_cert)
    key = psec.des.adjust_key_parity(os.urandom(16))
    k = import_by_cryptogram(cp, key, P0, "TDES_2KEY")
    w = export_cryptogram(cp, k["KeyArn"], ca["KeyArn"], leaf)
    assert w["WrappedKeyMaterialFormat"] == "KEY_CRYPTOGRAM" and w["WrappingKeyArn"] == ca["KeyArn"]
    assert leaf_key.decrypt(bytes.fromhex(w["KeyMaterial"]), OAEP["RSA_OAEP_SHA_256"]) == key
    assert w["KeyCheckValue"] == kcv_tdes(key)
    # AES-128 to an RSA-3072 leaf with OAEP SHA-512.
    big_key, big_leaf = make_leaf(ca_key, ca_cert, rsa.generate_private_key(public_exponent=65537, key_size=3072))
    a = make_key(cp, D0, "AES_128", "B", Exportable=True)
    w = export_cryptogram(cp, a["KeyArn"], ca["KeyArn"], big_leaf, "RSA_OAEP_SHA_512")
    aes = big_key.decrypt(bytes.fromhex(w["KeyMaterial"]), OAEP["RSA_OAEP_SHA_512"])
    assert kcv_aes_cmac(aes) == a["KeyCheckValue"]


def test_export_key_cryptogram_refusals(cp, root):
    ca_key, ca_cert, ca = root
    _, leaf = make_leaf(ca_key, ca_cert)
    k = import_by_cryptogram(cp, TDES2_KEK, P0, "TDES_2KEY")

    def refused(key_arn, ca_arn, cert, text=None):
        with pytest.raises(cp.exceptions.ValidationException) as e:
            export_cryptogram(cp, key_arn, ca_arn, cert)
        if text:
            assert text in str(e.value), str(e.value)

    other_key, other_ca = make_ca(cn="someone else")
    _, foreign = make_leaf(other_key, other_ca)
    refused(k["KeyArn"], ca["KeyArn"], foreign, "does not verify")
    _, expired = make_leaf(ca_key, ca_cert, not_after_days=-1, not_before_days=-10)
    refused(k["KeyArn"], ca["KeyArn"], expired, "expired")
    a = make_key(cp, D0, "AES_128", "B", Exportable=True)
    refused(a["KeyArn"], ca["KeyArn"], leaf, "RSA_3072")
    a256 = make_key(cp, D0, "AES_256", "B", Exportable=True)
    refused(a256["KeyArn"], ca["KeyArn"], leaf, "TDES and AES_128")
    secret = import_by_cryptogram(cp, TDES2_KEK, P0, "TDES_2KEY", exportable=False)
    refused(secret["KeyArn"], ca["KeyArn"], leaf, "not exportable")
    refused(k["KeyArn"], k["KeyArn"], leaf, "certificate authority")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    _, ec_leaf = make_leaf(ca_key, ca_cert, ec_key)
    refused(k["KeyArn"], ca["KeyArn"], ec_leaf, "RSA public key")
    with pytest.raises(ClientError) as e:
        cp.export_key(KeyMaterial={"KeyCryptogram": {"CertificateAuthorityPublicKeyIdentifier": ca["KeyArn"], "WrappingKeyCertificate": "bm90IGEgY2VydA=="}}, ExportKeyIdentifier=k["KeyArn"])
    assert error_code(e) == "ValidationException" and "WrappingKeyCertificate" in str(e.value)


def test_root_and_trusted_certificates(cp, root):
    ca_key, ca_cert, ca = root
    # Trusted leaf (RSA, for encryption) under the imported root.
    _, leaf = make_leaf(ca_key, ca_cert)
    t = cp.import_key(
        KeyMaterial={"TrustedCertificatePublicKey": {"KeyAttributes": attrs(D1, "RSA_2048", "E", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(leaf), "CertificateAuthorityPublicKeyIdentifier": ca["KeyArn"]}}
    )["Key"]
    assert t["KeyAttributes"]["KeyUsage"] == D1 and t["KeyOrigin"] == "EXTERNAL"
    # ECC P-384 root with an ECDSA-signed P-256 leaf.
    ec_root_key = ec.generate_private_key(ec.SECP384R1())
    _, ec_root = make_ca(ec_root_key, cn="ecc root")
    # cryptography signs the CA with SHA-256 here (make_ca); a P-384 key with ECDSA-SHA256.
    r = import_root(cp, ec_root, "ECC_NIST_P384")
    _, ec_leaf = make_leaf(ec_root_key, ec_root, ec.generate_private_key(ec.SECP256R1()))
    t2 = cp.import_key(
        KeyMaterial={"TrustedCertificatePublicKey": {"KeyAttributes": attrs(S0, "ECC_NIST_P256", "V", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(ec_leaf), "CertificateAuthorityPublicKeyIdentifier": r["KeyArn"]}}
    )["Key"]
    assert t2["KeyAttributes"]["KeyAlgorithm"] == "ECC_NIST_P256"


def test_certificate_import_refusals(cp, root):
    ca_key, ca_cert, ca = root

    def refused(material, text=None):
        with pytest.raises(cp.exceptions.ValidationException) as e:
            cp.import_key(KeyMaterial=material)
        if text:
            assert text in str(e.value), str(e.value)

    # Root: declared algorithm differs, expired, not self-signed, not a CA, wrong usage.
    _, c = make_ca()
    refused({"RootCertificatePublicKey": {"KeyAttributes": attrs(S0, "RSA_3072", "V", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(c)}}, "RSA_2048")
    _, old = make_ca(days=-1)
    refused({"RootCertificatePublicKey": {"KeyAttributes": attrs(S0, "RSA_2048", "V", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(old)}}, "expired")
    _, leaf = make_leaf(ca_key, ca_cert)
    refused({"RootCertificatePublicKey": {"KeyAttributes": attrs(S0, "RSA_2048", "V", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(leaf)}}, "does not verify")
    refused({"RootCertificatePublicKey": {"KeyAttributes": attrs(D1, "RSA_2048", "E", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(c)}}, "TR31_S0")
    refused({"RootCertificatePublicKey": {"KeyAttributes": attrs(S0, "RSA_2048", "V", "PUBLIC_KEY"), "PublicKeyCertificate": "bm90IGEgY2VydA=="}}, "PublicKeyCertificate")
    # Trusted: signed by another CA, expired, CA reference is not a CA.
    ok = {"KeyAttributes": attrs(D1, "RSA_2048", "E", "PUBLIC_KEY"), "CertificateAuthorityPublicKeyIdentifier": ca["KeyArn"]}
    other_key, other_ca = make_ca(cn="other")
    _, foreign = make_leaf(other_key, other_ca)
    refused({"TrustedCertificatePublicKey": dict(ok, PublicKeyCertificate=api_cert(foreign))}, "does not verify")
    _, expired = make_leaf(ca_key, ca_cert, not_after_days=-1, not_before_days=-5)
    refused({"TrustedCertificatePublicKey": dict(ok, PublicKeyCertificate=api_cert(expired))}, "expired")
    sym = make_key(cp, K0, "AES_128", "B")
    refused({"TrustedCertificatePublicKey": dict(ok, PublicKeyCertificate=api_cert(leaf), CertificateAuthorityPublicKeyIdentifier=sym["KeyArn"])}, "certificate authority")
    # Strength: an RSA-4096 leaf under an RSA-2048 CA.
    _, strong = make_leaf(ca_key, ca_cert, rsa.generate_private_key(public_exponent=65537, key_size=4096))
    refused({"TrustedCertificatePublicKey": dict(ok, KeyAttributes=attrs(D1, "RSA_4096", "E", "PUBLIC_KEY"), PublicKeyCertificate=api_cert(strong))}, "at least as strong")


# ---------------------------------------------------------------- GetPublicKeyCertificate


def test_get_public_key_certificate(cp, root):
    k = cp.create_key(
        KeyAttributes={"KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "ECC_NIST_P256", "KeyModesOfUse": {"DeriveKey": True}},
        Exportable=False,
        DeriveKeyUsage="TR31_P0_PIN_ENCRYPTION_KEY",
    )["Key"]
    r = cp.get_public_key_certificate(KeyIdentifier=k["KeyArn"])
    cert = load_api_cert(r["KeyCertificate"])
    chain = load_api_cert(r["KeyCertificateChain"])
    cert.verify_directly_issued_by(chain)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    days = (cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)).days
    assert 89 <= days <= 90
    p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048")
    assert p["WrappingKeyCertificateChain"] == r["KeyCertificateChain"]
    # Only key pairs held here: not imported public keys (the local CA never vouches for them),
    # not symmetric keys.
    for other in (root[2], make_key(cp, K0, "AES_128", "B")):
        with pytest.raises(cp.exceptions.ValidationException) as e:
            cp.get_public_key_certificate(KeyIdentifier=other["KeyArn"])
        assert "ASYMMETRIC_KEY_PAIR" in str(e.value)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_public_key_certificate(KeyIdentifier="alias/none-such")


# ---------------------------------------------------------------- TR-34 (X9 TR-34-2012, two-pass)
# The KDH/KRD side in Python lives in examples/flows/tr34.py (shared with the key-exchange flow).


@pytest.fixture(scope="module")
def kdh(cp):
    """A key distribution host (Python): CA imported as root, and its signing certificate."""
    ca_key, ca_cert = make_ca(cn="interop KDH CA")
    ca = import_root(cp, ca_cert)
    key, cert = make_leaf(ca_key, ca_cert)
    return key, cert, ca, ca_key, ca_cert


def import_tr34(cp, kdh, block, nonce, token, **extra):
    m = {
        "CertificateAuthorityPublicKeyIdentifier": kdh[2]["KeyArn"],
        "SigningKeyCertificate": api_cert(kdh[1]),
        "ImportToken": token,
        "WrappedKeyBlock": block.hex().upper(),
        "KeyBlockFormat": "X9_TR34_2012",
        "RandomNonce": nonce.hex().upper(),
    }
    m.update(extra)
    return cp.import_key(KeyMaterial={"Tr34KeyBlock": m}, KeyCheckValueAlgorithm="ANSI_X9_24")["Key"]


def tr34_params(cp, alg="RSA_2048"):
    p = cp.get_parameters_for_import(KeyMaterialType="TR34_KEY_BLOCK", WrappingKeyAlgorithm=alg)
    krd = load_api_cert(p["WrappingKeyCertificate"])
    krd.verify_directly_issued_by(load_api_cert(p["WrappingKeyCertificateChain"]))
    return p["ImportToken"], krd


def test_tr34_import(cp, dp, kdh):
    key = psec.des.adjust_key_parity(os.urandom(16))
    token, krd = tr34_params(cp)
    nonce = os.urandom(8)
    k = import_tr34(cp, kdh, tr34_build(key, "D9999K0TB00E0000", nonce, kdh[1], kdh[0], krd), nonce, token)
    assert k["KeyAttributes"]["KeyUsage"] == K0 and k["KeyAttributes"]["KeyAlgorithm"] == "TDES_2KEY"
    assert k["KeyCheckValue"] == kcv_tdes(key) and k["Exportable"] and k["KeyOrigin"] == "EXTERNAL"
    # AES-128 (RSA-3072 wrapping key, AES-128-CBC content) and a TDES-3 key with a 16-byte nonce.
    aes = os.urandom(16)
    token, krd = tr34_params(cp, "RSA_3072")
    k = import_tr34(cp, kdh, tr34_build(aes, "D9999D0AB00N0000", nonce, kdh[1], kdh[0], krd, aes=True), nonce, token)
    assert k["KeyAttributes"]["KeyAlgorithm"] == "AES_128" and not k["Exportable"]
    pt = os.urandom(16)
    r = dp.encrypt_data(KeyIdentifier=k["KeyArn"], PlainText=pt.hex(), EncryptionAttributes={"Symmetric": {"Mode": "ECB"}})
    assert bytes.fromhex(r["CipherText"]) == aes_ecb(aes, pt)
    t3 = psec.des.adjust_key_parity(os.urandom(24))
    token, krd = tr34_params(cp)
    n16 = os.urandom(16)
    k = import_tr34(cp, kdh, tr34_build(t3, "D9999P0TE00E0000", n16, kdh[1], kdh[0], krd), n16, token)
    assert k["KeyAttributes"]["KeyAlgorithm"] == "TDES_3KEY" and k["KeyCheckValue"] == kcv_tdes(t3)


def test_tr34_import_refusals(cp, kdh):
    key = psec.des.adjust_key_parity(os.urandom(16))
    nonce = os.urandom(8)

    def refused(block, n, token, text=None, kdh_=None, **extra):
        with pytest.raises(cp.exceptions.ValidationException) as e:
            import_tr34(cp, kdh_ or kdh, block, n, token, **extra)
        if text:
            assert text in str(e.value), str(e.value)

    token, krd = tr34_params(cp)
    good = tr34_build(key, "D9999K0TB00E0000", nonce, kdh[1], kdh[0], krd)
    refused(good, os.urandom(8), token, "nonce")
    refused(good, nonce, token, "already been used")  # the token was consumed by the attempt
    token, krd = tr34_params(cp)
    tampered = bytearray(tr34_build(key, "D9999K0TB00E0000", nonce, kdh[1], kdh[0], krd))
    tampered[-300] ^= 1
    refused(bytes(tampered), nonce, token)
    # Addressed to another wrapping key; signed by a KDH the CA did not certify.
    token, _ = tr34_params(cp)
    _, other_krd = tr34_params(cp)
    refused(tr34_build(key, "D9999K0TB00E0000", nonce, kdh[1], kdh[0], other_krd), nonce, token, "not addressed")
    token, krd = tr34_params(cp)
    rogue_ca_key, rogue_ca = make_ca(cn="rogue")
    rogue_key, rogue_cert = make_leaf(rogue_ca_key, rogue_ca)
    refused(tr34_build(key, "D9999K0TB00E0000", nonce, rogue_cert, rogue_key, krd), nonce, token, "does not verify", kdh_=(rogue_key, rogue_cert, kdh[2]))
    # Signature by another key than the SigningKeyCertificate's.
    token, krd = tr34_params(cp)
    other_key, _ = make_leaf(kdh[3], kdh[4])
    refused(tr34_build(key, "D9999K0TB00E0000", nonce, kdh[1], other_key, krd), nonce, token, "signature")
    # AES-128 under an RSA-2048 wrapping key; AES-256 at all; unsupported usage.
    token, krd = tr34_params(cp)
    refused(tr34_build(os.urandom(16), "D9999D0AB00E0000", nonce, kdh[1], kdh[0], krd, aes=True), nonce, token, "at least as strong")
    token, krd = tr34_params(cp, "RSA_4096")
    refused(tr34_build(os.urandom(32), "D9999D0AB00E0000", nonce, kdh[1], kdh[0], krd, aes=True), nonce, token, "AES_128")
    token, krd = tr34_params(cp)
    refused(tr34_build(key, "D9999B1TX00E0000", nonce, kdh[1], kdh[0], krd), nonce, token, "not supported")
    # Members.
    with pytest.raises(ClientError) as e:
        cp.import_key(KeyMaterial={"Tr34KeyBlock": {"CertificateAuthorityPublicKeyIdentifier": kdh[2]["KeyArn"], "SigningKeyCertificate": api_cert(kdh[1]), "ImportToken": token, "WrappedKeyBlock": good.hex().upper(), "KeyBlockFormat": "X9_TR34_2012"}})
    assert error_code(e) == "ValidationException" and "RandomNonce" in str(e.value)
    with pytest.raises(ClientError) as e:
        import_tr34(cp, kdh, good, nonce, token, WrappingKeyIdentifier=kdh[2]["KeyArn"])
    assert error_code(e) == "ValidationException" and "WrappingKeyIdentifier" in str(e.value)


@pytest.fixture(scope="module")
def krd(cp):
    """A key receiving device (Python): CA imported as root, and its RSA certificates."""
    ca_key, ca_cert = make_ca(cn="interop KRD CA")
    ca = import_root(cp, ca_cert)
    k2, c2 = make_leaf(ca_key, ca_cert)
    k3, c3 = make_leaf(ca_key, ca_cert, rsa.generate_private_key(public_exponent=65537, key_size=3072))
    return ca, (k2, c2), (k3, c3), ca_key, ca_cert


def export_tr34(cp, key_arn, krd, cert, nonce, token=None, **extra):
    if token is None:
        p = cp.get_parameters_for_export(KeyMaterialType="TR34_KEY_BLOCK", SigningKeyAlgorithm="RSA_2048")
        token = p["ExportToken"]
    m = {
        "CertificateAuthorityPublicKeyIdentifier": krd[0]["KeyArn"],
        "WrappingKeyCertificate": api_cert(cert),
        "ExportToken": token,
        "KeyBlockFormat": "X9_TR34_2012",
        "RandomNonce": nonce.hex().upper(),
    }
    m.update(extra)
    return cp.export_key(ExportKeyIdentifier=key_arn, KeyMaterial={"Tr34KeyBlock": m})["WrappedKey"]


def test_tr34_export(cp, krd):
    p = cp.get_parameters_for_export(KeyMaterialType="TR34_KEY_BLOCK", SigningKeyAlgorithm="RSA_2048")
    assert re.fullmatch(r"export-token-[0-9a-zA-Z]{16,64}", p["ExportToken"]) and p["SigningKeyAlgorithm"] == "RSA_2048"
    kdh_cert = load_api_cert(p["SigningKeyCertificate"])
    kdh_cert.verify_directly_issued_by(load_api_cert(p["SigningKeyCertificateChain"]))
    key = psec.des.adjust_key_parity(os.urandom(16))
    k = import_by_cryptogram(cp, key, K0, "TDES_2KEY")
    nonce = os.urandom(8)
    w = export_tr34(cp, k["KeyArn"], krd, krd[1][1], nonce, p["ExportToken"])
    assert w["WrappedKeyMaterialFormat"] == "TR34_KEY_BLOCK" and w["KeyCheckValue"] == kcv_tdes(key)
    header, out, alg = tr34_open(bytes.fromhex(w["KeyMaterial"]), nonce, kdh_cert, krd[1][1], krd[1][0])
    assert out == key and header[5:12] == "K0TB00E" and alg == OID_DES_EDE3_CBC
    # AES-128 to an RSA-3072 KRD, narrower modes and non-exportable header.
    a = make_key(cp, D0, "AES_128", "B", Exportable=True)
    p = cp.get_parameters_for_export(KeyMaterialType="TR34_KEY_BLOCK", SigningKeyAlgorithm="RSA_2048")
    w = export_tr34(cp, a["KeyArn"], krd, krd[2][1], nonce, p["ExportToken"], KeyBlockHeaders={"KeyModesOfUse": {"Decrypt": True, "Unwrap": True}, "KeyExportability": "NON_EXPORTABLE"})
    header, out, alg = tr34_open(bytes.fromhex(w["KeyMaterial"]), nonce, load_api_cert(p["SigningKeyCertificate"]), krd[2][1], krd[2][0])
    assert kcv_aes_cmac(out) == a["KeyCheckValue"] and header[5:12] == "D0AD00N" and alg == OID_AES128_CBC


def test_tr34_export_refusals(cp, krd):
    nonce = os.urandom(8)
    k = import_by_cryptogram(cp, TDES2_KEK, K0, "TDES_2KEY")

    def refused(key_arn, cert, text=None, token=None, **extra):
        with pytest.raises(cp.exceptions.ValidationException) as e:
            export_tr34(cp, key_arn, krd, cert, nonce, token, **extra)
        if text:
            assert text in str(e.value), str(e.value)

    p = cp.get_parameters_for_export(KeyMaterialType="TR34_KEY_BLOCK", SigningKeyAlgorithm="RSA_2048")
    export_tr34(cp, k["KeyArn"], krd, krd[1][1], nonce, p["ExportToken"])
    refused(k["KeyArn"], krd[1][1], "already been used", p["ExportToken"])
    refused(k["KeyArn"], krd[1][1], "ExportToken", "export-token-" + "Z" * 20)
    secret = import_by_cryptogram(cp, TDES2_KEK, K0, "TDES_2KEY", exportable=False)
    refused(secret["KeyArn"], krd[1][1], "not exportable")
    a = make_key(cp, D0, "AES_128", "B", Exportable=True)
    refused(a["KeyArn"], krd[1][1], "at least as strong")
    a256 = make_key(cp, D0, "AES_256", "B", Exportable=True)
    refused(a256["KeyArn"], krd[2][1], "AES_128")
    rogue_key, rogue_ca = make_ca(cn="rogue KRD CA")
    _, rogue = make_leaf(rogue_key, rogue_ca)
    refused(k["KeyArn"], rogue, "does not verify")
    refused(k["KeyArn"], krd[1][1], "OptionalBlocks", KeyBlockHeaders={"OptionalBlocks": {"TS": "20261121120000Z"}})
    for kw in ({"KeyMaterialType": "KEY_CRYPTOGRAM", "SigningKeyAlgorithm": "RSA_2048"}, {"KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_3072"}):
        with pytest.raises(cp.exceptions.ValidationException):
            cp.get_parameters_for_export(**kw)
