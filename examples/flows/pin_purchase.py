"""Flow 3 -- PIN terminal purchase: a chip card and PIN at a terminal. The terminal encrypts the
PIN under DUKPT (ISO 0 under TDES DUKPT on one terminal, ISO 4 under AES DUKPT on another); the
acquirer translates it to the acquirer-issuer zone PIN key (ISO 4 AES to ISO 0 TDES is the
migration case) with TranslatePinData; the issuer verifies the PIN against the stored PVV
(VerifyPinData) and the card's ARQC (VerifyAuthRequestCryptogram), returning an ARPC that the
card checks.

Sides: card (Python: pyemv ICC master key, session key, ARQC, ARPC check), terminals (pydukpt,
psec, the X9.24-3 AES DUKPT in common.py), acquirer host and issuer host (this script, calling
paycrypt).

Run against a server:  python examples/flows/pin_purchase.py --endpoint-url http://127.0.0.1:8080 \\
                          --credentials-file paycrypt-data/credentials
"""
from __future__ import annotations

import psec
import pydukpt
from botocore.exceptions import ClientError
from pyemv import ac, kd

from common import (
    AES_DUKPT_PIN,
    Boundary,
    FlowError,
    aes_dukpt_initial_key,
    aes_dukpt_working_key,
    arg_parser,
    arn,
    connect,
    error_of,
    establish_kek,
    expect,
    import_tr31,
    kcv_aes,
    kcv_tdes,
    mask_pan,
    tdes_ecb,
)

KEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # AES-128 KBPK (known test key)
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1 test BDK
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # X9.24-3 test BDK
ZPK = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")  # acquirer-issuer zone PIN key, TDES_2KEY
PVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # Visa PVK pair, TDES_2KEY
MK_AC = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # issuer master key for ARQCs (E0)
PVKI = 1

PAN = "4761739001010010"
PSN = "01"
PIN = "3917"
ARC_APPROVED = b"00"  # authorisation response code 8A, ASCII "00"


class Card:
    """The chip: ICC master key (EMV option A) personalised from the issuer's MK-AC."""

    def __init__(self):
        self.icc_mk = kd.derive_icc_mk_a(MK_AC, PAN, PSN)
        self.atc = 0x0040
        self.sk = None
        self.arqc = b""

    def generate_ac(self, amount_cents: int, un: bytes) -> tuple[bytes, str, bytes]:
        """GENERATE AC (ARQC): CDOL1 data, ATC, ARQC under the EMV common session key."""
        self.atc += 1
        atc = self.atc.to_bytes(2, "big")
        data = bytes.fromhex(f"{amount_cents:012d}")  # 9F02 amount, authorised (n12, BCD)
        data += bytes(6)  # 9F03 amount, other
        data += bytes.fromhex("0840")  # 9F1A terminal country code
        data += bytes(5)  # 95 TVR
        data += bytes.fromhex("0840")  # 5F2A transaction currency
        data += bytes.fromhex("261121")  # 9A transaction date
        data += b"\x00"  # 9C transaction type (purchase)
        data += un  # 9F37 unpredictable number
        data += bytes.fromhex("3C00")  # 82 AIP
        data += atc  # 9F36 ATC
        data += bytes.fromhex("03A4A002")  # CVR from 9F10
        self.sk = kd.derive_common_sk(self.icc_mk, atc + bytes(6))
        self.arqc = ac.generate_ac(self.sk, data, ac.PaddingType.EMV)
        padded = data + b"\x80" + bytes((8 - (len(data) + 1) % 8) % 8)
        return padded, atc.hex().upper(), self.arqc

    def check_arpc(self, arpc_hex: str, arc: bytes) -> bool:
        return ac.generate_arpc_1(self.sk, self.arqc, arc).hex().upper() == arpc_hex


def _issuer(dp, log: Boundary, keys: dict, record: dict, zpk_block: str, card: Card, txn_data: bytes, atc: str, arqc: bytes) -> str:
    """Issuer host: PIN against the stored PVV, ARQC -> ARPC. Returns the ARPC (hex)."""
    log.cross("issuer host", "HSM", "VerifyPinData VisaPin (ZPK, stored PVV)", f"PVV {record['pvv']}, PIN block {zpk_block}")
    dp.verify_pin_data(
        VerificationKeyIdentifier=keys["pvk"],
        EncryptionKeyIdentifier=keys["zpk"],
        VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": PVKI, "VerificationValue": record["pvv"]}},
        EncryptedPinBlock=zpk_block,
        PrimaryAccountNumber=PAN,
        PinBlockFormat="ISO_FORMAT_0",
    )
    log.cross("HSM", "issuer host", "PIN", "verified")
    log.cross(
        "issuer host",
        "HSM",
        "VerifyAuthRequestCryptogram EMV_OPTION_A EmvCommon + ArpcMethod1",
        f"ARQC {arqc.hex().upper()}, ATC {atc}, PSN {PSN}, ARC {ARC_APPROVED.hex().upper()}",
    )
    r = dp.verify_auth_request_cryptogram(
        KeyIdentifier=keys["mk_ac"],
        TransactionData=txn_data.hex().upper(),
        AuthRequestCryptogram=arqc.hex().upper(),
        MajorKeyDerivationMode="EMV_OPTION_A",
        SessionKeyDerivationAttributes={"EmvCommon": {"PrimaryAccountNumber": PAN, "PanSequenceNumber": PSN, "ApplicationTransactionCounter": atc}},
        AuthResponseAttributes={"ArpcMethod1": {"AuthResponseCode": ARC_APPROVED.hex().upper()}},
    )
    arpc = r["AuthResponseValue"]
    log.cross("HSM", "issuer host", "ARQC verified; ARPC", arpc)
    return arpc


def main(argv=None) -> dict:
    args = arg_parser(__doc__.splitlines()[0]).parse_args(argv)
    cp, dp = connect(args)
    log = Boundary("Flow 3: PIN terminal purchase (DUKPT -> zone key, PVV, ARQC/ARPC)", args.quiet)

    log.section("key set-up (acquirer and issuer key custodians, through the API)")
    kek = establish_kek(cp, log, KEK, "AES_128")
    keys = {
        "tdes_bdk": import_tr31(cp, log, kek, "B0", "TDES_2KEY", "X", TDES_BDK, "acquirer TDES BDK"),
        "aes_bdk": import_tr31(cp, log, kek, "B0", "AES_128", "X", AES_BDK, "acquirer AES BDK"),
        "zpk": import_tr31(cp, log, kek, "P0", "TDES_2KEY", "B", ZPK, "acquirer-issuer zone PIN key"),
        "pvk": import_tr31(cp, log, kek, "V2", "TDES_2KEY", "C", PVK, "issuer PVK"),
        "mk_ac": import_tr31(cp, log, kek, "E0", "TDES_2KEY", "X", MK_AC, "issuer MK-AC"),
    }

    log.section("card issuance: the issuer stores the PVV (as in flow 2)")
    selection = tdes_ecb(ZPK, psec.pinblock.encode_pinblock_iso_0(PIN, PAN)).hex().upper()
    log.cross("PIN selection channel", "issuer host", "ISO 0 PIN block under the ZPK", selection)
    pvv = dp.generate_pin_data(
        GenerationKeyIdentifier=keys["pvk"],
        EncryptionKeyIdentifier=keys["zpk"],
        GenerationAttributes={"VisaPinVerificationValue": {"EncryptedPinBlock": selection, "PinVerificationKeyIndex": PVKI}},
        PrimaryAccountNumber=PAN,
        PinBlockFormat="ISO_FORMAT_0",
    )["PinData"]["VerificationValue"]
    expect(pvv == psec.pin.generate_visa_pvv(PVK, str(PVKI), PIN, PAN), "PVV differs from psec")
    record = {"pvv": pvv}
    log.local("issuer database", "stored record", f"{{pan: {mask_pan(PAN)}, pvki: {PVKI}, pvv: {pvv}}}")
    card = Card()
    out = {"pvv": pvv}

    purchases = [
        ("terminal A: ISO 0 under TDES DUKPT", "IsoFormat0", bytes.fromhex("FFFF9876543210E00012"), 2599),
        ("terminal B: ISO 4 under AES DUKPT (migration: AES ISO 4 -> TDES ISO 0)", "IsoFormat4", bytes.fromhex("123456789012345600000021"), 4210),
    ]
    for title, fmt, ksn, amount in purchases:
        log.section(title)
        log.local("terminal", "card inserted", mask_pan(PAN))
        log.local("terminal", "PIN typed on the PIN pad (terminal's own input)", PIN)
        if fmt == "IsoFormat0":
            ipek = pydukpt.derive_ipek(TDES_BDK, ksn)
            log.local("terminal", "TDES DUKPT IPEK (injected earlier)", f"KCV {kcv_tdes(ipek)}")
            block = pydukpt.encrypt_pin(pydukpt.derive_key(ipek, ksn), PIN, PAN).hex().upper()
            bdk, derivation = keys["tdes_bdk"], "TDES_2KEY"
        else:
            ik = aes_dukpt_initial_key(AES_BDK, ksn)
            log.local("terminal", "AES DUKPT initial key (injected earlier)", f"KCV {kcv_aes(ik)}")
            block = psec.pinblock.encipher_pinblock_iso_4(aes_dukpt_working_key(ik, ksn, AES_DUKPT_PIN), PIN, PAN).hex().upper()
            bdk, derivation = keys["aes_bdk"], "AES_128"
        un = bytes.fromhex("5DA25C3C") if fmt == "IsoFormat0" else bytes.fromhex("0A1B2C3D")
        txn_data, atc, arqc = card.generate_ac(amount, un)
        log.cross("card", "terminal", "ARQC (9F26), ATC (9F36)", f"{arqc.hex().upper()}, {atc}")
        log.cross("terminal", "acquirer host", "authorisation request", f"PAN {mask_pan(PAN)}, KSN {ksn.hex().upper()}, PIN block {block}, ARQC {arqc.hex().upper()}, amount {amount}")

        log.cross("acquirer host", "HSM", f"TranslatePinData {fmt} (DUKPT {derivation}) -> IsoFormat0 (ZPK)", f"KSN {ksn.hex().upper()}")
        r = dp.translate_pin_data(
            IncomingKeyIdentifier=bdk,
            OutgoingKeyIdentifier=keys["zpk"],
            IncomingTranslationAttributes={fmt: {"PrimaryAccountNumber": PAN}},
            OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
            EncryptedPinBlock=block,
            IncomingDukptAttributes={"KeySerialNumber": ksn.hex().upper(), "DukptKeyDerivationType": derivation},
        )
        zpk_block = r["PinBlock"]
        log.cross("HSM", "acquirer host", "PIN block under the zone PIN key", f"{zpk_block} (key {arn(r['KeyArn'])})")
        expect(r["KeyArn"] == keys["zpk"], "TranslatePinData answered with another key than the ZPK")
        expect(psec.pinblock.decode_pinblock_iso_0(tdes_ecb(ZPK, bytes.fromhex(zpk_block), decrypt=True), PAN) == PIN, "translated block does not carry the PIN")
        log.cross("acquirer host", "issuer host", "authorisation request", f"PAN {mask_pan(PAN)}, ZPK PIN block {zpk_block}, ICC data (ARQC {arqc.hex().upper()})")

        arpc = _issuer(dp, log, keys, record, zpk_block, card, txn_data, atc, arqc)
        log.cross("issuer host", "acquirer host", "authorisation response", f"00 approved, ARPC {arpc}")
        log.cross("terminal", "card", "EXTERNAL AUTHENTICATE / 2nd GENERATE AC", f"ARPC {arpc}, ARC {ARC_APPROVED.decode()}")
        expect(card.check_arpc(arpc, ARC_APPROVED), "the card rejects the ARPC")
        log.local("card", "ARPC verified: the issuer is authentic; transaction approved")
        out[fmt] = {"zpk_block": zpk_block, "arpc": arpc}

    log.section("a mistyped PIN is declined by the issuer")
    ksn = bytes.fromhex("FFFF9876543210E00013")
    log.local("terminal", "PIN typed on the PIN pad (terminal's own input)", "3918")
    block = pydukpt.encrypt_pin(pydukpt.derive_key(pydukpt.derive_ipek(TDES_BDK, ksn), ksn), "3918", PAN).hex().upper()
    zpk_block = dp.translate_pin_data(
        IncomingKeyIdentifier=keys["tdes_bdk"],
        OutgoingKeyIdentifier=keys["zpk"],
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        EncryptedPinBlock=block,
        IncomingDukptAttributes={"KeySerialNumber": ksn.hex().upper(), "DukptKeyDerivationType": "TDES_2KEY"},
    )["PinBlock"]
    try:
        dp.verify_pin_data(
            VerificationKeyIdentifier=keys["pvk"],
            EncryptionKeyIdentifier=keys["zpk"],
            VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": PVKI, "VerificationValue": record["pvv"]}},
            EncryptedPinBlock=zpk_block,
            PrimaryAccountNumber=PAN,
            PinBlockFormat="ISO_FORMAT_0",
        )
        raise FlowError("a wrong PIN verified")
    except ClientError as e:
        expect(error_of(e) == ("VerificationFailedException", "INVALID_PIN"), f"unexpected error {error_of(e)}")
    log.cross("HSM", "issuer host", "VerifyPinData", "VerificationFailedException INVALID_PIN")
    log.cross("issuer host", "acquirer host", "authorisation response", "55 incorrect PIN")
    log.section("PIN purchase flow OK")
    out["lines"] = log.lines
    return out


if __name__ == "__main__":
    main()
