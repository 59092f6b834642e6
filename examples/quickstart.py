"""paycrypt quickstart: an acquirer translates a terminal's PIN block to the zone PIN key.

TEST KEYS ONLY: the key values below are published in this file; never use them for real cards.
Usage: python examples/quickstart.py PEK_ARN  (the terminal PIN key made with the AWS CLI).
The endpoint and credentials come from AWS_ENDPOINT_URL / AWS_SHARED_CREDENTIALS_FILE.
"""
import base64
import sys
import warnings

import boto3
import psec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

warnings.filterwarnings("ignore", message=".*TripleDES.*")  # psec uses TDES through cryptography

TEST_KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # TEST zone master key (KEK)
TEST_ZPK = bytes.fromhex("A8C2E3F4B5D6079819A2B3C4D5E6F708")  # TEST zone PIN key
PAN, PIN = "4111111111111111", "1234"  # test card and the PIN the cardholder types

pek_arn = sys.argv[1]
cp = boto3.client("payment-cryptography")  # control plane: keys
dp = boto3.client("payment-cryptography-data")  # data plane: cryptography

# 1. Import the KEK as a real deployment does: RSA-OAEP-wrapped to the server's import
#    certificate (after checking that the certificate is signed by the returned CA).
p = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048")
cert = x509.load_pem_x509_certificate(base64.b64decode(p["WrappingKeyCertificate"]))
cert.verify_directly_issued_by(x509.load_pem_x509_certificate(base64.b64decode(p["WrappingKeyCertificateChain"])))
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
kek = cp.import_key(KeyMaterial={"KeyCryptogram": {
    "KeyAttributes": {"KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY",
                      "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}},
    "Exportable": True,
    "WrappedKeyCryptogram": cert.public_key().encrypt(TEST_KEK, oaep).hex().upper(),
    "ImportToken": p["ImportToken"],
    "WrappingSpec": "RSA_OAEP_SHA_256",
}})["Key"]

# 2. The card network sends the ZPK as a TR-31 key block under the KEK (built here with psec).
zpk_block = psec.tr31.wrap(TEST_KEK, "B0000P0TB00N0000", TEST_ZPK)
zpk = cp.import_key(KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"], "WrappedKeyBlock": zpk_block}})["Key"]

# 3. Key loading: the terminal's PIN key leaves the server as a TR-31 block under the KEK.
pek_block = cp.export_key(ExportKeyIdentifier=pek_arn, KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"]}})
_, terminal_pek = psec.tr31.unwrap(TEST_KEK, pek_block["WrappedKey"]["KeyMaterial"])

# 4. The terminal encrypts the cardholder's PIN as an ISO 9564 format 0 block under its PIN key.
terminal_block = psec.des.encrypt_tdes_ecb(terminal_pek, psec.pinblock.encode_pinblock_iso_0(PIN, PAN))

# 5. The acquirer translates it from the terminal's key to the zone key; the PIN stays inside.
iso0 = {"IsoFormat0": {"PrimaryAccountNumber": PAN}}
out = dp.translate_pin_data(
    IncomingKeyIdentifier=pek_arn, IncomingTranslationAttributes=iso0,
    OutgoingKeyIdentifier=zpk["KeyArn"], OutgoingTranslationAttributes=iso0,
    EncryptedPinBlock=terminal_block.hex().upper(),
)
print("ZPK key check value:     ", zpk["KeyCheckValue"])
print("PIN block under the ZPK: ", out["PinBlock"])
