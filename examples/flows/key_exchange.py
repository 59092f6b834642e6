"""Flow 6 -- key exchange with a partner: the partner (a key distribution host) sends a KEK as an
X9 TR-34-2012 key block to the HSM (GetParametersForImport TR34_KEY_BLOCK -> ImportKey
Tr34KeyBlock); then sends its zone PIN key as a TR-31 key block under that KEK (ImportKey
Tr31KeyBlock); we export a working key of ours back to it under the same KEK (ExportKey
Tr31KeyBlock). Both keys are then used end to end: a PIN block the partner encrypts under its
zone key is translated by the HSM to our working key, and the partner decrypts it again with the
key it unwrapped.

Sides: partner (Python: TR-34 with `cryptography` in tr34.py, TR-31 with psec), our host (this
script, calling paycrypt).

Run against a server:  python examples/flows/key_exchange.py --endpoint-url http://127.0.0.1:8080 \\
                          --credentials-file paycrypt-data/credentials
"""
from __future__ import annotations

import os

import psec

from common import Boundary, arg_parser, arn, connect, expect, kcv, kcv_tdes, mask_pan, short, tdes_ecb
from tr34 import api_cert, load_api_cert, make_ca, make_leaf, tr34_build

PARTNER_KEK = bytes.fromhex("F0E1D2C3B4A5968778695A4B3C2D1E0F")  # AES-128 KBPK the partner sends (known test key)
PARTNER_ZPK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # partner's zone PIN key, TDES_2KEY (known test key)

PAN = "5413330089020011"
PIN = "2468"


def main(argv=None) -> dict:
    args = arg_parser(__doc__.splitlines()[0]).parse_args(argv)
    cp, dp = connect(args)
    log = Boundary("Flow 6: key exchange (TR-34 KEK, TR-31 zone key in, working key out)", args.quiet)

    log.section("trust: the partner's CA is imported as a root")
    ca_key, ca_cert = make_ca(cn="partner KDH CA")
    kdh_key, kdh_cert = make_leaf(ca_key, ca_cert)
    log.cross("partner", "our key custodian", "CA certificate (out of band, fingerprint compared by phone)", ca_cert.subject.rfc4514_string())
    root = cp.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {"KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": {"Verify": True}},
                "PublicKeyCertificate": api_cert(ca_cert),
            }
        }
    )["Key"]
    log.cross("our key custodian", "HSM", "ImportKey RootCertificatePublicKey", f"-> {arn(root['KeyArn'])}")

    log.section("KEK by TR-34 (two-pass: the HSM is the key receiving device)")
    p = cp.get_parameters_for_import(KeyMaterialType="TR34_KEY_BLOCK", WrappingKeyAlgorithm="RSA_3072")
    krd_cert = load_api_cert(p["WrappingKeyCertificate"])
    krd_cert.verify_directly_issued_by(load_api_cert(p["WrappingKeyCertificateChain"]))
    log.cross("HSM", "partner", "KRD certificate (RSA-3072) + chain + import token", f"{krd_cert.subject.rfc4514_string()}, token {p['ImportToken']}")
    log.local("partner", "KRD certificate chain verified against the HSM's CA")
    nonce = os.urandom(16)
    log.cross("HSM", "partner", "random nonce (pass 1)", nonce.hex().upper())
    block = tr34_build(PARTNER_KEK, "D0000K1AB00E0000", nonce, kdh_cert, kdh_key, krd_cert, aes=True)
    log.cross("partner", "HSM", "TR-34 key block (pass 2: signed by the KDH, KEK enveloped to the KRD)", short(block.hex().upper(), 24))
    kek = cp.import_key(
        KeyMaterial={
            "Tr34KeyBlock": {
                "CertificateAuthorityPublicKeyIdentifier": root["KeyArn"],
                "SigningKeyCertificate": api_cert(kdh_cert),
                "ImportToken": p["ImportToken"],
                "WrappedKeyBlock": block.hex().upper(),
                "KeyBlockFormat": "X9_TR34_2012",
                "RandomNonce": nonce.hex().upper(),
            }
        },
        KeyCheckValueAlgorithm="CMAC",
    )["Key"]
    a = kek["KeyAttributes"]
    expect((a["KeyUsage"], a["KeyAlgorithm"]) == ("TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_128"), f"KEK imported as {a}")
    expect(kek["KeyCheckValue"] == kcv(PARTNER_KEK, "AES_128"), "KEK KCV differs from the partner's")
    log.cross("HSM", "our key custodian", "KEK imported", f"{arn(kek['KeyArn'])} {a['KeyUsage']} AES_128 KCV {kek['KeyCheckValue']} (= partner's KCV)")

    log.section("partner's zone PIN key in, as TR-31 under the KEK")
    zpk_block = psec.tr31.wrap(PARTNER_KEK, "D0000P0TB00N0000", PARTNER_ZPK)
    log.cross("partner", "HSM", "TR-31 key block (P0 TDES zone PIN key) + KCV", f"{short(zpk_block, 20)}, KCV {kcv_tdes(PARTNER_ZPK)}")
    inbound = cp.import_key(KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"], "WrappedKeyBlock": zpk_block}})["Key"]
    expect(inbound["KeyCheckValue"] == kcv_tdes(PARTNER_ZPK), "zone key KCV differs from the partner's")
    log.cross("HSM", "our key custodian", "inbound ZPK imported", f"{arn(inbound['KeyArn'])} KCV {inbound['KeyCheckValue']} (= partner's KCV)")

    log.section("our working key out, as TR-31 under the KEK")
    ours = cp.create_key(
        KeyAttributes={"KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}},
        Exportable=True,
        KeyCheckValueAlgorithm="ANSI_X9_24",
    )["Key"]
    log.cross("our key custodian", "HSM", "CreateKey P0 TDES_2KEY (outbound ZPK)", f"{arn(ours['KeyArn'])} KCV {ours['KeyCheckValue']}")
    w = cp.export_key(
        ExportKeyIdentifier=ours["KeyArn"],
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"], "KeyBlockHeaders": {"KeyModesOfUse": {"Decrypt": True, "Unwrap": True}, "KeyExportability": "NON_EXPORTABLE"}}},
    )["WrappedKey"]
    log.cross("HSM", "partner", "TR-31 key block + KCV", f"{short(w['KeyMaterial'], 20)}, KCV {w['KeyCheckValue']}")
    header, out_key = psec.tr31.unwrap(PARTNER_KEK, w["KeyMaterial"])
    h = str(header)
    expect(h[0] == "D" and h[5:12] == "P0TD00N", f"unexpected exported header {h[:16]}")
    expect(kcv_tdes(out_key) == ours["KeyCheckValue"] == w["KeyCheckValue"], "exported key KCV mismatch")
    log.local("partner", "TR-31 block unwrapped and authenticated; header / KCV", f"{h[:16]} / {kcv_tdes(out_key)} (matches)")

    log.section("both keys in use: partner -> us under its ZPK, us -> partner under ours")
    partner_block = tdes_ecb(PARTNER_ZPK, psec.pinblock.encode_pinblock_iso_0(PIN, PAN)).hex().upper()
    log.local("partner terminal", "PIN typed on the PIN pad (terminal's own input)", PIN)
    log.cross("partner host", "our host", "ISO 0 PIN block under the partner's ZPK", f"PAN {mask_pan(PAN)}, {partner_block}")
    r = dp.translate_pin_data(
        IncomingKeyIdentifier=inbound["KeyArn"],
        OutgoingKeyIdentifier=ours["KeyArn"],
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        EncryptedPinBlock=partner_block,
    )
    log.cross("HSM", "our host", "TranslatePinData -> ISO 0 under our ZPK", r["PinBlock"])
    log.cross("our host", "partner host", "PIN block under our ZPK", r["PinBlock"])
    back = psec.pinblock.decode_pinblock_iso_0(tdes_ecb(out_key, bytes.fromhex(r["PinBlock"]), decrypt=True), PAN)
    expect(back == PIN, "the partner does not recover the PIN with the exported key")
    log.local("partner host", "decrypted with the key it received: the same PIN (not printed)")
    log.section("key exchange flow OK")
    return {"kek": kek["KeyCheckValue"], "inbound": inbound["KeyCheckValue"], "outbound": w["KeyCheckValue"], "lines": log.lines}


if __name__ == "__main__":
    main()
