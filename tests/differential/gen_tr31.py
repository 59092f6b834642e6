"""TR-31 / X9.143 key blocks, versions A, B, C, D: psec wraps, paycrypt must unwrap
to the same key and header and, given the same padding, rebuild the same block.

psec draws the payload padding from `os.urandom` (imported as `psec.tr31._urandom`);
it is monkeypatched to draw from `rng`, and the bytes drawn are recorded as `padding`.
"""
import random
import string

import psec
import psec.tr31 as tr31

ORACLE = "psec==1.3.0"

USAGES = [
    "B0", "B1", "B2", "B3", "C0", "D0", "D1", "D2", "D3", "E0", "E1", "E2", "E3", "E4",
    "E5", "E6", "E7", "I0", "K0", "K1", "K2", "K3", "K4", "M0", "M1", "M2", "M3", "M4",
    "M5", "M6", "M7", "M8", "P0", "P1", "S0", "S1", "S2", "V0", "V1", "V2", "V3", "V4", "V5",
]
MODES = list("BCDEGNSTVXY")
EXPORT = list("ENS")
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))


def _hex(rng, n):
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(n))


def _block_value(rng, bid):
    if bid == "KS":
        return _hex(rng, 20)
    if bid == "IK":
        return _hex(rng, 16)
    if bid == "HM":
        return rng.choice(["10", "20", "21", "22", "23"])
    if bid in ("KC", "KP"):
        return rng.choice(["00" + _hex(rng, 6), "01" + _hex(rng, 10)])
    if bid == "TS":
        return "2026%02d%02d%02d%02d%02dZ" % (
            rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    # free-text block (LB label / proprietary numeric id); sometimes long enough for the
    # extended length form (> 255 with ID and length)
    n = rng.choice([0, 1, 5, 13, 40, 260, 300]) if rng.random() < 0.2 else rng.randint(1, 30)
    return "".join(rng.choice(PRINTABLE) for _ in range(n))


def _tdes_key(rng, n):
    while True:
        k = bytes(rng.getrandbits(8) for _ in range(n))
        parts = [bytes(b & 0xFE for b in k[i:i + 8]) for i in range(0, n, 8)]
        if all(parts[i] != parts[i + 1] for i in range(len(parts) - 1)):
            return k


def _case(rng, version):
    if version == "D":
        kbpk_alg, kbpk = "AES", bytes(rng.getrandbits(8) for _ in range(rng.choice([16, 24, 32])))
        algorithm = rng.choice(["A", "A", "T"])
    else:
        kbpk_alg, kbpk = "TDES", _tdes_key(rng, rng.choice([16, 24]))
        algorithm = "T"
    if algorithm == "A":
        key = bytes(rng.getrandbits(8) for _ in range(rng.choice([16, 24, 32])))
    else:
        key = _tdes_key(rng, rng.choice([16, 24]))
    key_version = "00" if rng.random() < 0.5 else "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(2))
    h = tr31.Header(version, rng.choice(USAGES), algorithm, rng.choice(MODES), key_version, rng.choice(EXPORT))
    ids = rng.sample(["KS", "IK", "HM", "KC", "KP", "TS", "LB", "KV", "0A"], rng.choice([0, 0, 1, 2, 3]))
    blocks = []
    for bid in ids:
        v = _block_value(rng, bid)
        h.blocks[bid] = v
        blocks.append([bid, v])
    drawn = []

    def fake_urandom(n):
        b = bytes(rng.getrandbits(8) for _ in range(n))
        drawn.append(b)
        return b

    tr31._urandom = fake_urandom
    block = tr31.KeyBlock(kbpk, h).wrap(key)
    assert len(drawn) == 1
    # sanity: the oracle opens its own block
    _, k2 = tr31.unwrap(kbpk, block)
    assert k2 == key
    return {
        "version": version,
        "kbpk_alg": kbpk_alg,
        "kbpk": kbpk.hex().upper(),
        "key": key.hex().upper(),
        "usage": h.key_usage,
        "algorithm": algorithm,
        "mode": h.mode_of_use,
        "key_version": key_version,
        "exportability": h.exportability,
        "blocks": blocks,
        "padding": drawn[0].hex().upper(),
        "block": block,
    }


def generate(rng: random.Random) -> dict:
    saved = tr31._urandom
    try:
        cases = [_case(rng, v) for v in "ABCD" for _ in range(1000)]
    finally:
        tr31._urandom = saved
    return {
        "tr31": {
            "oracle": ORACLE,
            "source": "psec.tr31.KeyBlock.wrap (versions A, B, C, D; 1000 each) with os.urandom padding replaced by seeded rng bytes",
            "cases": cases,
        }
    }
