#!/usr/bin/env python3
"""Write the committed seed corpora under fuzz/corpus/<target>/ (small valid inputs).

Run from the repository root with the test virtualenv: `.venv/bin/python fuzz/make_seeds.py`.
The byte layouts are documented on each target in fuzz/src/targets.rs. Uses psec (pinned in
tests/requirements.txt) for TR-31 blocks and ISO PIN blocks and `cryptography` for TDES/AES.
"""
import json
import os
import shutil
import sys

import psec
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
TDES = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
AES = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")


def write(target, items):
    d = os.path.join(ROOT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, data in enumerate(items):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, f"seed-{i:03d}"), "wb") as f:
            f.write(data)


def tdes_ecb(b):
    e = Cipher(TripleDES(TDES), modes.ECB()).encryptor()
    return e.update(b) + e.finalize()


# ---- tr31: mode byte (even = parse/unwrap, odd = wrap round trip) + block
blocks = []
for kbpk, headers in (
    (TDES, ["A0000P0TE00E0000", "B0000D0TB00N0000", "C0000M3TC00S0100KS1800604B120F9292800000", "B0000K0TB00E0000"]),
    (AES, ["D0000P0AE00E0000", "D0000D0AB00E0000", "D0000B0AX12S0200KS18FFFF00A0200001E00000PB0800000000", "D0000K1AB00S0100IK1000000000012345"]),
):
    for h in headers:
        key = os.urandom(16 if h[8] in "TA" else 16)
        try:
            blocks.append(psec.tr31.wrap(kbpk, h, key))
        except Exception as e:  # a header psec refuses: still a parse seed
            print("psec refused", h, e, file=sys.stderr)
            blocks.append(h)
vectors = [
    "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
    "C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C",
]
tr31_seeds = [b"\x00" + b.encode() for b in blocks + vectors]
tr31_seeds += [bytes([1, kl, pl]) + h.encode() for kl, pl, h in (
    (1, 6, "A0000P0TE00E0000"), (2, 6, "B0000D0TB00N0000"), (3, 14, "D0000P0AE00E0000"),
    (1, 14, "D0000B0AX12S0200KS18FFFF00A0200001E00000"), (0, 6, "C0000K0DE00N0000"))]
write("tr31", tr31_seeds)

# ---- pinblock: fmt, pad, pan index, out fmt, block
PAN = "4111111111111111"
pb = []
iso0 = psec.pinblock.encode_pinblock_iso_0("1234", PAN)
iso3 = psec.pinblock.encode_pinblock_iso_3("98765", PAN)
iso2 = psec.pinblock.encode_pinblock_iso_2("1234")
iso1 = bytes.fromhex("141234" + "A1B2C3D4E5")  # ISO 1: 1, len 4, PIN, transaction fill
ibm = bytes.fromhex("1234FFFFFFFFFFFF")
iso4 = psec.pinblock.encipher_pinblock_iso_4(AES, "1234", PAN)
iso4_field = psec.pinblock.encode_pin_field_iso_4("4321")
for fmt, clear, out in ((0, iso0, 3), (3, iso3, 0), (2, iso2, 0), (1, iso1, 0), (6, ibm, 0)):
    pb.append(bytes([fmt, 0xF, 0, out]) + tdes_ecb(clear))  # encrypted (TDES)
    pb.append(bytes([fmt, 0xF, 0, out]) + clear)  # clear (decode_clear path)
pb.append(bytes([4, 0xF, 0, 0]) + iso4)
pb.append(bytes([5, 0xF, 0, 4]) + iso4)
pb.append(bytes([4, 0xF, 0, 0]) + iso4_field)
pb.append(bytes([0, 0xF, 6, 4]) + tdes_ecb(iso0))  # no PAN
write("pinblock", pb)

# ---- track2
write("track2", [
    ";4111111111111111=25121011234567890?",
    "4111111111111111D2512101123456789F",
    "5413330089600010=2712201",
    "4761739001010010123D25122010000000000",
    "4111111111111111=2513101",
    "4111111111111111",
])

# ---- arqc: sel, atc(2), un(4), textlen, "pan|psn", data
def arqc(sel, pan, psn, data):
    t = f"{pan}|{psn}".encode()
    return bytes([sel, 0x00, 0x01, 0xDE, 0xAD, 0xBE, 0xEF, len(t)]) + t + data

txn = bytes.fromhex("0000000010000000000000000710000000000007101302050030901B6A3C00005503A4A082")
write("arqc", [
    arqc(0x00, "4111111111111111", "00", txn[:32]),
    arqc(0x03, "5413330089600010", "01", txn[:32]),
    arqc(0x14, "4761739001010010123", "00", txn),
    arqc(0x26, "4111111111111111", "00", txn),
    arqc(0x07, "4111111111111111", "00", txn[:8]),
    arqc(0x29, "123456789012", "00", txn[:24]),
])

# ---- sigv4: mode 0 = raw fields (method, path, query, authz, x-amz-date, date, sha, body)
AUTHZ = ("AWS4-HMAC-SHA256 Credential=AKIDFUZZ/20261121/us-east-1/payment-cryptography/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
sig = [
    b"\x00" + "\n".join(["POST", "/", "", AUTHZ, "20261121T000000Z", "", "", "{}"]).encode(),
    b"\x00" + "\n".join(["POST", "/keys/alias%2Fx/encrypt", "a=b&c=%2F", AUTHZ, "", "Sat, 21 Nov 2026 00:00:00 GMT", "", ""]).encode(),
    b"\x00" + "\n".join(["GET", "/a/./b/../c/", "", AUTHZ.replace("AKIDFUZZ", "OTHER"), "20261121T000500Z", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ""]).encode(),
    b"\x00" + "\n".join(["POST", "/", "", "AWS4-HMAC-SHA256 Credential=a/b", "", "", "", ""]).encode(),
    b"\x01" + "\n".join(["POST", "/", "", "PaymentCryptographyControlPlane.ListKeys", "{}"]).encode(),
    b"\x01" + "\n".join(["POST", "/keys/alias%2Fp%2F1/encrypt", "x=1&y=%20", "", "{\"a\":1}"]).encode(),
    b"\x01" + "\n".join(["post", "/a/../b/./c", "", "  spaced   value  ", ""]).encode(),
]
write("sigv4", sig)

# ---- http: selector byte + body (data-plane routes with a label: label \n body)
CONTROL = ["CreateKey", "GetKey", "ListKeys", "DeleteKey", "RestoreKey", "StartKeyUsage", "StopKeyUsage",
           "CreateAlias", "GetAlias", "ListAliases", "UpdateAlias", "DeleteAlias", "TagResource",
           "UntagResource", "ListTagsForResource", "ImportKey", "ExportKey", "GetParametersForImport",
           "GetPublicKeyCertificate", "GetParametersForExport", "AddKeyReplicationRegions",
           "RemoveKeyReplicationRegions", "EnableDefaultKeyReplicationRegions",
           "DisableDefaultKeyReplicationRegions", "GetDefaultKeyReplicationRegions", "AssociateMpaTeam",
           "DisassociateMpaTeam", "GetMpaTeamAssociation", "PutResourcePolicy", "GetResourcePolicy",
           "DeleteResourcePolicy", "GetCertificateSigningRequest"]
DATA = ["EncryptData", "DecryptData", "ReEncryptData", "GenerateMac", "VerifyMac", "GenerateAs2805KekValidation",
        "GenerateAuthRequestCryptogram", "VerifyAuthRequestCryptogram", "GenerateCardValidationData",
        "VerifyCardValidationData", "GenerateMacEmvPinChange", "GeneratePinData", "VerifyPinData",
        "TranslatePinData", "TranslateKeyMaterial"]
ARN = "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop"
TEAM = "arn:aws:mpa:us-east-1:111122223333:approval-team/payments-team"
EMVC = {"EmvCommon": {"PrimaryAccountNumber": PAN, "PanSequenceNumber": "00", "ApplicationTransactionCounter": "0001"}}
control = {
    "CreateKey": [{"KeyAttributes": {"KeyUsage": "TR31_M7_HMAC_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "HMAC_SHA512", "KeyModesOfUse": {"Generate": True, "Verify": True}}, "Exportable": True, "Enabled": False, "Tags": [{"Key": "k", "Value": "v"}]},
                  {"KeyAttributes": {"KeyUsage": "TR31_P1_PIN_GENERATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_256", "KeyModesOfUse": {"Generate": True}}, "Exportable": False, "KeyCheckValueAlgorithm": "CMAC"}],
    "GetKey": [{"KeyIdentifier": "alias/fuzz/pek"}, {"KeyIdentifier": ARN}],
    "ListKeys": [{"KeyState": "CREATE_COMPLETE", "MaxResults": 3, "NextToken": "abc"}, {"MaxResults": 2}],
    "DeleteKey": [{"KeyIdentifier": "alias/fuzz/kek", "DeleteKeyInDays": 3}],
    "RestoreKey": [{"KeyIdentifier": "alias/fuzz/bdk"}],
    "StartKeyUsage": [{"KeyIdentifier": "alias/fuzz/bdk"}],
    "StopKeyUsage": [{"KeyIdentifier": ARN}],
    "CreateAlias": [{"AliasName": "alias/fuzz/new", "KeyArn": ARN}],
    "GetAlias": [{"AliasName": "alias/fuzz/pek"}],
    "ListAliases": [{"KeyArn": ARN, "MaxResults": 10}],
    "UpdateAlias": [{"AliasName": "alias/fuzz/other", "KeyArn": ARN}],
    "DeleteAlias": [{"AliasName": "alias/fuzz/none"}],
    "TagResource": [{"ResourceArn": ARN, "Tags": [{"Key": "a", "Value": "b"}]}],
    "UntagResource": [{"ResourceArn": ARN, "TagKeys": ["a"]}],
    "ListTagsForResource": [{"ResourceArn": ARN, "MaxResults": 5}],
    "ImportKey": [{"KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/fuzz/kbpk-aes", "WrappedKeyBlock": blocks[4]}}, "Enabled": True},
                  {"KeyMaterial": {"KeyCryptogram": {"KeyAttributes": {"KeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True}}, "Exportable": True, "WrappedKeyCryptogram": "00" * 256, "ImportToken": "import-token-x", "WrappingSpec": "RSA_OAEP_SHA_256"}}}],
    "ExportKey": [{"ExportKeyIdentifier": "alias/fuzz/pek", "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/fuzz/kbpk-aes"}}},
                  {"ExportKeyIdentifier": "alias/fuzz/pek", "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/fuzz/kbpk-aes", "KeyBlockHeaders": {"KeyModesOfUse": {"Encrypt": True}, "KeyExportability": "SENSITIVE", "KeyVersion": "01", "OptionalBlocks": {"BI": "00"}}}}}],
    "GetParametersForImport": [{"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_2048"}],
    "GetPublicKeyCertificate": [{"KeyIdentifier": "alias/fuzz/pek"}],
    "GetParametersForExport": [{"KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048"}],
    "AddKeyReplicationRegions": [{"KeyIdentifier": "alias/fuzz/pek", "ReplicationRegions": ["us-west-2"]}],
    "RemoveKeyReplicationRegions": [{"KeyIdentifier": "alias/fuzz/pek", "ReplicationRegions": ["us-west-2"]}],
    "EnableDefaultKeyReplicationRegions": [{"ReplicationRegions": ["eu-west-1"]}],
    "DisableDefaultKeyReplicationRegions": [{"ReplicationRegions": ["eu-west-1"]}],
    "GetDefaultKeyReplicationRegions": [{}],
    "AssociateMpaTeam": [{"Action": "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE", "MpaTeamArn": TEAM, "RequesterComment": "x"}],
    "DisassociateMpaTeam": [{"Action": "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"}],
    "GetMpaTeamAssociation": [{"Action": "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"}],
    "PutResourcePolicy": [{"ResourceArn": ARN, "Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}],
    "GetResourcePolicy": [{"ResourceArn": ARN}],
    "DeleteResourcePolicy": [{"ResourceArn": ARN}],
    "GetCertificateSigningRequest": [{"KeyIdentifier": ARN, "SigningAlgorithm": "SHA256", "CertificateSubject": {"CommonName": "x", "Country": "US"}}],
}
E_PB = tdes_ecb(iso0).hex().upper()
data = {
    "EncryptData": [("alias%2Ffuzz%2Fdek", {"PlainText": "0123456789ABCDEF", "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
                    ("alias%2Ffuzz%2Fdek", {"PlainText": "0123456789ABCDEF0123456789ABCDEF", "EncryptionAttributes": {"Symmetric": {"Mode": "CBC", "InitializationVector": "0000000000000000", "PaddingType": "PKCS1"}}})],
    "DecryptData": [("alias%2Ffuzz%2Fdek", {"CipherText": "0123456789ABCDEF", "DecryptionAttributes": {"Symmetric": {"Mode": "CBC", "InitializationVector": "0000000000000000"}}})],
    "ReEncryptData": [("alias%2Ffuzz%2Fdek", {"CipherText": "0123456789ABCDEF", "IncomingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}, "OutgoingKeyIdentifier": "alias/fuzz/dek", "OutgoingEncryptionAttributes": {"Symmetric": {"Mode": "CBC", "InitializationVector": "0000000000000000"}}})],
    "GenerateMac": [(None, {"KeyIdentifier": "alias/fuzz/mac", "MessageData": "0011223344556677", "GenerationAttributes": {"Algorithm": "ISO9797_ALGORITHM3"}}),
                    (None, {"KeyIdentifier": "alias/fuzz/hmac", "MessageData": "00", "GenerationAttributes": {"Algorithm": "HMAC_SHA256"}, "MacLength": 16})],
    "VerifyMac": [(None, {"KeyIdentifier": "alias/fuzz/mac", "MessageData": "0011223344556677", "Mac": "0011223344556677", "VerificationAttributes": {"Algorithm": "ISO9797_ALGORITHM3"}})],
    "GenerateAs2805KekValidation": [(None, {"KekValidationType": {"KekValidationRequest": {"DeriveKeyAlgorithm": "TDES_2KEY"}}, "KeyIdentifier": "alias/fuzz/kek"})],
    "GenerateAuthRequestCryptogram": [(None, {"KeyIdentifier": "alias/fuzz/arqc", "TransactionData": txn[:16].hex().upper(), "MajorKeyDerivationMode": "EMV_OPTION_A", "SessionKeyDerivationAttributes": EMVC})],
    "VerifyAuthRequestCryptogram": [(None, {"KeyIdentifier": "alias/fuzz/arqc", "TransactionData": txn[:32].hex().upper(), "AuthRequestCryptogram": "0011223344556677", "MajorKeyDerivationMode": "EMV_OPTION_B", "SessionKeyDerivationAttributes": {"Mastercard": {"PrimaryAccountNumber": PAN, "PanSequenceNumber": "01", "ApplicationTransactionCounter": "00FF", "UnpredictableNumber": "DEADBEEF"}}, "AuthResponseAttributes": {"ArpcMethod2": {"CardStatusUpdate": "00000000", "ProprietaryAuthenticationData": "00"}}}),
                                    (None, {"KeyIdentifier": "alias/fuzz/arqc", "TransactionData": txn[:16].hex().upper(), "AuthRequestCryptogram": "0011223344556677", "MajorKeyDerivationMode": "EMV_OPTION_A", "SessionKeyDerivationAttributes": EMVC, "AuthResponseAttributes": {"ArpcMethod1": {"AuthResponseCode": "3030"}}})],
    "GenerateCardValidationData": [(None, {"KeyIdentifier": "alias/fuzz/cvk", "PrimaryAccountNumber": PAN, "GenerationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1230"}}})],
    "VerifyCardValidationData": [(None, {"KeyIdentifier": "alias/fuzz/cvk", "PrimaryAccountNumber": PAN, "ValidationData": "123", "VerificationAttributes": {"CardVerificationValue1": {"CardExpiryDate": "1230", "ServiceCode": "101"}}})],
    "GenerateMacEmvPinChange": [(None, {"NewPinPekIdentifier": "alias/fuzz/pek", "NewEncryptedPinBlock": E_PB, "PinBlockFormat": "ISO_FORMAT_0", "SecureMessagingIntegrityKeyIdentifier": "alias/fuzz/arqc", "SecureMessagingConfidentialityKeyIdentifier": "alias/fuzz/arqc", "MessageData": "00112233445566778899", "DerivationMethodAttributes": {"EmvCommon": {"PrimaryAccountNumber": PAN, "PanSequenceNumber": "00", "ApplicationCryptogram": "0011223344556677", "Mode": "ECB", "PinBlockLengthPosition": "NONE", "PinBlockPaddingType": "NO_PADDING"}}})],
    "GeneratePinData": [(None, {"GenerationKeyIdentifier": "alias/fuzz/pvk", "EncryptionKeyIdentifier": "alias/fuzz/pek", "GenerationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1}}, "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_0"})],
    "VerifyPinData": [(None, {"VerificationKeyIdentifier": "alias/fuzz/pvk", "EncryptionKeyIdentifier": "alias/fuzz/pek", "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": "1234"}}, "EncryptedPinBlock": E_PB, "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_0"})],
    "TranslatePinData": [(None, {"IncomingKeyIdentifier": "alias/fuzz/pek", "OutgoingKeyIdentifier": "alias/fuzz/pek-aes", "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": PAN}}, "OutgoingTranslationAttributes": {"IsoFormat4": {"PrimaryAccountNumber": PAN}}, "EncryptedPinBlock": E_PB}),
                         (None, {"IncomingKeyIdentifier": "alias/fuzz/pek", "OutgoingKeyIdentifier": "alias/fuzz/pek", "IncomingTranslationAttributes": {"IsoFormat1": {}}, "OutgoingTranslationAttributes": {"IsoFormat3": {"PrimaryAccountNumber": PAN}}, "EncryptedPinBlock": E_PB, "IncomingDukptAttributes": {"KeySerialNumber": "FFFF9876543210E00001", "DukptKeyVariant": "BIDIRECTIONAL"}})],
    "TranslateKeyMaterial": [(None, {"IncomingKeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/fuzz/kbpk-aes", "WrappedKeyBlock": blocks[5]}}, "OutgoingKeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/fuzz/kbpk-aes"}}})],
}
http = []
for i, op in enumerate(CONTROL):
    for body in control[op]:
        http.append(bytes([i]) + json.dumps(body, separators=(",", ":")).encode())
http.append(bytes([CONTROL.index("ListKeys")]))  # empty body
for j, op in enumerate(DATA):
    for label, body in data[op]:
        b = json.dumps(body, separators=(",", ":")).encode()
        if label is not None:
            b = label.encode() + b"\n" + b
        http.append(bytes([len(CONTROL) + j]) + b)
raw = len(CONTROL) + len(DATA)
http.append(bytes([raw]) + b"/keys/alias%2Ffuzz%2Fdek/decrypt\n{}")
http.append(bytes([raw]) + b"/nope\n{}")
http.append(bytes([0]) + b"{\"KeyAttributes\":")
write("http", http)
print("seeds written to", ROOT)
