"""Flow 2 -- ATM PIN set: the cardholder chooses a PIN at an ATM, which encrypts it as an ISO 9564
format 0 PIN block under its terminal PIN key; the issuer generates a Visa PVV from the encrypted
block (GeneratePinData) and stores the PVV -- never the PIN. A later PIN entry is checked against
the stored PVV (VerifyPinData), and a wrong PIN is refused.

Sides: ATM (Python: psec builds and encrypts the PIN block), issuer host (this script, calling
paycrypt), issuer database (a dict holding PAN -> PVV).

Run against a server:  python examples/flows/atm_pin_set.py --endpoint-url http://127.0.0.1:8080 \\
                          --credentials-file paycrypt-data/credentials
"""
from __future__ import annotations

import psec
from botocore.exceptions import ClientError

from common import Boundary, FlowError, arg_parser, arn, connect, error_of, establish_kek, expect, import_tr31, mask_pan, short, tdes_ecb

KEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # AES-128 KBPK (known test key)
TPK = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")  # ATM terminal PIN key, TDES_2KEY
PVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # Visa PIN verification key pair, TDES_2KEY
PVKI = 1

PAN = "4000001234562000"
NEW_PIN = "7390"


def atm_pin_block(pin: str, pan: str) -> str:
    """ATM side: ISO 9564-1 format 0 PIN block, TDES-ECB under the terminal PIN key."""
    return tdes_ecb(TPK, psec.pinblock.encode_pinblock_iso_0(pin, pan)).hex().upper()


def main(argv=None) -> dict:
    args = arg_parser(__doc__.splitlines()[0]).parse_args(argv)
    cp, dp = connect(args)
    log = Boundary("Flow 2: ATM PIN set (ISO 0 at the ATM, Visa PVV stored by the issuer)", args.quiet)

    log.section("key set-up (issuer key custodian, through the API)")
    kek = establish_kek(cp, log, KEK, "AES_128")
    tpk = import_tr31(cp, log, kek, "P0", "TDES_2KEY", "B", TPK, "ATM terminal PIN key")
    pvk = import_tr31(cp, log, kek, "V2", "TDES_2KEY", "C", PVK, "PIN verification key")

    log.section("PIN selection at the ATM")
    log.local("ATM", "card inserted", mask_pan(PAN))
    log.local("ATM", "new PIN typed on the EPP (ATM's own input)", NEW_PIN)
    block = atm_pin_block(NEW_PIN, PAN)
    log.cross("ATM", "issuer host", "PIN set request: PAN, ISO 0 PIN block under the TPK", f"{mask_pan(PAN)}, {block}")

    log.cross("issuer host", "HSM", "GeneratePinData VisaPinVerificationValue", f"PVK {arn(pvk)} (PVKI {PVKI}), TPK {arn(tpk)}, ISO_FORMAT_0, PAN {mask_pan(PAN)}")
    r = dp.generate_pin_data(
        GenerationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=tpk,
        GenerationAttributes={"VisaPinVerificationValue": {"EncryptedPinBlock": block, "PinVerificationKeyIndex": PVKI}},
        PrimaryAccountNumber=PAN,
        PinBlockFormat="ISO_FORMAT_0",
    )
    pvv = r["PinData"]["VerificationValue"]
    log.cross("HSM", "issuer host", "PVV + encrypted PIN block", f"PVV {pvv}, block {short(r['EncryptedPinBlock'])}")
    expected = psec.pin.generate_visa_pvv(PVK, str(PVKI), NEW_PIN, PAN)
    expect(pvv == expected, f"PVV {pvv} != independently computed {expected}")

    database = {PAN: {"pvki": PVKI, "pvv": pvv}}
    record = database[PAN]
    expect(NEW_PIN not in record.values() and all(v != block for v in record.values()), "the issuer record holds the PIN")
    log.local("issuer database", "stored record", f"{{pan: {mask_pan(PAN)}, pvki: {PVKI}, pvv: {pvv}}} (the PVV, never the PIN)")
    log.cross("issuer host", "ATM", "PIN set response", "00 (approved)")

    log.section("later: withdrawal with the new PIN, then a mistyped PIN")
    results = {}
    for label, pin in (("correct PIN", NEW_PIN), ("mistyped PIN", "7391")):
        log.local("ATM", f"{label} typed on the EPP (ATM's own input)", pin)
        b = atm_pin_block(pin, PAN)
        log.cross("ATM", "issuer host", "ISO 0 PIN block", b)
        log.cross("issuer host", "HSM", "VerifyPinData VisaPin with the stored PVV", f"PVV {record['pvv']}")
        try:
            dp.verify_pin_data(
                VerificationKeyIdentifier=pvk,
                EncryptionKeyIdentifier=tpk,
                VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": record["pvki"], "VerificationValue": record["pvv"]}},
                EncryptedPinBlock=b,
                PrimaryAccountNumber=PAN,
                PinBlockFormat="ISO_FORMAT_0",
            )
            results[label] = "verified"
        except ClientError as e:
            code, reason = error_of(e)
            if code != "VerificationFailedException":
                raise
            results[label] = reason
        log.cross("HSM", "issuer host", "result", results[label])
    if results != {"correct PIN": "verified", "mistyped PIN": "INVALID_PIN"}:
        raise FlowError(f"unexpected verification results {results}")
    log.cross("issuer host", "ATM", "responses", "00 (approved), 55 (incorrect PIN)")
    log.section("ATM PIN set flow OK")
    return {"pvv": pvv, "results": results, "lines": log.lines}


if __name__ == "__main__":
    main()
