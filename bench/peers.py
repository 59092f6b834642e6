#!/usr/bin/env python3
"""Time the operations paycrypt-core shares with the Python peers pyemv, psec and pydukpt.

Single process, `timeit`, best of a few repeats, reported as ops/s.
Each peer operation is keyed by the id of the matching criterion benchmark in
`crates/paycrypt-core/benches/core.rs`, with the same inputs where the peer's
API allows. Where a peer has no "verify" function, verify = generate + compare;
where a peer has no single call for a server operation (PIN translation,
ARQC verification from the issuer master key), the op is the chain of peer
calls that does the same work. Those composites are marked in the output.

Output: JSON lines {"id", "peer", "ops_per_s", "note"} on stdout.
Environment: BENCH_SMOKE=1 -> very few iterations (CI smoke).
"""

import json
import warnings
import os
import sys
import timeit

import psec
import pydukpt
import pyemv
from psec import des as psec_des
from psec import mac as psec_mac
from psec import pin as psec_pin
from psec import pinblock as psec_pb
from psec import tr31 as psec_tr31
from pyemv import ac as emv_ac
from pyemv import cvv as emv_cvv
from pyemv import kd as emv_kd

warnings.simplefilter("ignore")  # cryptography deprecation warnings for TDES

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
TARGET_S = 0.02 if SMOKE else 0.3  # time per repeat
REPEATS = 1 if SMOKE else 5

K2 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
ZPK2 = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")
AES128 = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
PAN = "4111111111111111"
M16 = b"\x5a" * 16
M64 = b"\x5a" * 64


def versions():
    out = {}
    for m in (pyemv, psec, pydukpt):
        out[m.__name__] = getattr(m, "__version__", "?")
    return out


def ops():
    """(id, peer, callable, note)."""
    res = []

    def add(bid, peer, fn, note=""):
        fn()  # must not raise
        res.append((bid, peer, fn, note))

    # --- KCV, MACs (psec) ---
    add("kcv_tdes", "psec", lambda: psec_des.generate_kcv(K2, 3))
    add("mac_iso9797_alg1_tdes_16", "psec", lambda: psec_mac.generate_cbc_mac(K2, M16, 1))
    add("mac_iso9797_alg1_tdes_64", "psec", lambda: psec_mac.generate_cbc_mac(K2, M64, 1))
    add("mac_iso9797_alg3_16", "psec", lambda: psec_mac.generate_retail_mac(K2[:8], K2[8:], M16, 1))
    add("mac_iso9797_alg3_64", "psec", lambda: psec_mac.generate_retail_mac(K2[:8], K2[8:], M64, 1))

    # --- CVV (psec) ---
    add("cvv_generate", "psec", lambda: psec.cvv.generate_cvv(K2, "4123456789012345", "8701", "101"))
    cvv = psec.cvv.generate_cvv(K2, "4123456789012345", "8701", "101")
    add(
        "cvv_verify",
        "psec",
        lambda: psec.cvv.generate_cvv(K2, "4123456789012345", "8701", "101") == cvv,
        "generate+compare",
    )

    # --- PIN blocks and PIN verification (psec) ---
    clear = psec_pb.encode_pinblock_iso_0("1234", PAN)
    add("pin_iso0_encode", "psec", lambda: psec_pb.encode_pinblock_iso_0("1234", PAN))
    add("pin_iso0_decode", "psec", lambda: psec_pb.decode_pinblock_iso_0(clear, PAN))
    eb = psec_des.encrypt_tdes_ecb(K2, clear)

    def translate_tdes():
        pin = psec_pb.decode_pinblock_iso_0(psec_des.decrypt_tdes_ecb(K2, eb), PAN)
        return psec_des.encrypt_tdes_ecb(ZPK2, psec_pb.encode_pinblock_iso_0(pin, PAN))

    add("pin_translate_tdes_iso0_to_tdes_iso0", "psec", translate_tdes, "composite")
    add("pvv_generate", "psec", lambda: psec_pin.generate_visa_pvv(K2, "1", "1234", PAN))
    pvv = psec_pin.generate_visa_pvv(K2, "1", "1234", PAN)
    add(
        "pvv_verify",
        "psec",
        lambda: psec_pin.generate_visa_pvv(K2, "1", "1234", PAN) == pvv,
        "generate+compare",
    )
    off = psec_pin.generate_ibm3624_offset(K2, "0123456789012345", "1234", PAN, 0, 13, "F")
    add(
        "ibm3624_offset_verify",
        "psec",
        lambda: psec_pin.generate_ibm3624_offset(K2, "0123456789012345", "1234", PAN, 0, 13, "F")
        == off,
        "generate+compare",
    )

    # --- TDES DUKPT (pydukpt) ---
    ksn = pydukpt.ksn_with_counter(bytes.fromhex("FFFF9876543210E00000"), 0x0F0F)
    ipek = pydukpt.derive_ipek(K2, ksn)
    add("dukpt_tdes_ipek", "pydukpt", lambda: pydukpt.derive_ipek(K2, ksn))
    add("dukpt_tdes_transaction_key_8bits", "pydukpt", lambda: pydukpt.derive_key(ipek, ksn))
    add(
        "dukpt_tdes_pin_key_from_ipek",
        "pydukpt",
        lambda: pydukpt.pin_key(pydukpt.derive_key(ipek, ksn)),
    )
    wk = pydukpt.pin_key(pydukpt.derive_key(ipek, ksn))
    deb = pydukpt.encrypt_pin(wk, "1234", PAN)

    def translate_dukpt(cached_ipek):
        ik = ipek if cached_ipek else pydukpt.derive_ipek(K2, ksn)
        key = pydukpt.pin_key(pydukpt.derive_key(ik, ksn))
        pin = pydukpt.decrypt_pin(key, deb, PAN)
        return psec_des.encrypt_tdes_ecb(ZPK2, psec_pb.encode_pinblock_iso_0(pin, PAN))

    add(
        "pin_translate_dukpt_tdes_iso0_to_zpk_iso0",
        "pydukpt+psec",
        lambda: translate_dukpt(False),
        "composite",
    )
    add(
        "pin_translate_dukpt_tdes_iso0_to_zpk_iso0_cached_ipek",
        "pydukpt+psec",
        lambda: translate_dukpt(True),
        "composite",
    )

    # --- EMV (pyemv) ---
    pan_emv = "5413339000001513"
    icc = emv_kd.derive_icc_mk_a(K2, pan_emv, "00")
    r = bytes([0x00, 0x1C, 0, 0, 0, 0, 0, 0])
    add("emv_icc_mk_option_a", "pyemv", lambda: emv_kd.derive_icc_mk_a(K2, pan_emv, "00"))
    add("emv_common_session_key", "pyemv", lambda: emv_kd.derive_common_sk(icc, r))
    data = bytes(range(37))
    sk = emv_kd.derive_common_sk(icc, r)
    arqc = emv_ac.generate_ac(sk, data, emv_ac.PaddingType.EMV)

    def arqc_chain():
        i = emv_kd.derive_icc_mk_a(K2, pan_emv, "00")
        s = emv_kd.derive_common_sk(i, r)
        return emv_ac.generate_ac(s, data, emv_ac.PaddingType.EMV) == arqc

    add("emv_arqc_verify_chain", "pyemv", arqc_chain, "composite, generate+compare")
    add("emv_arpc_method1", "pyemv", lambda: emv_ac.generate_arpc_1(icc, arqc, b"00"))
    track = bytes.fromhex("5413339000001513D14122010123409172000F")

    def cvc3():
        i = emv_kd.derive_icc_mk_a(K2, "5413339000001513", "00")
        return emv_cvv.generate_cvc3(i, track, bytes.fromhex("005E"), bytes.fromhex("00000899"))

    add("cvc3_generate", "pyemv", cvc3, "composite")

    # --- TR-31 (psec) ---
    hb = "B0000P0TE00E0000"
    blk_b = psec_tr31.wrap(ZPK2, hb, K2)
    add("tr31_b_wrap", "psec", lambda: psec_tr31.wrap(ZPK2, hb, K2))
    add("tr31_b_unwrap", "psec", lambda: psec_tr31.unwrap(ZPK2, blk_b))
    hd = "D0000P0AE00E0000"
    key_a = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    blk_d = psec_tr31.wrap(AES128, hd, key_a)
    add("tr31_d_wrap", "psec", lambda: psec_tr31.wrap(AES128, hd, key_a))
    add("tr31_d_unwrap", "psec", lambda: psec_tr31.unwrap(AES128, blk_d))
    return res


def measure(fn):
    t = timeit.Timer(fn)
    n, _ = t.autorange()  # smallest 1,2,5,10,... taking >= 0.2 s
    if SMOKE:
        n = max(1, n // 20)
    else:
        n = max(1, int(n * TARGET_S / 0.2))
    best = min(t.repeat(repeat=REPEATS, number=n))
    return n / best


def main():
    print(json.dumps({"versions": versions(), "python": sys.version.split()[0]}), flush=True)
    for bid, peer, fn, note in ops():
        print(
            json.dumps({"id": bid, "peer": peer, "ops_per_s": measure(fn), "note": note}),
            flush=True,
        )


if __name__ == "__main__":
    main()
