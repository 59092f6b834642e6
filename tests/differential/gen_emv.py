"""Differential cases for paycrypt's EMV module, from pyemv 1.5.0.

Covers: ICC MK option A/B, common session key, Mastercard SKD, EMV2000 tree
(8/4 and 16/2), Visa SM session key, ARQC (padding method 1 and 2), ARPC
method 1 and 2, secure-messaging command MAC and command-data encryption
(VISA/MASTERCARD/EMV), ISO 9564 format 2 and VIS PIN-change blocks.
Every pyemv function used here is deterministic; all inputs come from `rng`.
"""
import random

from pyemv import ac, kd, sm

ORACLE = "pyemv==1.5.0"
N = 1000


def _hex(b: bytes) -> str:
    return b.hex().upper()


def _key(rng: random.Random) -> bytes:
    while True:
        k = bytes(rng.getrandbits(8) for _ in range(16))
        # paycrypt (like any HSM) refuses TDES keys whose halves are equal.
        if bytes(x & 0xFE for x in k[:8]) != bytes(x & 0xFE for x in k[8:]):
            return k


def _bytes(rng: random.Random, lo: int, hi: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(lo, hi)))


def _digits(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(lo, hi)))


def generate(rng: random.Random) -> dict:
    icc = []
    for mode, fn in (("A", kd.derive_icc_mk_a), ("B", kd.derive_icc_mk_b)):
        for i in range(N):
            mk = _key(rng)
            # option B only differs from A above 16 digits: weight the long PANs.
            pan = _digits(rng, 17, 19) if (mode == "B" and i % 4) else _digits(rng, 12, 19)
            psn = _digits(rng, 2, 2)
            icc.append({"mode": mode, "mk": _hex(mk), "pan": pan, "psn": psn,
                        "key": _hex(fn(mk, pan, psn))})

    sess = []
    for _ in range(N):
        k, r = _key(rng), _bytes(rng, 8, 8)
        sess.append({"kind": "csk", "icc_mk": _hex(k), "r": _hex(r), "sk": _hex(kd.derive_common_sk(k, r))})
    for _ in range(N):
        k, atc, un = _key(rng), _bytes(rng, 2, 2), _bytes(rng, 4, 4)
        sess.append({"kind": "mastercard", "icc_mk": _hex(k), "atc": _hex(atc), "un": _hex(un),
                     "sk": _hex(kd.derive_common_sk(k, atc + b"\x00\x00" + un))})
    for _ in range(N):
        k, atc = _key(rng), _bytes(rng, 2, 2)
        sess.append({"kind": "visa_sm", "icc_mk": _hex(k), "atc": _hex(atc), "sk": _hex(kd.derive_visa_sm_sk(k, atc))})
    for i in range(N):
        k, atc = _key(rng), _bytes(rng, 2, 2)
        height, bf = (8, 4) if i % 2 == 0 else (16, 2)
        iv = bytes(16) if i % 3 else _bytes(rng, 16, 16)
        sess.append({"kind": "emv2000", "icc_mk": _hex(k), "atc": _hex(atc), "height": height,
                     "branch_factor": bf, "iv": _hex(iv),
                     "sk": _hex(kd.derive_emv2000_tree_sk(k, atc, height, bf, iv))})

    acs = []
    for pad, ptype in ((1, ac.PaddingType.VISA), (2, ac.PaddingType.EMV)):
        for _ in range(N):
            k, data = _key(rng), _bytes(rng, 0, 48)
            acs.append({"kind": "arqc", "padding": pad, "sk": _hex(k), "data": _hex(data),
                        "arqc": _hex(ac.generate_ac(k, data, ptype))})
    for _ in range(N):
        k, q, rc = _key(rng), _bytes(rng, 8, 8), _bytes(rng, 2, 2)
        acs.append({"kind": "arpc1", "key": _hex(k), "arqc": _hex(q), "arc": _hex(rc),
                    "arpc": _hex(ac.generate_arpc_1(k, q, rc))})
    for _ in range(N):
        k, q, csu, prop = _key(rng), _bytes(rng, 8, 8), _bytes(rng, 4, 4), _bytes(rng, 0, 8)
        acs.append({"kind": "arpc2", "key": _hex(k), "arqc": _hex(q), "csu": _hex(csu), "prop": _hex(prop),
                    "arpc": _hex(ac.generate_arpc_2(k, q, csu, prop))})

    sms = []
    for _ in range(N):
        k, data = _key(rng), _bytes(rng, 0, 48)
        sms.append({"kind": "mac", "sk": _hex(k), "data": _hex(data), "mac": _hex(sm.generate_command_mac(k, data))})
    for name, et in (("VISA", sm.EncryptionType.VISA), ("MASTERCARD", sm.EncryptionType.MASTERCARD),
                     ("EMV", sm.EncryptionType.EMV)):
        for _ in range(N):
            k, data = _key(rng), _bytes(rng, 1, 40)
            sms.append({"kind": "encrypt", "encryption": name, "sk": _hex(k), "data": _hex(data),
                        "out": _hex(sm.encrypt_command_data(k, data, et))})
    for _ in range(N):
        pin = _digits(rng, 4, 12)
        sms.append({"kind": "iso2", "pin": pin, "block": _hex(sm.format_iso9564_2_pin_block(pin))})
    for i in range(N):
        k, pin = _key(rng), _digits(rng, 4, 12)
        cur = _digits(rng, 4, 12) if i % 2 else None
        case = {"kind": "vis", "icc_mk_ac": _hex(k), "pin": pin,
                "block": _hex(sm.format_vis_pin_block(k, pin, cur))}
        if cur is not None:
            case["current_pin"] = cur
        sms.append(case)

    src = "pyemv 1.5.0 (knovichikhin/pyemv) kd/ac/sm modules, seeded random inputs"
    return {
        "emv_icc_mk": {"oracle": ORACLE, "source": src, "cases": icc},
        "emv_session": {"oracle": ORACLE, "source": src, "cases": sess},
        "emv_ac": {"oracle": ORACLE, "source": src, "cases": acs},
        "emv_sm": {"oracle": ORACLE, "source": src, "cases": sms},
    }
