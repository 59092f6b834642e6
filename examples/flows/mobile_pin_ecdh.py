"""Flow 5 -- mobile PIN set and PIN reveal with ECDH: the app and the issuer's service agree a
one-time AES-128 key by ECDH (P-256, NIST SP 800-56C concatenation KDF with SHA-256 over fresh
shared information); the app sends a new PIN as an ISO 9564 format 4 PIN block under that key,
and later receives the PIN the same way, so no clear PIN crosses the network and no PIN key is
ever provisioned to the phone.

The service side uses the AWS API as documented: a K3 ECC key pair (CreateKey, DeriveKeyUsage
TR31_P0_PIN_ENCRYPTION_KEY) whose certificate the app gets from GetPublicKeyCertificate; the app's
CA imported as a root; TranslatePinData with `IncomingWrappedKey` / `OutgoingWrappedKey`
`.WrappedKeyMaterial.DiffieHellmanSymmetricKey` (AWS-API.md section 3.7 and 3.9).

Sides: app (Python: `cryptography` ECDH + ConcatKDFHash, psec ISO 4), issuer service (this
script, calling paycrypt), issuer database (PVV and the PIN block under the issuer's PEK).

Run against a server:  python examples/flows/mobile_pin_ecdh.py --endpoint-url http://127.0.0.1:8080 \\
                          --credentials-file paycrypt-data/credentials
"""
from __future__ import annotations

import os

import psec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from common import Boundary, arg_parser, arn, connect, establish_kek, expect, import_tr31, kcv_aes, mask_pan, short
from tr34 import api_cert, load_api_cert, make_ca, make_leaf

KEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # AES-128 KBPK (known test key)
PEK = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")  # issuer PIN encryption key, TDES_2KEY
PVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # Visa PVK pair, TDES_2KEY
PVKI = 1

PAN = "4111111111111111"
NEW_PIN = "8642"


def shared_information() -> bytes:
    """Fresh KDF shared information for one exchange (AWS: no zero bytes)."""
    return bytes(b or 1 for b in os.urandom(16))


class App:
    """The cardholder's phone: an ECC P-256 key pair with a certificate from the app's CA."""

    def __init__(self, ca_key, ca_cert, service_cert):
        self.key = ec.generate_private_key(ec.SECP256R1())
        _, self.cert = make_leaf(ca_key, ca_cert, self.key)
        self.service_public = service_cert.public_key()

    def derive(self, info: bytes) -> bytes:
        z = self.key.exchange(ec.ECDH(), self.service_public)
        return ConcatKDFHash(algorithm=hashes.SHA256(), length=16, otherinfo=info).derive(z)


def ecdh_material(ca_arn: str, app: App, info: bytes) -> dict:
    return {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "PublicKeyCertificate": api_cert(app.cert),
                "KeyAlgorithm": "AES_128",
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_256",
                "SharedInformation": info.hex().upper(),
            }
        }
    }


def main(argv=None) -> dict:
    args = arg_parser(__doc__.splitlines()[0]).parse_args(argv)
    cp, dp = connect(args)
    log = Boundary("Flow 5: mobile PIN set / reveal with ECDH", args.quiet)

    log.section("key set-up (issuer key custodian, through the API)")
    kek = establish_kek(cp, log, KEK, "AES_128")
    pek = import_tr31(cp, log, kek, "P0", "TDES_2KEY", "B", PEK, "issuer PEK")
    pvk = import_tr31(cp, log, kek, "V2", "TDES_2KEY", "C", PVK, "issuer PVK")
    k3 = cp.create_key(
        KeyAttributes={"KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "ECC_NIST_P256", "KeyModesOfUse": {"DeriveKey": True}},
        Exportable=False,
        DeriveKeyUsage="TR31_P0_PIN_ENCRYPTION_KEY",
    )["Key"]
    log.cross("issuer service", "HSM", "CreateKey K3 ECC_NIST_P256 (DeriveKeyUsage P0)", arn(k3["KeyArn"]))
    c = cp.get_public_key_certificate(KeyIdentifier=k3["KeyArn"])
    service_cert = load_api_cert(c["KeyCertificate"])
    service_cert.verify_directly_issued_by(load_api_cert(c["KeyCertificateChain"]))
    log.cross("HSM", "app", "service key agreement certificate (via the issuer service)", f"{service_cert.subject.rfc4514_string()}, chain verified by the app")
    app_ca_key, app_ca_cert = make_ca(ec.generate_private_key(ec.SECP256R1()), cn="issuer app CA")
    ca = cp.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {"KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "ECC_NIST_P256", "KeyModesOfUse": {"Verify": True}},
                "PublicKeyCertificate": api_cert(app_ca_cert),
            }
        }
    )["Key"]
    log.cross("issuer service", "HSM", "ImportKey RootCertificatePublicKey (the app CA, P-256)", arn(ca["KeyArn"]))
    app = App(app_ca_key, app_ca_cert, service_cert)
    log.local("app", "key pair generated on the phone; certificate issued by the app CA", app.cert.subject.rfc4514_string())

    # ---- PIN set ----
    log.section("PIN set from the app")
    log.local("app", "new PIN typed by the cardholder (app's own input)", NEW_PIN)
    info = shared_information()
    key = app.derive(info)
    log.local("app", "ECDH + concatenation KDF (SHA-256) -> AES-128 key", f"KCV {kcv_aes(key)}")
    block = psec.pinblock.encipher_pinblock_iso_4(key, NEW_PIN, PAN).hex().upper()
    log.cross("app", "issuer service", "PIN set: PAN, ISO 4 PIN block, app certificate, shared information", f"{mask_pan(PAN)}, {block}, {short(api_cert(app.cert), 12)}, {info.hex().upper()}")
    log.cross("issuer service", "HSM", "TranslatePinData IsoFormat4 (ECDH key from K3 + app cert) -> IsoFormat0 (PEK)", f"K3 {arn(k3['KeyArn'])}")
    r = dp.translate_pin_data(
        IncomingKeyIdentifier=k3["KeyArn"],
        OutgoingKeyIdentifier=pek,
        IncomingTranslationAttributes={"IsoFormat4": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        EncryptedPinBlock=block,
        IncomingWrappedKey=ecdh_material(ca["KeyArn"], app, info),
    )
    pek_block = r["PinBlock"]
    log.cross("HSM", "issuer service", "ISO 0 PIN block under the PEK", pek_block)
    log.cross("issuer service", "HSM", "GeneratePinData VisaPinVerificationValue", f"PVK {arn(pvk)}, PEK {arn(pek)}, PAN {mask_pan(PAN)}")
    pvv = dp.generate_pin_data(
        GenerationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=pek,
        GenerationAttributes={"VisaPinVerificationValue": {"EncryptedPinBlock": pek_block, "PinVerificationKeyIndex": PVKI}},
        PrimaryAccountNumber=PAN,
        PinBlockFormat="ISO_FORMAT_0",
    )["PinData"]["VerificationValue"]
    expect(pvv == psec.pin.generate_visa_pvv(PVK, str(PVKI), NEW_PIN, PAN), "PVV differs from psec: the PIN did not arrive intact")
    log.cross("HSM", "issuer service", "GeneratePinData PVV", pvv)
    record = {"pvv": pvv, "pin_block_under_pek": pek_block}
    log.local("issuer database", "stored", f"{{pan: {mask_pan(PAN)}, pvv: {pvv}, pin_block_under_pek: {pek_block}}}")
    log.cross("issuer service", "app", "PIN set response", "OK")

    # ---- PIN reveal ----
    log.section("PIN reveal to the app")
    info = shared_information()
    log.cross("app", "issuer service", "PIN reveal request: PAN, app certificate, fresh shared information", f"{mask_pan(PAN)}, {info.hex().upper()}")
    log.cross("issuer service", "HSM", "TranslatePinData IsoFormat0 (PEK) -> IsoFormat4 (ECDH key from K3 + app cert)", f"stored block {record['pin_block_under_pek']}")
    r = dp.translate_pin_data(
        IncomingKeyIdentifier=pek,
        OutgoingKeyIdentifier=k3["KeyArn"],
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat4": {"PrimaryAccountNumber": PAN}},
        EncryptedPinBlock=record["pin_block_under_pek"],
        OutgoingWrappedKey=ecdh_material(ca["KeyArn"], app, info),
    )
    log.cross("HSM", "issuer service", "ISO 4 PIN block under the ECDH key", r["PinBlock"])
    log.cross("issuer service", "app", "PIN reveal response", r["PinBlock"])
    revealed = psec.pinblock.decipher_pinblock_iso_4(app.derive(info), bytes.fromhex(r["PinBlock"]), PAN)
    expect(revealed == NEW_PIN, "the app did not recover the PIN")
    log.local("app", "PIN decrypted on the phone and shown to the cardholder (app side)", revealed)
    log.section("mobile PIN ECDH flow OK")
    return {"pvv": pvv, "lines": log.lines}


if __name__ == "__main__":
    main()
