"""Data-plane PIN, card, EMV, DUKPT and MAC operations through boto3, with keys of KNOWN material.

Keys are imported through the API only: an AES-128 KEK by KEY_CRYPTOGRAM (RSA-OAEP-SHA-256 to
the GetParametersForImport certificate, with `cryptography`), then BDKs, ZPKs, PVK, CVK, MKs and a
MAC key as TR-31 version D blocks made with psec. Every expected value is computed here with an
independent implementation (psec, pyemv, pydukpt, `cryptography`, and a short X9.24-3 AES DUKPT
derivation checked against the published X9.24-3 supplement vector), never by calling paycrypt.
"""
import base64
import os

import psec.cvv
import psec.mac
import psec.pin
import psec.pinblock
import psec.tr31
import pydukpt
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pyemv import ac, kd

from conftest import MODES

pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")

KEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def tdes_ecb(key: bytes, data: bytes) -> bytes:
    e = Cipher(TripleDES(key), modes.ECB()).encryptor()
    return e.update(data) + e.finalize()


def tdes_cbc(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    e = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    return e.update(data) + e.finalize()


def aes_ecb(key: bytes, data: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(data) + e.finalize()


def zpk_iso0(key: bytes, pin: str, pan: str) -> str:
    return tdes_ecb(key, psec.pinblock.encode_pinblock_iso_0(pin, pan)).hex().upper()


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e.get("Reason", e["Error"].get("Message", ""))


# --- ANSI X9.24-3 AES DUKPT (AES-128 BDK, AES-128 working keys), written from the standard ---
def _aes_dd(usage: int, alg: int, bits: int, data: bytes) -> bytes:
    return bytes([1, 1]) + usage.to_bytes(2, "big") + alg.to_bytes(2, "big") + bits.to_bytes(2, "big") + data


def aes_dukpt_working_key(bdk: bytes, ksn: bytes, usage: int) -> bytes:
    ik = aes_ecb(bdk, _aes_dd(0x8001, 2, 128, ksn[:8]))
    counter = int.from_bytes(ksn[8:], "big")
    key, working = ik, 0
    for bit in range(31, -1, -1):
        mask = 1 << bit
        if counter & mask:
            working |= mask
            key = aes_ecb(key, _aes_dd(0x8000, 2, 128, ksn[4:8] + working.to_bytes(4, "big")))
    return aes_ecb(key, _aes_dd(usage, 2, 128, ksn[4:8] + counter.to_bytes(4, "big")))


def test_aes_dukpt_reference_matches_x9_24_3_vector():
    # X9.24-3:2017 supplement: BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, KSN 123456789012345600000001
    k = aes_dukpt_working_key(bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1"), bytes.fromhex("123456789012345600000001"), 0x1000)
    assert k.hex().upper() == "AF8CB133A78F8DC2D1359F18527593FB"


# --- key import through the API ---
@pytest.fixture(scope="module")
def kek(cp):
    p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_4096")
    pem = base64.b64decode(p["WrappingKeyCertificate"])
    cert = x509.load_pem_x509_certificate(pem)
    wrapped = cert.public_key().encrypt(
        KEK, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    r = cp.import_key(
        KeyMaterial={
            "KeyCryptogram": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
                    "KeyClass": "SYMMETRIC_KEY",
                    "KeyAlgorithm": "AES_128",
                    "KeyModesOfUse": MODES["B"],
                },
                "Exportable": True,
                "WrappedKeyCryptogram": wrapped.hex().upper(),
                "ImportToken": p["ImportToken"],
                "WrappingSpec": "RSA_OAEP_SHA_256",
            }
        },
        KeyCheckValueAlgorithm="CMAC",
    )
    return r["Key"]["KeyArn"]


@pytest.fixture(scope="module")
def tr31(cp, kek):
    def imp(usage: str, alg: str, mode: str, key: bytes) -> str:
        block = psec.tr31.wrap(KEK, f"D0000{usage}{alg}{mode}00N0000", key)
        r = cp.import_key(KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek, "WrappedKeyBlock": block}})
        return r["Key"]["KeyArn"]

    return imp


TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
ZPK = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")
PVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
CVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
MK_AC = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
MAC_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


@pytest.fixture(scope="module")
def keys(tr31):
    return {
        "tdes_bdk": tr31("B0", "T", "X", TDES_BDK),
        "aes_bdk": tr31("B0", "A", "X", AES_BDK),
        "zpk": tr31("P0", "T", "B", ZPK),
        "pvk": tr31("V2", "T", "C", PVK),
        "cvk": tr31("C0", "T", "C", CVK),
        "mk_ac": tr31("E0", "T", "X", MK_AC),
        "m3": tr31("M3", "T", "C", MAC_KEY),
    }


def test_translate_tdes_dukpt_iso0_to_zpk_iso0(dp, keys):
    ksn = bytes.fromhex("FFFF9876543210E00003")
    pan, pin = "4012345678909", "1234"
    tk = pydukpt.derive_key(pydukpt.derive_ipek(TDES_BDK, ksn), ksn)
    block = pydukpt.encrypt_pin(tk, pin, pan).hex().upper()
    r = dp.translate_pin_data(
        IncomingKeyIdentifier=keys["tdes_bdk"],
        OutgoingKeyIdentifier=keys["zpk"],
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": pan}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": pan}},
        EncryptedPinBlock=block,
        IncomingDukptAttributes={"KeySerialNumber": ksn.hex().upper(), "DukptKeyDerivationType": "TDES_2KEY"},
    )
    assert r["PinBlock"] == zpk_iso0(ZPK, pin, pan)
    assert r["KeyArn"] == keys["zpk"]


def test_translate_aes_dukpt_iso4_to_tdes_iso0(dp, keys):
    ksn = bytes.fromhex("123456789012345600000007")
    pan, pin = "4111111111111111", "987654"
    pin_key = aes_dukpt_working_key(AES_BDK, ksn, 0x1000)
    block = psec.pinblock.encipher_pinblock_iso_4(pin_key, pin, pan).hex().upper()
    r = dp.translate_pin_data(
        IncomingKeyIdentifier=keys["aes_bdk"],
        OutgoingKeyIdentifier=keys["zpk"],
        IncomingTranslationAttributes={"IsoFormat4": {"PrimaryAccountNumber": pan}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": pan}},
        EncryptedPinBlock=block,
        IncomingDukptAttributes={"KeySerialNumber": ksn.hex().upper()},
    )
    assert r["PinBlock"] == zpk_iso0(ZPK, pin, pan)


def test_translate_iso0_to_iso1_refused(dp, keys):
    pan = "4111111111111111"
    with pytest.raises(ClientError) as e:
        dp.translate_pin_data(
            IncomingKeyIdentifier=keys["zpk"],
            OutgoingKeyIdentifier=keys["zpk"],
            IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": pan}},
            OutgoingTranslationAttributes={"IsoFormat1": {}},
            EncryptedPinBlock=zpk_iso0(ZPK, "1234", pan),
        )
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_visa_pvv_generate_and_verify(dp, keys):
    pan, pin = "4000001234562000", "3917"
    block = zpk_iso0(ZPK, pin, pan)
    pvv = psec.pin.generate_visa_pvv(PVK, "1", pin, pan)
    r = dp.generate_pin_data(
        GenerationKeyIdentifier=keys["pvk"],
        EncryptionKeyIdentifier=keys["zpk"],
        GenerationAttributes={"VisaPinVerificationValue": {"EncryptedPinBlock": block, "PinVerificationKeyIndex": 1}},
        PrimaryAccountNumber=pan,
        PinBlockFormat="ISO_FORMAT_0",
    )
    assert r["PinData"]["VerificationValue"] == pvv
    args = dict(
        VerificationKeyIdentifier=keys["pvk"],
        EncryptionKeyIdentifier=keys["zpk"],
        EncryptedPinBlock=block,
        PrimaryAccountNumber=pan,
        PinBlockFormat="ISO_FORMAT_0",
    )
    dp.verify_pin_data(VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}}, **args)
    wrong = f"{(int(pvv) + 1) % 10000:04d}"
    with pytest.raises(ClientError) as e:
        dp.verify_pin_data(VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": wrong}}, **args)
    assert err(e) == ("VerificationFailedException", "INVALID_PIN")


def test_cvv2_generate_and_verify(dp, keys):
    pan, expiry = "4123456789012345", "2812"
    cvv2 = psec.cvv.generate_cvv(CVK, pan, expiry, "000")
    r = dp.generate_card_validation_data(
        KeyIdentifier=keys["cvk"],
        PrimaryAccountNumber=pan,
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": expiry}},
    )
    assert r["ValidationData"] == cvv2
    dp.verify_card_validation_data(
        KeyIdentifier=keys["cvk"],
        PrimaryAccountNumber=pan,
        VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": expiry}},
        ValidationData=cvv2,
    )
    with pytest.raises(ClientError) as e:
        dp.verify_card_validation_data(
            KeyIdentifier=keys["cvk"],
            PrimaryAccountNumber=pan,
            VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": expiry}},
            ValidationData=f"{(int(cvv2) + 1) % 1000:03d}",
        )
    assert err(e) == ("VerificationFailedException", "INVALID_VALIDATION_DATA")


def test_verify_arqc_with_arpc(dp, keys):
    pan, psn, atc = "5413330089020011", "01", "0042"
    data = bytes.fromhex("000000001000000000000000084000000000000840230101005DA25C3C0000423C00")
    icc = kd.derive_icc_mk_a(MK_AC, pan, psn)
    sk = kd.derive_common_sk(icc, bytes.fromhex(atc) + bytes(6))
    arqc = ac.generate_ac(sk, data, ac.PaddingType.EMV)
    padded = data + b"\x80" + bytes((8 - (len(data) + 1) % 8) % 8)
    arc = bytes.fromhex("3030")
    r = dp.verify_auth_request_cryptogram(
        KeyIdentifier=keys["mk_ac"],
        TransactionData=padded.hex().upper(),
        AuthRequestCryptogram=arqc.hex().upper(),
        MajorKeyDerivationMode="EMV_OPTION_A",
        SessionKeyDerivationAttributes={
            "EmvCommon": {"PrimaryAccountNumber": pan, "PanSequenceNumber": psn, "ApplicationTransactionCounter": atc}
        },
        AuthResponseAttributes={"ArpcMethod1": {"AuthResponseCode": arc.hex()}},
    )
    assert r["AuthResponseValue"] == ac.generate_arpc_1(sk, arqc, arc).hex().upper()
    bad = bytes([arqc[0] ^ 1]) + arqc[1:]
    with pytest.raises(ClientError) as e:
        dp.verify_auth_request_cryptogram(
            KeyIdentifier=keys["mk_ac"],
            TransactionData=padded.hex().upper(),
            AuthRequestCryptogram=bad.hex().upper(),
            MajorKeyDerivationMode="EMV_OPTION_A",
            SessionKeyDerivationAttributes={
                "EmvCommon": {"PrimaryAccountNumber": pan, "PanSequenceNumber": psn, "ApplicationTransactionCounter": atc}
            },
        )
    assert err(e) == ("VerificationFailedException", "INVALID_AUTH_REQUEST_CRYPTOGRAM")


def test_iso9797_algorithm3_mac(dp, keys):
    data = b"4012345678909D987 retail MAC over unaligned data"
    expected = psec.mac.generate_retail_mac(MAC_KEY[:8], MAC_KEY[8:], data, padding=1).hex().upper()
    r = dp.generate_mac(
        KeyIdentifier=keys["m3"],
        MessageData=data.hex(),
        GenerationAttributes={"Algorithm": "ISO9797_ALGORITHM3"},
    )
    assert r["Mac"] == expected
    dp.verify_mac(
        KeyIdentifier=keys["m3"],
        MessageData=data.hex(),
        Mac=expected[:8],
        VerificationAttributes={"Algorithm": "ISO9797_ALGORITHM3"},
    )


def test_dukpt_decrypt_p2pe_track2(dp, keys):
    ksn = bytes.fromhex("FFFF9876543210E0000A")
    track2 = b";4012345678909=25121011234567890?"
    pad = 8 - len(track2) % 8
    plain = track2 + bytes([pad]) * pad  # PKCS#7, stripped by the caller as in the AWS P2PE sample
    tk = pydukpt.derive_key(pydukpt.derive_ipek(TDES_BDK, ksn), ksn)
    ct = tdes_cbc(pydukpt.data_request_key(tk), plain)
    r = dp.decrypt_data(
        KeyIdentifier=keys["tdes_bdk"],
        CipherText=ct.hex().upper(),
        DecryptionAttributes={"Dukpt": {"KeySerialNumber": ksn.hex().upper(), "DukptKeyDerivationType": "TDES_2KEY"}},
    )
    out = bytes.fromhex(r["PlainText"])
    assert out[: -out[-1]] == track2
