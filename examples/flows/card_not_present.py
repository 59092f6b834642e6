"""Flow 4 -- card not present: CVV2 issued (GenerateCardValidationData) and verified at an
e-commerce checkout (VerifyCardValidationData); dynamic card verification for tokenized cards:
a Visa dCVV from a token with its ATC, and a Mastercard CVC3 computed by the card over the
terminal's unpredictable number, both verified by the issuer.

Sides: card / wallet (Python: psec for CVV2, pyemv for CVC3, and -- no Python library has it --
an own implementation of Visa dCVV written from the algorithm description in
crates/paycrypt-core/src/card_verification.rs, labelled as such), merchant / terminal, issuer host
(this script, calling paycrypt).

Run against a server:  python examples/flows/card_not_present.py --endpoint-url http://127.0.0.1:8080 \\
                          --credentials-file paycrypt-data/credentials
"""
from __future__ import annotations

import os

import psec
from botocore.exceptions import ClientError
from pyemv import cvv as emv_cvv
from pyemv import kd

from common import Boundary, FlowError, arg_parser, connect, error_of, establish_kek, expect, import_tr31, mask_pan

KEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # AES-128 KBPK (known test key)
CVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # CVV key pair, TDES_2KEY (C0)
MK_DCVV = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")  # issuer master key for dCVV (E6)
MK_CVC3 = bytes.fromhex("01234567899876543210012345678998")  # issuer master key for CVC3 (E4), pyemv doc key

PAN = "4123456789012345"
EXPIRY = "2812"  # YYMM

VISA_TOKEN = "4895370012003478"  # token PAN in the wallet (Visa)
VISA_TOKEN_PSN, VISA_TOKEN_EXPIRY, VISA_TOKEN_SC = "00", "2911", "201"
MC_TOKEN = "5123456789012345"  # token PAN (Mastercard contactless, mag-stripe mode)
MC_PSN = "00"
MC_TRACK2_TEMPLATE = "5123456789012345D35121010000000000000F"  # PAN D YYMM SC DD, padded with F


def _cvv_core(key: bytes, digits: str) -> str:
    """The Visa CVV algorithm's core (own implementation, used only for dCVV below): the 32-nibble
    data block split in two, DES(KA) on the first half, XOR the second, TDES(KA||KB), then the
    decimal digits of the result followed by the hex letters A-F minus 10."""
    block = bytes.fromhex(digits.ljust(32, "0"))
    x = psec.des.encrypt_tdes_ecb(key[:8], block[:8])
    x = bytes(a ^ b for a, b in zip(x, block[8:]))
    x = psec.des.encrypt_tdes_ecb(key, x).hex().upper()
    return "".join(c for c in x if c.isdigit()) + "".join(str(int(c, 16) - 10) for c in x if not c.isdigit())


def dcvv_own_implementation(mk: bytes, pan: str, psn: str, expiry: str, service_code: str, atc: bytes) -> str:
    """Visa dCVV, OWN IMPLEMENTATION (no Python oracle exists), from the description in
    crates/paycrypt-core/src/card_verification.rs (jPOS `calculatedCVV`): the card key is EMV
    option A from the issuer key, PAN and PSN (pyemv); the CVV algorithm runs under it over
    ATC(4 hex nibbles) || PAN[4:] || expiry || service code; 3 digits."""
    icc = kd.derive_icc_mk_a(mk, pan, psn)
    return _cvv_core(icc, atc.hex().upper() + pan[4:] + expiry + service_code)[:3]


def _verify(dp, log: Boundary, key: str, pan: str, attrs: dict, value: str, shown: str) -> str:
    log.cross("issuer host", "HSM", f"VerifyCardValidationData {next(iter(attrs))}", f"PAN {mask_pan(pan)}, value {shown}")
    try:
        dp.verify_card_validation_data(KeyIdentifier=key, PrimaryAccountNumber=pan, VerificationAttributes=attrs, ValidationData=value)
        result = "verified"
    except ClientError as e:
        code, reason = error_of(e)
        if code != "VerificationFailedException":
            raise
        result = reason
    log.cross("HSM", "issuer host", "result", result)
    return result


def _wrong(value: str) -> str:
    return "".join(str((int(c) + 1) % 10) for c in value)


def main(argv=None) -> dict:
    args = arg_parser(__doc__.splitlines()[0]).parse_args(argv)
    cp, dp = connect(args)
    log = Boundary("Flow 4: card not present (CVV2; dCVV and CVC3 for tokenized cards)", args.quiet)

    log.section("key set-up (issuer key custodian, through the API)")
    kek = establish_kek(cp, log, KEK, "AES_128")
    cvk = import_tr31(cp, log, kek, "C0", "TDES_2KEY", "C", CVK, "CVK")
    mk_dcvv = import_tr31(cp, log, kek, "E6", "TDES_2KEY", "X", MK_DCVV, "dCVV master key")
    mk_cvc3 = import_tr31(cp, log, kek, "E4", "TDES_2KEY", "X", MK_CVC3, "CVC3 master key")
    out = {}

    # ---- CVV2 ----
    log.section("CVV2: issuance, then an e-commerce checkout")
    log.cross("card personalisation", "HSM", "GenerateCardValidationData CardVerificationValue2", f"PAN {mask_pan(PAN)}, expiry {EXPIRY}")
    cvv2 = dp.generate_card_validation_data(KeyIdentifier=cvk, PrimaryAccountNumber=PAN, GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": EXPIRY}})["ValidationData"]
    expect(cvv2 == psec.cvv.generate_cvv(CVK, PAN, EXPIRY, "000"), "CVV2 differs from psec")
    log.cross("HSM", "card personalisation", "CVV2", "*** (printed on the card's signature panel; never stored after authorisation)")
    log.local("cardholder", "types PAN, expiry and CVV2 at checkout (their own input; CVV2 masked here too)", f"{mask_pan(PAN)}, {EXPIRY}, ***")
    log.cross("merchant", "acquirer", "authorisation request", f"PAN {mask_pan(PAN)}, expiry {EXPIRY}, CVV2 ***")
    log.cross("acquirer", "issuer host", "authorisation request", f"PAN {mask_pan(PAN)}, CVV2 ***")
    attrs = {"CardVerificationValue2": {"CardExpiryDate": EXPIRY}}
    out["cvv2"] = [_verify(dp, log, cvk, PAN, attrs, cvv2, "***"), _verify(dp, log, cvk, PAN, attrs, _wrong(cvv2), "*** (mistyped)")]
    log.cross("issuer host", "acquirer", "responses", "00 approved; N7 CVV2 mismatch for the mistyped one")

    # ---- dCVV ----
    log.section("dCVV: Visa token in a wallet (contactless mag-stripe data)")
    atc = bytes.fromhex("002A")
    dcvv = dcvv_own_implementation(MK_DCVV, VISA_TOKEN, VISA_TOKEN_PSN, VISA_TOKEN_EXPIRY, VISA_TOKEN_SC, atc)
    log.local("wallet", "dCVV computed for this transaction (own dCVV implementation, see docstring)", f"ATC {atc.hex().upper()}, dCVV {dcvv}")
    log.cross("wallet", "merchant", "track 2 equivalent", f"{mask_pan(VISA_TOKEN)}, ATC {atc.hex().upper()}, dCVV {dcvv}")
    log.cross("acquirer", "issuer host (token service)", "authorisation request", f"token {mask_pan(VISA_TOKEN)}, ATC {atc.hex().upper()}, dCVV {dcvv}")
    attrs = {"DynamicCardVerificationValue": {"PanSequenceNumber": VISA_TOKEN_PSN, "CardExpiryDate": VISA_TOKEN_EXPIRY, "ServiceCode": VISA_TOKEN_SC, "ApplicationTransactionCounter": atc.hex().upper()}}
    log.cross("issuer host", "HSM", "GenerateCardValidationData DynamicCardVerificationValue (cross-check)", f"ATC {atc.hex().upper()}")
    generated = dp.generate_card_validation_data(KeyIdentifier=mk_dcvv, PrimaryAccountNumber=VISA_TOKEN, GenerationAttributes=attrs)["ValidationData"]
    expect(generated == dcvv, f"server dCVV {generated} != wallet dCVV {dcvv}")
    replay = dict(attrs)
    replay["DynamicCardVerificationValue"] = dict(attrs["DynamicCardVerificationValue"], ApplicationTransactionCounter="002B")
    out["dcvv"] = [_verify(dp, log, mk_dcvv, VISA_TOKEN, attrs, dcvv, dcvv), _verify(dp, log, mk_dcvv, VISA_TOKEN, replay, dcvv, f"{dcvv} replayed with ATC 002B")]

    # ---- CVC3 ----
    log.section("CVC3: Mastercard token, unpredictable number from the terminal")
    # pyemv's documented vector for this key/PAN/track: ATC 005E, UN 00000899 -> CVC3 29488.
    icc_cvc3 = kd.derive_icc_mk_a(MK_CVC3, MC_TOKEN, MC_PSN)
    expect(emv_cvv.generate_cvc3(icc_cvc3, bytes.fromhex(MC_TRACK2_TEMPLATE), bytes.fromhex("005E"), bytes.fromhex("00000899")) == "29488", "pyemv CVC3 doc vector")
    un = bytes.fromhex("".join(str(b % 10) for b in os.urandom(8)))  # 8 numeric digits (BCD)
    atc = bytes.fromhex("0061")
    log.cross("terminal", "card", "COMPUTE CRYPTOGRAPHIC CHECKSUM: unpredictable number", un.hex().upper())
    cvc3 = emv_cvv.generate_cvc3(icc_cvc3, bytes.fromhex(MC_TRACK2_TEMPLATE), atc, un)[-3:]
    log.cross("card", "terminal", "CVC3 (track 2, 3 digits) + ATC", f"{cvc3}, {atc.hex().upper()} (pyemv)")
    log.cross("acquirer", "issuer host (token service)", "authorisation request", f"token {mask_pan(MC_TOKEN)}, UN {un.hex().upper()}, ATC {atc.hex().upper()}, CVC3 {cvc3}")
    attrs = {"DynamicCardVerificationCode": {"UnpredictableNumber": un.hex().upper(), "PanSequenceNumber": MC_PSN, "ApplicationTransactionCounter": atc.hex().upper(), "TrackData": MC_TRACK2_TEMPLATE}}
    other = bytes(a ^ 0x11 for a in un)
    while emv_cvv.generate_cvc3(icc_cvc3, bytes.fromhex(MC_TRACK2_TEMPLATE), atc, other)[-3:] == cvc3:
        other = bytes(((a >> 4) * 10 + (a & 15) + 1) % 100 // 10 << 4 | ((a >> 4) * 10 + (a & 15) + 1) % 10 for a in other)
    other_un = other.hex().upper()  # a UN for which the card's 3 digits differ
    stale = {"DynamicCardVerificationCode": dict(attrs["DynamicCardVerificationCode"], UnpredictableNumber=other_un)}
    out["cvc3"] = [_verify(dp, log, mk_cvc3, MC_TOKEN, attrs, cvc3, cvc3), _verify(dp, log, mk_cvc3, MC_TOKEN, stale, cvc3, f"{cvc3} against another UN {other_un}")]

    expected = ["verified", "INVALID_VALIDATION_DATA"]
    for k in ("cvv2", "dcvv", "cvc3"):
        if out[k] != expected:
            raise FlowError(f"{k}: {out[k]}, expected {expected}")
    log.section("card-not-present flow OK")
    out["lines"] = log.lines
    return out


if __name__ == "__main__":
    main()
