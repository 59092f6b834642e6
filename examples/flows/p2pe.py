"""Flow 1 -- P2PE: a terminal encrypts track 2 under TDES DUKPT and under AES DUKPT; the
acquirer's backend decrypts it with DecryptData and returns an HMAC of its response (GenerateMac).

Sides: key injection facility and terminal (Python: pydukpt for TDES DUKPT, an X9.24-3 AES DUKPT
implementation in common.py), acquirer backend (this script, calling paycrypt), merchant host
(Python, checks the response HMAC with the shared key).

Run against a server:  python examples/flows/p2pe.py --endpoint-url http://127.0.0.1:8080 \\
                          --credentials-file paycrypt-data/credentials
"""
from __future__ import annotations

import hashlib
import hmac

import pydukpt

from common import (
    AES_DUKPT_DATA_ENCRYPT,
    Boundary,
    aes_cbc,
    aes_dukpt_initial_key,
    aes_dukpt_working_key,
    arg_parser,
    arn,
    connect,
    establish_kek,
    expect,
    import_tr31,
    kcv_aes,
    kcv_tdes,
    mask_pan,
    mask_track2,
    pkcs7,
    short,
    tdes_cbc,
    unpkcs7,
)

# Known test keys (never use these in production).
KEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # AES-128 KBPK
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # ANSI X9.24-1 test BDK
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # ANSI X9.24-3 test BDK
RESPONSE_MAC_KEY = bytes.fromhex("6B65792D666F722D726573706F6E73652D686D61632D7368613235362D303031")  # HMAC-SHA256

PAN = "4761739001010010"
TRACK2 = f";{PAN}=25122011143804400000?"


def _decrypt_and_respond(dp, log: Boundary, bdk_arn: str, mac_arn: str, ksn: bytes, ciphertext: bytes, derivation: str, txn: str) -> dict:
    """Acquirer backend: decrypt the track with DecryptData, decide, HMAC the response."""
    log.cross("acquirer", "HSM", f"DecryptData Dukpt {derivation} REQUEST CBC", f"KSN {ksn.hex().upper()}, {len(ciphertext)} bytes")
    r = dp.decrypt_data(
        KeyIdentifier=bdk_arn,
        CipherText=ciphertext.hex().upper(),
        DecryptionAttributes={"Dukpt": {"KeySerialNumber": ksn.hex().upper(), "DukptKeyDerivationType": derivation, "DukptKeyVariant": "REQUEST", "Mode": "CBC"}},
    )
    track2 = unpkcs7(bytes.fromhex(r["PlainText"])).decode("ascii")
    log.cross("HSM", "acquirer", "PlainText (track 2, masked as any log would)", mask_track2(track2))
    expect(track2 == TRACK2, "decrypted track 2 differs from what the terminal read")
    pan = track2.strip(";?").split("=")[0]
    response = f'{{"txn":"{txn}","pan":"{mask_pan(pan)}","rc":"00","auth":"7F3A21"}}'.encode()
    log.local("acquirer", "authorization response", response.decode())
    log.cross("acquirer", "HSM", "GenerateMac HMAC_SHA256", f"{len(response)} bytes of response")
    mac = dp.generate_mac(KeyIdentifier=mac_arn, MessageData=response.hex().upper(), GenerationAttributes={"Algorithm": "HMAC_SHA256"})["Mac"]
    log.cross("HSM", "acquirer", "Mac", mac)
    log.cross("acquirer", "merchant host", "response + HMAC", f"{response.decode()} / {short(mac)}")
    expected = hmac.new(RESPONSE_MAC_KEY, response, hashlib.sha256).hexdigest().upper()
    expect(mac == expected, "response HMAC does not verify at the merchant host")
    log.local("merchant host", "HMAC-SHA256 of the response verified with the shared key")
    return {"pan": mask_pan(pan), "mac": mac}


def main(argv=None) -> dict:
    args = arg_parser(__doc__.splitlines()[0]).parse_args(argv)
    cp, dp = connect(args)
    log = Boundary("Flow 1: P2PE (track 2 under TDES and AES DUKPT, HMAC'd response)", args.quiet)

    log.section("key set-up (acquirer key custodian, through the API)")
    kek = establish_kek(cp, log, KEK, "AES_128")
    tdes_bdk = import_tr31(cp, log, kek, "B0", "TDES_2KEY", "X", TDES_BDK, "TDES BDK")
    aes_bdk = import_tr31(cp, log, kek, "B0", "AES_128", "X", AES_BDK, "AES BDK")
    mac_key = import_tr31(cp, log, kek, "M7", "HMAC_SHA256", "C", RESPONSE_MAC_KEY, "response HMAC key")
    out = {"keys": [arn(k) for k in (kek.arn, tdes_bdk, aes_bdk, mac_key)]}

    # ---- TDES DUKPT terminal (ANSI X9.24-1) ----
    log.section("terminal A: TDES DUKPT (X9.24-1)")
    ksn = bytes.fromhex("FFFF9876543210E00008")
    ipek = pydukpt.derive_ipek(TDES_BDK, ksn)
    log.cross("key injection facility", "terminal A", "IPEK injected", f"KCV {kcv_tdes(ipek)}, initial KSN {ksn[:8].hex().upper()}..")
    log.local("terminal A", "card swiped; track 2 (terminal's own input, shown masked)", mask_track2(TRACK2))
    data_key = pydukpt.data_request_key(pydukpt.derive_key(ipek, ksn))
    ct = tdes_cbc(data_key, pkcs7(TRACK2.encode(), 8))
    log.cross("terminal A", "acquirer", "KSN + encrypted track 2 (TDES-CBC, data request variant)", f"{ksn.hex().upper()} / {short(ct.hex().upper())}")
    out["tdes"] = _decrypt_and_respond(dp, log, tdes_bdk, mac_key, ksn, ct, "TDES_2KEY", "000001")

    # ---- AES DUKPT terminal (ANSI X9.24-3) ----
    log.section("terminal B: AES DUKPT (X9.24-3, AES-128)")
    ksn = bytes.fromhex("123456789012345600000005")
    ik = aes_dukpt_initial_key(AES_BDK, ksn)
    log.cross("key injection facility", "terminal B", "initial key injected", f"KCV {kcv_aes(ik)}, initial key ID {ksn[:8].hex().upper()}")
    log.local("terminal B", "card swiped; track 2 (terminal's own input, shown masked)", mask_track2(TRACK2))
    data_key = aes_dukpt_working_key(ik, ksn, AES_DUKPT_DATA_ENCRYPT)
    ct = aes_cbc(data_key, pkcs7(TRACK2.encode(), 16))
    log.cross("terminal B", "acquirer", "KSN + encrypted track 2 (AES-CBC, data encryption key)", f"{ksn.hex().upper()} / {short(ct.hex().upper())}")
    out["aes"] = _decrypt_and_respond(dp, log, aes_bdk, mac_key, ksn, ct, "AES_128", "000002")

    log.section("P2PE flow OK")
    out["lines"] = log.lines
    return out


if __name__ == "__main__":
    main()
