"""Differential cases for ISO 9564 PIN blocks, Visa PVV and IBM 3624, from psec.

psec draws the random fill of ISO 3 (`secrets.choice`) and ISO 4 (`os.urandom`)
from the operating system; both are monkeypatched here to draw from `rng`, and
the fill actually used is recorded in each case, so the output is a pure
function of `rng`.

Excluded on purpose (REFERENCE §5.3): psec's ISO 0/3 need a PAN of at least 13
digits, so ISO 0/3 cases use 13–19-digit PANs (12-digit PANs are covered by the
hand-computed vector in crates/paycrypt-core/tests/vectors/pinblock.json).
psec's Visa PVV takes exactly 4 PIN digits and accepts PVKI 0–9; cases use
4-digit PINs and PVKI 0–6 (AWS range). psec's IBM 3624 accepts tables that do
not map onto all ten digits; cases use only tables that do (paycrypt refuses
the others).
"""
import random

from psec import pin as ppin
from psec import pinblock as pb

ORACLE = "psec==1.3.0"
N = 1000


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _pin(rng: random.Random) -> str:
    return _digits(rng, rng.randint(4, 12))


def _tdes_key(rng: random.Random) -> bytes:
    while True:
        k = rng.randbytes(rng.choice([16, 24]))
        parts = [bytes(b & 0xFE for b in k[i:i + 8]) for i in range(0, len(k), 8)]
        if all(parts[i] != parts[i + 1] for i in range(len(parts) - 1)):
            return k


def _table(rng: random.Random) -> str:
    t = list("0123456789") + [rng.choice("0123456789") for _ in range(6)]
    rng.shuffle(t)
    return "".join(t)


class _Choice:
    """Stands in for psec.pinblock._secrets, recording what it hands out."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.drawn = []

    def choice(self, seq):
        c = self.rng.choice(seq)
        self.drawn.append(c)
        return c


def _mutate(rng: random.Random, hexblock: str) -> str:
    r = rng.random()
    if r < 0.4:
        return hexblock
    if r < 0.9:
        i = rng.randrange(len(hexblock))
        return hexblock[:i] + rng.choice("0123456789ABCDEF") + hexblock[i + 1:]
    return rng.randbytes(len(hexblock) // 2).hex().upper()


def _decode(fn, *args):
    try:
        return fn(*args)
    except ValueError:
        return None


def generate(rng: random.Random) -> dict:
    out = {}

    # ISO 0 and ISO 2: encode, plus decode of valid and mutated blocks.
    iso0, iso2 = [], []
    for _ in range(N):
        pin, pan = _pin(rng), _digits(rng, rng.randint(13, 19))
        block = pb.encode_pinblock_iso_0(pin, pan).hex().upper()
        iso0.append({"pin": pin, "pan": pan, "block": block})
        pin = _pin(rng)
        iso2.append({"pin": pin, "block": pb.encode_pinblock_iso_2(pin).hex().upper()})
    out["pin_iso0"] = {"oracle": ORACLE, "source": "psec.pinblock.encode_pinblock_iso_0", "cases": iso0}
    out["pin_iso2"] = {"oracle": ORACLE, "source": "psec.pinblock.encode_pinblock_iso_2", "cases": iso2}

    # ISO 3 with the fill drawn from rng.
    iso3 = []
    saved = pb._secrets
    try:
        for _ in range(N):
            pin, pan = _pin(rng), _digits(rng, rng.randint(13, 19))
            ch = _Choice(rng)
            pb._secrets = ch
            block = pb.encode_pinblock_iso_3(pin, pan).hex().upper()
            fill = "".join(ch.drawn)[: 14 - len(pin)]
            iso3.append({"pin": pin, "pan": pan, "fill": fill, "block": block})
    finally:
        pb._secrets = saved
    out["pin_iso3"] = {"oracle": ORACLE, "source": "psec.pinblock.encode_pinblock_iso_3 (secrets.choice fed from rng)", "cases": iso3}

    # ISO 4 (AES) with the 8 random bytes drawn from rng.
    iso4 = []
    saved = pb._urandom
    try:
        for _ in range(N):
            pin, pan = _pin(rng), _digits(rng, rng.randint(12, 19))
            key = rng.randbytes(rng.choice([16, 24, 32]))
            fill = rng.randbytes(8)
            pb._urandom = lambda n, f=fill: f[:n]
            block = pb.encipher_pinblock_iso_4(key, pin, pan)
            assert pb.decipher_pinblock_iso_4(key, block, pan) == pin
            iso4.append({
                "key": key.hex().upper(), "pin": pin, "pan": pan, "fill": fill.hex().upper(),
                "pin_field": pb.encode_pin_field_iso_4(pin).hex().upper(),
                "pan_field": pb.encode_pan_field_iso_4(pan).hex().upper(),
                "block": block.hex().upper(),
            })
    finally:
        pb._urandom = saved
    out["pin_iso4"] = {"oracle": ORACLE, "source": "psec.pinblock.encipher_pinblock_iso_4 / encode_*_field_iso_4 (urandom fed from rng)", "cases": iso4}

    # Decoding of valid and corrupted clear blocks: psec's verdict (PIN or None).
    dec = []
    for i in range(4 * N):
        fmt = ["ISO_FORMAT_0", "ISO_FORMAT_2", "ISO_FORMAT_3", "ISO_FORMAT_4"][i % 4]
        pin, pan = _pin(rng), _digits(rng, rng.randint(13, 19))
        if fmt == "ISO_FORMAT_0":
            block = _mutate(rng, pb.encode_pinblock_iso_0(pin, pan).hex().upper())
            res = _decode(pb.decode_pinblock_iso_0, bytes.fromhex(block), pan)
        elif fmt == "ISO_FORMAT_2":
            block = _mutate(rng, pb.encode_pinblock_iso_2(pin).hex().upper())
            res = _decode(pb.decode_pinblock_iso_2, bytes.fromhex(block))
            pan = None
        elif fmt == "ISO_FORMAT_3":
            fill = "".join(rng.choice("ABCDEF") for _ in range(14 - len(pin)))
            clear = bytes.fromhex("%X%X%s%s" % (3, len(pin), pin, fill))
            pan_block = b"\x00\x00" + bytes.fromhex(pan[-13:-1])
            block = _mutate(rng, bytes(a ^ b for a, b in zip(clear, pan_block)).hex().upper())
            res = _decode(pb.decode_pinblock_iso_3, bytes.fromhex(block), pan)
        else:
            field = ("4%X%s" % (len(pin), pin)).ljust(16, "A") + rng.randbytes(8).hex().upper()
            block = _mutate(rng, field)
            res = _decode(pb.decode_pin_field_iso_4, bytes.fromhex(block))
            pan = None
        dec.append({"format": fmt, "block": block, "pan": pan, "pin": res})
    out["pin_decode"] = {"oracle": ORACLE, "source": "psec.pinblock.decode_pinblock_iso_0/2/3, decode_pin_field_iso_4 on valid and corrupted blocks", "cases": dec}

    # Visa PVV.
    pvv = []
    for _ in range(N):
        key = _tdes_key(rng)
        pvki = rng.randint(0, 6)
        pin, pan = _digits(rng, 4), _digits(rng, rng.randint(12, 19))
        pvv.append({"pvk": key.hex().upper(), "pvki": pvki, "pin": pin, "pan": pan,
                    "pvv": ppin.generate_visa_pvv(key, str(pvki), pin, pan)})
    out["pin_pvv"] = {"oracle": ORACLE, "source": "psec.pin.generate_visa_pvv", "cases": pvv}

    # IBM 3624 natural PIN + offset and offset generation.
    ibm = []
    for _ in range(N):
        key = _tdes_key(rng)
        table = _table(rng)
        pan = _digits(rng, rng.randint(12, 19))
        vlen = rng.randint(4, min(16, len(pan)))
        vstart = rng.randint(0, len(pan) - vlen)
        pad = rng.choice("0123456789ABCDEF")
        n = rng.randint(4, 12)
        offset = _digits(rng, n)
        pin = _digits(rng, n)
        ibm.append({
            "pvk": key.hex().upper(), "table": table, "pan": pan, "validation_start": vstart,
            "validation_length": vlen, "pad": pad, "offset": offset,
            "pin_from_offset": ppin.generate_ibm3624_pin(key, table, offset, pan, vstart, vlen, pad),
            "natural_pin": ppin.generate_ibm3624_pin(key, table, "0" * n, pan, vstart, vlen, pad),
            "pin": pin,
            "offset_of_pin": ppin.generate_ibm3624_offset(key, table, pin, pan, vstart, vlen, pad),
        })
    out["pin_ibm3624"] = {"oracle": ORACLE, "source": "psec.pin.generate_ibm3624_pin / generate_ibm3624_offset", "cases": ibm}
    return out
