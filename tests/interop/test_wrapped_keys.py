"""Wrapped (dynamic) keys and TranslateKeyMaterial through boto3 (AWS-API.md §3.4, §3.7).

* ECDH: Python (`cryptography`) makes a CA and a leaf ECC key pair, imports the CA as a root
  certificate, creates a K3 key pair in paycrypt (CreateKey, ECC_NIST_P256, DeriveKey), takes its
  certificate from GetPublicKeyCertificate and derives the same symmetric key on its side
  (ConcatKDFHash = NIST SP 800-56C one-step KDF, or X9.63). PIN blocks are built and opened with
  psec (ISO 4 for AES, ISO 0 for TDES), as the AWS mobile PIN set/reveal samples do.
* TR-31 dynamic keys: psec wraps D0/P0 working keys under a KEK imported by KEY_CRYPTOGRAM.
* TranslateKeyMaterial: psec wraps a key under the ECDH-derived KBPK; paycrypt re-wraps it under
  a stored KEK and psec unwraps the result.

Every expected value is computed here (psec, `cryptography`), never by calling paycrypt.
"""
import base64
import datetime
import os

import psec.des
import psec.pin
import psec.pinblock
import psec.tr31
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.x509.oid import NameOID

from conftest import MODES

pytestmark = pytest.mark.filterwarnings("ignore")

K0 = "TR31_K0_KEY_ENCRYPTION_KEY"
K1 = "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
K3 = "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT"
D0 = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
P0 = "TR31_P0_PIN_ENCRYPTION_KEY"
S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
V2 = "TR31_V2_VISA_PIN_VERIFICATION_KEY"

AES_KEK = bytes.fromhex("0F0E0D0C0B0A09080706050403020100")
TDES_KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PEK = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")
PVK = bytes.fromhex("FEDCBA98765432100123456789ABCDEF")
PAN = "4111111111111111"

# ---------------------------------------------------------------- independent computations


def tdes_ecb(key: bytes, data: bytes, decrypt=False) -> bytes:
    c = Cipher(TripleDES(key), modes.ECB())
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(data) + x.finalize()


def aes(key: bytes, data: bytes, mode, decrypt=False) -> bytes:
    c = Cipher(algorithms.AES(key), mode)
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(data) + x.finalize()


def kcv_cmac(key: bytes) -> str:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(bytes(16))
    return c.finalize()[:3].hex().upper()


def kcv_tdes(key: bytes) -> str:
    return tdes_ecb(key, bytes(8))[:3].hex().upper()


def api_cert(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def load_api_cert(s: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(s))


def derive(private_key, peer_cert: x509.Certificate, info: bytes, length: int, kdf="NIST_SP800", hash_name="SHA_512") -> bytes:
    z = private_key.exchange(ec.ECDH(), peer_cert.public_key())
    h = {"SHA_256": hashes.SHA256(), "SHA_384": hashes.SHA384(), "SHA_512": hashes.SHA512()}[hash_name]
    if kdf == "NIST_SP800":
        return ConcatKDFHash(algorithm=h, length=length, otherinfo=info).derive(z)
    return X963KDF(algorithm=h, length=length, sharedinfo=info).derive(z)


def make_ca(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wrapped-keys client CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert


def make_leaf(ca_key, ca_cert, key, days=1):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mobile device")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(ca_key, hashes.SHA256())
    )


def attrs(usage, algorithm, modes_="B", key_class="SYMMETRIC_KEY"):
    return {"KeyUsage": usage, "KeyClass": key_class, "KeyAlgorithm": algorithm, "KeyModesOfUse": MODES[modes_] if isinstance(modes_, str) else modes_}


def import_known(cp, key: bytes, usage, algorithm, modes_="B"):
    p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_3072")
    cert = load_api_cert(p["WrappingKeyCertificate"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return cp.import_key(
        KeyMaterial={
            "KeyCryptogram": {
                "KeyAttributes": attrs(usage, algorithm, modes_),
                "Exportable": True,
                "WrappedKeyCryptogram": cert.public_key().encrypt(key, oaep).hex().upper(),
                "ImportToken": p["ImportToken"],
                "WrappingSpec": "RSA_OAEP_SHA_256",
            }
        }
    )["Key"]["KeyArn"]


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e.get("Reason", e["Error"].get("Message", ""))


# ---------------------------------------------------------------- fixtures


class Ecdh:
    """The client side (CA, device key + certificate) and paycrypt's K3 keys."""

    def __init__(self, cp):
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = make_ca(self.ca_key)
        self.ca_arn = cp.import_key(
            KeyMaterial={"RootCertificatePublicKey": {"KeyAttributes": attrs(S0, "ECC_NIST_P256", "V", "PUBLIC_KEY"), "PublicKeyCertificate": api_cert(self.ca_cert)}},
        )["Key"]["KeyArn"]
        self.device_key = ec.generate_private_key(ec.SECP256R1())
        self.device_cert = make_leaf(self.ca_key, self.ca_cert, self.device_key)
        self.k3 = {}
        self.k3_cert = {}
        for usage in (None, P0, K1, D0):
            kw = {"DeriveKeyUsage": usage} if usage else {}
            arn = cp.create_key(
                KeyAttributes={"KeyUsage": K3, "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "ECC_NIST_P256", "KeyModesOfUse": {"DeriveKey": True}},
                Exportable=False,
                **kw,
            )["Key"]["KeyArn"]
            self.k3[usage] = arn
            self.k3_cert[usage] = load_api_cert(cp.get_public_key_certificate(KeyIdentifier=arn)["KeyCertificate"])

    def key(self, usage, info, length, kdf="NIST_SP800", hash_name="SHA_512"):
        return derive(self.device_key, self.k3_cert[usage], info, length, kdf, hash_name)

    def wrapped(self, info, algorithm="AES_128", kdf="NIST_SP800", hash_name="SHA_512", cert=None, ca=None, **extra):
        m = {
            "CertificateAuthorityPublicKeyIdentifier": ca or self.ca_arn,
            "PublicKeyCertificate": api_cert(cert or self.device_cert),
            "KeyAlgorithm": algorithm,
            "KeyDerivationFunction": kdf,
            "KeyDerivationHashAlgorithm": hash_name,
            "SharedInformation": info.hex().upper(),
        }
        return {"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": m}, **extra}


@pytest.fixture(scope="module")
def ecdh(cp):
    return Ecdh(cp)


@pytest.fixture(scope="module")
def keys(cp):
    return {
        "aes_kek": import_known(cp, AES_KEK, K1, "AES_128"),
        "tdes_kek": import_known(cp, TDES_KEK, K0, "TDES_2KEY"),
        "pek": import_known(cp, PEK, P0, "TDES_2KEY"),
        "pvk": import_known(cp, PVK, V2, "TDES_2KEY", "C"),
        "other_kek": import_known(cp, os.urandom(16), K1, "AES_128"),
    }


def info():
    # 32 random bytes without zero bytes (AWS refuses zero bytes in SharedInformation).
    return bytes(b or 1 for b in os.urandom(32))


# ---------------------------------------------------------------- ECDH PIN flows


def test_pin_reveal_to_ecdh_key_iso4(dp, ecdh, keys):
    # Backend: PIN under the PEK (ISO 0) -> ECDH-derived AES-128 key (ISO 4), as the sample.
    pin, si = "1234", info()
    r = dp.translate_pin_data(
        EncryptedPinBlock=tdes_ecb(PEK, psec.pinblock.encode_pinblock_iso_0(pin, PAN)).hex().upper(),
        IncomingKeyIdentifier=keys["pek"],
        OutgoingKeyIdentifier=ecdh.k3[None],
        OutgoingWrappedKey=ecdh.wrapped(si),
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat4": {"PrimaryAccountNumber": PAN}},
    )
    key = ecdh.key(None, si, 16)
    assert psec.pinblock.decipher_pinblock_iso_4(key, bytes.fromhex(r["PinBlock"]), PAN) == pin
    assert r["KeyArn"] == ecdh.k3[None]
    assert r["KeyCheckValue"] == kcv_cmac(key)


def test_pin_set_from_ecdh_key_iso4(dp, ecdh, keys):
    pin, si = "987654", info()
    key = ecdh.key(P0, si, 16)
    block = psec.pinblock.encipher_pinblock_iso_4(key, pin, PAN).hex().upper()
    r = dp.translate_pin_data(
        EncryptedPinBlock=block,
        IncomingKeyIdentifier=ecdh.k3[P0],
        OutgoingKeyIdentifier=keys["pek"],
        IncomingWrappedKey=ecdh.wrapped(si),
        IncomingTranslationAttributes={"IsoFormat4": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
    )
    clear = tdes_ecb(PEK, bytes.fromhex(r["PinBlock"]), decrypt=True)
    assert psec.pinblock.decode_pinblock_iso_0(clear, PAN) == pin
    assert r["KeyArn"] == keys["pek"]


@pytest.mark.parametrize("kdf,hash_name", [("ANSI_X963", "SHA_256"), ("NIST_SP800", "SHA_384")])
def test_pin_reveal_tdes_iso0(dp, ecdh, keys, kdf, hash_name):
    # The Go sample: TDES_2KEY derived key and ISO 0.
    pin, si = "24680", info()
    r = dp.translate_pin_data(
        EncryptedPinBlock=tdes_ecb(PEK, psec.pinblock.encode_pinblock_iso_0(pin, PAN)).hex().upper(),
        IncomingKeyIdentifier=keys["pek"],
        OutgoingKeyIdentifier=ecdh.k3[None],
        OutgoingWrappedKey=ecdh.wrapped(si, "TDES_2KEY", kdf, hash_name),
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
    )
    key = ecdh.key(None, si, 16, kdf, hash_name)
    assert psec.pinblock.decode_pinblock_iso_0(tdes_ecb(key, bytes.fromhex(r["PinBlock"]), decrypt=True), PAN) == pin
    assert r["KeyCheckValue"] == kcv_tdes(key)


def test_generate_and_verify_pin_with_ecdh_key(dp, ecdh, keys):
    # GeneratePinData (Visa PIN) straight to the device's ECDH key, then VerifyPinData of a block
    # the device built under a fresh ECDH key.
    si = info()
    r = dp.generate_pin_data(
        GenerationKeyIdentifier=keys["pvk"],
        EncryptionKeyIdentifier=ecdh.k3[None],
        EncryptionWrappedKey=ecdh.wrapped(si),
        GenerationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1}},
        PrimaryAccountNumber=PAN,
        PinBlockFormat="ISO_FORMAT_4",
    )
    key = ecdh.key(None, si, 16)
    pin = psec.pinblock.decipher_pinblock_iso_4(key, bytes.fromhex(r["EncryptedPinBlock"]), PAN)
    pvv = r["PinData"]["VerificationValue"]
    assert pvv == psec.pin.generate_visa_pvv(PVK, "1", pin, PAN)
    assert r["EncryptionKeyArn"] == ecdh.k3[None] and r["EncryptionKeyCheckValue"] == kcv_cmac(key)

    si2 = info()
    key2 = ecdh.key(None, si2, 16)
    args = dict(
        VerificationKeyIdentifier=keys["pvk"],
        EncryptionKeyIdentifier=ecdh.k3[None],
        EncryptionWrappedKey=ecdh.wrapped(si2),
        PrimaryAccountNumber=PAN,
        PinBlockFormat="ISO_FORMAT_4",
        VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
    )
    ok = dp.verify_pin_data(EncryptedPinBlock=psec.pinblock.encipher_pinblock_iso_4(key2, pin, PAN).hex().upper(), **args)
    assert ok["EncryptionKeyCheckValue"] == kcv_cmac(key2)
    wrong = "0000" if pin != "0000" else "1111"
    with pytest.raises(ClientError) as e:
        dp.verify_pin_data(EncryptedPinBlock=psec.pinblock.encipher_pinblock_iso_4(key2, wrong, PAN).hex().upper(), **args)
    assert err(e) == ("VerificationFailedException", "INVALID_PIN")


def test_ecdh_refusals(cp, dp, ecdh, keys):
    block = tdes_ecb(PEK, psec.pinblock.encode_pinblock_iso_0("1234", PAN)).hex().upper()

    def refused(text, k3=None, wrapped=None, **kw):
        args = dict(
            EncryptedPinBlock=block,
            IncomingKeyIdentifier=keys["pek"],
            OutgoingKeyIdentifier=k3 or ecdh.k3[None],
            OutgoingWrappedKey=wrapped or ecdh.wrapped(info()),
            IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
            OutgoingTranslationAttributes={"IsoFormat4": {"PrimaryAccountNumber": PAN}},
        )
        args.update(kw)
        with pytest.raises(ClientError) as e:
            dp.translate_pin_data(**args)
        code, msg = err(e)
        assert code == "ValidationException", msg
        assert text in msg, msg

    # Zero byte in SharedInformation (AWS).
    refused("zero bytes", wrapped=ecdh.wrapped(b"\x01\x00\x02"))
    # A device certificate from another CA.
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    other = make_leaf(other_ca_key, make_ca(other_ca_key), ecdh.device_key)
    refused("does not verify", wrapped=ecdh.wrapped(info(), cert=other))
    # A P-384 device key against a P-256 K3 key.
    p384 = ec.generate_private_key(ec.SECP384R1())
    refused("same curve", wrapped=ecdh.wrapped(info(), cert=make_leaf(ecdh.ca_key, ecdh.ca_cert, p384)))
    # The derived key is single-purpose: a K3 key deriving D0 keys cannot encrypt PINs.
    refused("KeyUsage", k3=ecdh.k3[D0])
    # The CA must be a CA public key; the K3 key must be a K3 key.
    refused("certificate authority", wrapped=ecdh.wrapped(info(), ca=keys["pek"]))
    refused("TR31_K3", k3=keys["pek"])
    # Not with DUKPT attributes on the same side.
    refused("DUKPT", OutgoingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001"})
    # HMAC is no PIN key.
    refused("TDES or AES", wrapped=ecdh.wrapped(info(), "HMAC_SHA256"))


def test_ecdh_data_key_needs_derive_key_usage(dp, ecdh):
    # D0-usage K3 key: an ECDH-derived AES-256 data key; without DeriveKeyUsage: refused.
    si = info()
    key = ecdh.key(D0, si, 32)
    pt = os.urandom(32)
    r = dp.encrypt_data(
        KeyIdentifier=ecdh.k3[D0],
        PlainText=pt.hex().upper(),
        EncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
        WrappedKey=ecdh.wrapped(si, "AES_256"),
    )
    assert r["CipherText"] == aes(key, pt, modes.ECB()).hex().upper()
    assert r["KeyArn"] == ecdh.k3[D0] and r["KeyCheckValue"] == kcv_cmac(key)
    with pytest.raises(ClientError) as e:
        dp.encrypt_data(
            KeyIdentifier=ecdh.k3[None],
            PlainText=pt.hex().upper(),
            EncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
            WrappedKey=ecdh.wrapped(si, "AES_256"),
        )
    assert "DeriveKeyUsage" in err(e)[1]


# ---------------------------------------------------------------- TR-31 dynamic keys


def test_tr31_dynamic_data_key(dp, keys):
    key = os.urandom(16)
    iv = os.urandom(16)
    pt = os.urandom(48)
    block = psec.tr31.wrap(AES_KEK, "D0000D0AB00E0000", key)
    ct = aes(key, pt, modes.CBC(iv))
    r = dp.decrypt_data(
        KeyIdentifier=keys["aes_kek"],
        CipherText=ct.hex().upper(),
        DecryptionAttributes={"Symmetric": {"Mode": "CBC", "InitializationVector": iv.hex().upper()}},
        WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}},
    )
    assert r["PlainText"] == pt.hex().upper()
    assert r["KeyArn"] == keys["aes_kek"] and r["KeyCheckValue"] == kcv_cmac(key)
    e = dp.encrypt_data(
        KeyIdentifier=keys["aes_kek"],
        PlainText=pt.hex().upper(),
        EncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
        WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}, "KeyCheckValueAlgorithm": "CMAC"},
    )
    assert e["CipherText"] == aes(key, pt, modes.ECB()).hex().upper()
    # A TDES D0 key under the TDES KEK (version B), re-encrypted to an AES dynamic key.
    tkey = psec.des.adjust_key_parity(os.urandom(16))
    tblock = psec.tr31.wrap(TDES_KEK, "B0000D0TD00E0000", tkey)
    data = os.urandom(32)
    re = dp.re_encrypt_data(
        IncomingKeyIdentifier=keys["tdes_kek"],
        OutgoingKeyIdentifier=keys["aes_kek"],
        CipherText=tdes_ecb(tkey, data).hex().upper(),
        IncomingEncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
        OutgoingEncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
        IncomingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": tblock}},
        OutgoingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}},
    )
    assert re["CipherText"] == aes(key, data, modes.ECB()).hex().upper()
    assert re["KeyCheckValue"] == kcv_cmac(key)


def test_tr31_dynamic_refusals(dp, keys):
    key = os.urandom(16)
    pt = os.urandom(16).hex().upper()

    def refused(block, text, encrypt=True, kek=None):
        f = dp.encrypt_data if encrypt else dp.decrypt_data
        member = "PlainText" if encrypt else "CipherText"
        attr = "EncryptionAttributes" if encrypt else "DecryptionAttributes"
        with pytest.raises(ClientError) as e:
            f(KeyIdentifier=kek or keys["aes_kek"], **{member: pt, attr: {"Symmetric": {"Mode": "ECB"}}}, WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}})
        code, msg = err(e)
        assert code == "ValidationException" and text in msg, msg

    # Mode D: decrypt only.
    d_only = psec.tr31.wrap(AES_KEK, "D0000D0AD00E0000", key)
    refused(d_only, "Encrypt")
    assert dp.decrypt_data(KeyIdentifier=keys["aes_kek"], CipherText=pt, DecryptionAttributes={"Symmetric": {"Mode": "ECB"}}, WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": d_only}})["PlainText"] == aes(key, bytes.fromhex(pt), modes.ECB(), decrypt=True).hex().upper()
    # Mode E is not accepted for dynamic keys; nor a P0 block for data; nor a tampered block.
    refused(psec.tr31.wrap(AES_KEK, "D0000D0AE00E0000", key), "mode of use B or D")
    refused(psec.tr31.wrap(AES_KEK, "D0000P0AB00E0000", key), "TR31_D0")
    good = psec.tr31.wrap(AES_KEK, "D0000D0AB00E0000", key)
    refused(good[:-1] + ("0" if good[-1] != "0" else "1"), "authenticate")
    # A block under another KEK; a non-KEK as KeyIdentifier.
    refused(good, "authenticate", kek=keys["other_kek"])
    refused(good, "TR31_K0", kek=keys["pek"])


def test_tr31_dynamic_pin_key(dp, keys):
    zpk = psec.des.adjust_key_parity(os.urandom(16))
    block = psec.tr31.wrap(TDES_KEK, "B0000P0TB00E0000", zpk)
    pin = "5555"
    r = dp.translate_pin_data(
        EncryptedPinBlock=tdes_ecb(zpk, psec.pinblock.encode_pinblock_iso_0(pin, PAN)).hex().upper(),
        IncomingKeyIdentifier=keys["tdes_kek"],
        OutgoingKeyIdentifier=keys["pek"],
        IncomingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}},
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat3": {"PrimaryAccountNumber": PAN}},
    )
    clear = tdes_ecb(PEK, bytes.fromhex(r["PinBlock"]), decrypt=True)
    assert psec.pinblock.decode_pinblock_iso_3(clear, PAN) == pin
    # D0 block for a PIN: refused.
    with pytest.raises(ClientError) as e:
        dp.translate_pin_data(
            EncryptedPinBlock=r["PinBlock"],
            IncomingKeyIdentifier=keys["tdes_kek"],
            OutgoingKeyIdentifier=keys["pek"],
            IncomingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": psec.tr31.wrap(TDES_KEK, "B0000D0TB00E0000", zpk)}},
            IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
            OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        )
    assert "TR31_P0" in err(e)[1]


# ---------------------------------------------------------------- TranslateKeyMaterial


def test_translate_key_material(dp, ecdh, keys):
    si = info()
    kbpk = ecdh.key(K1, si, 32)
    working = os.urandom(16)
    block = psec.tr31.wrap(kbpk, "D0000D0AB00E0000", working)
    incoming = {
        "DiffieHellmanTr31KeyBlock": {
            "PrivateKeyIdentifier": ecdh.k3[K1],
            "CertificateAuthorityPublicKeyIdentifier": ecdh.ca_arn,
            "PublicKeyCertificate": api_cert(ecdh.device_cert),
            "DeriveKeyAlgorithm": "AES_256",
            "KeyDerivationFunction": "NIST_SP800",
            "KeyDerivationHashAlgorithm": "SHA_512",
            "DerivationData": {"SharedInformation": si.hex().upper()},
            "WrappedKeyBlock": block,
        }
    }
    r = dp.translate_key_material(IncomingKeyMaterial=incoming, OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["aes_kek"]}})
    w = r["WrappedKey"]
    assert w["WrappedKeyMaterialFormat"] == "TR31_KEY_BLOCK"
    header, key = psec.tr31.unwrap(AES_KEK, w["WrappedKeyMaterial"])
    assert key == working and str(header)[5:12] == "D0AB00E"
    assert w["KeyCheckValue"] == kcv_cmac(working)
    # Under the wrong K3 key (no K0/K1 DeriveKeyUsage) and with other shared information: refused.
    bad = {"DiffieHellmanTr31KeyBlock": dict(incoming["DiffieHellmanTr31KeyBlock"], PrivateKeyIdentifier=ecdh.k3[None])}
    with pytest.raises(ClientError) as e:
        dp.translate_key_material(IncomingKeyMaterial=bad, OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["aes_kek"]}})
    assert "DeriveKeyUsage" in err(e)[1]
    other = {"DiffieHellmanTr31KeyBlock": dict(incoming["DiffieHellmanTr31KeyBlock"], DerivationData={"SharedInformation": info().hex().upper()})}
    with pytest.raises(ClientError) as e:
        dp.translate_key_material(IncomingKeyMaterial=other, OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["aes_kek"]}})
    assert "authenticate" in err(e)[1]
    # A non-exportable block is not translated; a weaker outgoing KEK is refused.
    nblock = psec.tr31.wrap(kbpk, "D0000D0AB00N0000", working)
    n = {"DiffieHellmanTr31KeyBlock": dict(incoming["DiffieHellmanTr31KeyBlock"], WrappedKeyBlock=nblock)}
    with pytest.raises(ClientError) as e:
        dp.translate_key_material(IncomingKeyMaterial=n, OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["aes_kek"]}})
    assert "exportable" in err(e)[1]
    with pytest.raises(ClientError) as e:
        dp.translate_key_material(IncomingKeyMaterial=incoming, OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["tdes_kek"]}})
    assert "at least as strong" in err(e)[1]
