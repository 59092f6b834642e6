"""Differential cases for the foundation modules: block-cipher modes, padding, KCVs, Luhn, masking.

Oracles:
- `cryptography` (OpenSSL underneath) for AES and TDES in ECB, CBC, CFB8, full-block CFB
  (CFB128 for AES, CFB64 for TDES: cryptography's `CFB` mode is full-block, i.e. the
  segment size equals the block size; checked against CAVP TCFB64MMT2 in
  crates/paycrypt-core/tests/vectors/cipher.json) and OFB; PKCS#7 padding; CMAC.
- CFB1 is not offered by `cryptography`: an independent bit-level re-implementation
  of SP 800-38A §6.3 (s = 1) written here over cryptography's ECB block primitive.
- psec for ISO/IEC 9797-1 padding methods 1, 2 and 3.
- Python's `hmac` / `hashlib` for the HMAC and SHA-1 KCVs.
- Luhn check digit and PAN masking: an independent re-implementation written here
  (no oracle package offers them), labelled as such.

Every input is drawn from `rng`; nothing uses OS randomness.
"""
import hashlib
import hmac as py_hmac
import random
import sys
import warnings

import cryptography
import psec
import psec.mac as pmac
from cryptography.hazmat.primitives import cmac, padding as cpadding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

warnings.filterwarnings("ignore")
try:  # cryptography >= 43 moved TripleDES and the legacy modes to decrepit
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
try:
    from cryptography.hazmat.decrepit.ciphers.modes import CFB, CFB8, OFB
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.modes import CFB, CFB8, OFB

N = 1000
FAMILIES = ["AES_128", "AES_192", "AES_256", "TDES_2KEY", "TDES_3KEY"]
KEY_LEN = {"AES_128": 16, "AES_192": 24, "AES_256": 32, "TDES_2KEY": 16, "TDES_3KEY": 24}


def _bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def _hex(b: bytes) -> str:
    return b.hex().upper()


def _tdes_key(rng: random.Random, n: int) -> bytes:
    # paycrypt refuses TDES keys with equal parts (parity ignored): K1 = K2 for
    # 2-key, K1 = K2 or K2 = K3 for 3-key. Redraw such keys (probability ~2^-56).
    while True:
        k = _bytes(rng, n)
        parts = [bytes(b & 0xFE for b in k[i:i + 8]) for i in range(0, n, 8)]
        if parts[0] != parts[1] and (n == 16 or parts[1] != parts[2]):
            return k


def _key(rng: random.Random, family: str) -> bytes:
    n = KEY_LEN[family]
    return _tdes_key(rng, n) if family.startswith("TDES") else _bytes(rng, n)


def _alg(family: str, key: bytes):
    return TripleDES(key) if family.startswith("TDES") else algorithms.AES(key)


def _bs(family: str) -> int:
    return 8 if family.startswith("TDES") else 16


def _cfb1(family: str, key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    """SP 800-38A §6.3 CFB with s = 1, bit by bit over the ECB block function (MSB first)."""
    ecb = Cipher(_alg(family, key), modes.ECB()).encryptor()
    bs = len(iv)
    reg = int.from_bytes(iv, "big")
    mask = (1 << (8 * bs)) - 1
    out = bytearray()
    for byte in data:
        o = 0
        for i in range(7, -1, -1):
            ks_bit = ecb.update(reg.to_bytes(bs, "big"))[0] >> 7
            in_bit = (byte >> i) & 1
            out_bit = in_bit ^ ks_bit
            c_bit = out_bit if encrypt else in_bit
            reg = ((reg << 1) | c_bit) & mask
            o |= out_bit << i
        out.append(o)
    return bytes(out)


def _encrypt(family: str, mode: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    if mode == "CFB1":
        return _cfb1(family, key, iv, data, True)
    m = {"ECB": lambda: modes.ECB(), "CBC": lambda: modes.CBC(iv), "CFB8": lambda: CFB8(iv),
         "CFB": lambda: CFB(iv), "OFB": lambda: OFB(iv)}[mode]()
    e = Cipher(_alg(family, key), m).encryptor()
    return e.update(data) + e.finalize()


def _mode_cases(rng: random.Random, mode: str) -> list:
    cases = []
    for family in FAMILIES:
        bs = _bs(family)
        for _ in range(N):
            key = _key(rng, family)
            iv = b"" if mode == "ECB" else _bytes(rng, bs)
            if mode in ("ECB", "CBC"):
                n = bs * rng.randrange(0, 4)
            elif mode == "CFB1":
                n = rng.randrange(0, 12)
            else:
                n = rng.randrange(0, 3 * bs + 1)
            pt = _bytes(rng, n)
            ct = _encrypt(family, mode, key, iv, pt)
            if mode == "CFB1":  # the re-implementation must invert itself
                assert _cfb1(family, key, iv, ct, False) == pt
            cases.append({"alg": family, "key": _hex(key), "iv": _hex(iv), "pt": _hex(pt),
                          "ct": _hex(ct)})
    return cases


def _padding_cases(rng: random.Random) -> list:
    cases = []
    for method in ("ISO9797_M1", "ISO9797_M2", "ISO9797_M3", "PKCS7"):
        for _ in range(N):
            bs = rng.choice([8, 16])
            data = _bytes(rng, rng.randrange(0, 3 * bs + 1))
            if method == "PKCS7":
                p = cpadding.PKCS7(8 * bs).padder()
                out = p.update(data) + p.finalize()
            else:
                fn = {"ISO9797_M1": pmac.pad_iso_1, "ISO9797_M2": pmac.pad_iso_2,
                      "ISO9797_M3": pmac.pad_iso_3}[method]
                out = fn(data, bs)
            cases.append({"method": method, "block_size": bs, "data": _hex(data),
                          "padded": _hex(out)})
    return cases


def _kcv_cases(rng: random.Random) -> list:
    cases = []
    for _ in range(N):  # ANSI X9.24: E_K(zero block), leftmost bytes
        family = rng.choice(FAMILIES)
        key = _key(rng, family)
        bs = _bs(family)
        e = Cipher(_alg(family, key), modes.ECB()).encryptor()
        full = e.update(bytes(bs)) + e.finalize()
        n = rng.randrange(1, bs + 1)
        cases.append({"method": "ANSI_X9_24", "alg": family, "key": _hex(key), "len": n,
                      "kcv": _hex(full[:n])})
    for _ in range(N):  # CMAC of one zero block
        family = rng.choice(FAMILIES)
        key = _key(rng, family)
        bs = _bs(family)
        c = cmac.CMAC(_alg(family, key))
        c.update(bytes(bs))
        full = c.finalize()
        n = rng.randrange(1, bs + 1)
        cases.append({"method": "CMAC", "alg": family, "key": _hex(key), "len": n,
                      "kcv": _hex(full[:n])})
    hashes = {"SHA1": hashlib.sha1, "SHA224": hashlib.sha224, "SHA256": hashlib.sha256,
              "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}
    for _ in range(N):  # HMAC of the empty message
        h = rng.choice(sorted(hashes))
        key = _bytes(rng, rng.randrange(1, 150))
        full = py_hmac.new(key, b"", hashes[h]).digest()
        n = rng.randrange(1, len(full) + 1)
        cases.append({"method": "HMAC", "alg": h, "key": _hex(key), "len": n,
                      "kcv": _hex(full[:n])})
    for _ in range(N):  # SHA-1 of the material
        material = _bytes(rng, rng.randrange(0, 300))
        n = rng.randrange(1, 21)
        cases.append({"method": "SHA1", "alg": "", "key": _hex(material), "len": n,
                      "kcv": _hex(hashlib.sha1(material).digest()[:n])})
    return cases


# ---- independent re-implementation (no oracle package offers Luhn or masking) ----

def _luhn_check_digit(payload: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # rightmost payload digit is doubled
            d = sum(divmod(2 * d, 10))
        total += d
    return (10 - total % 10) % 10


def _mask(pan: str) -> str:
    n = len(pan)
    head, tail = (6, 4) if n >= 13 else ((0, 4) if n >= 5 else (0, 0))
    return pan[:head] + "*" * (n - head - tail) + pan[n - tail:]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _card_cases(rng: random.Random) -> tuple:
    luhn, mask = [], []
    for _ in range(N):
        payload = _digits(rng, rng.randrange(1, 19))
        cd = _luhn_check_digit(payload)
        good = payload + str(cd)
        bad_cd = (cd + rng.randrange(1, 10)) % 10
        bad = payload + str(bad_cd)
        luhn.append({"payload": payload, "check_digit": cd, "valid": good, "invalid": bad})
    for _ in range(N):
        pan = _digits(rng, rng.randrange(1, 24))
        mask.append({"pan": pan, "masked": _mask(pan)})
    return luhn, mask


def generate(rng: random.Random) -> dict:
    crypto_v = f"cryptography=={cryptography.__version__}"
    psec_v = f"psec=={getattr(psec, '__version__', '1.3.0')}"
    py_v = f"python=={sys.version_info.major}.{sys.version_info.minor} (hmac, hashlib)"
    out = {}
    for mode, label in [("ECB", "ECB"), ("CBC", "CBC"), ("CFB8", "CFB8"),
                        ("CFB", "full-block CFB (CFB128 for AES, CFB64 for TDES)"),
                        ("OFB", "OFB")]:
        out[f"cipher_{mode.lower()}"] = {
            "oracle": crypto_v,
            "source": f"cryptography Cipher(AES | decrepit TripleDES, {label}); "
                      f"{N} cases per AES-128/192/256, TDES 2-key, TDES 3-key",
            "mode": mode,
            "cases": _mode_cases(rng, mode),
        }
    out["cipher_cfb1"] = {
        "oracle": f"independent re-implementation (tests/differential/gen_cipher.py _cfb1) over {crypto_v} ECB",
        "source": "SP 800-38A §6.3 CFB with s = 1, bit-level, MSB first; "
                  f"{N} cases per AES-128/192/256, TDES 2-key, TDES 3-key",
        "mode": "CFB1",
        "cases": _mode_cases(rng, "CFB1"),
    }
    out["cipher_padding"] = {
        "oracle": f"{psec_v} (ISO 9797-1 methods 1-3), {crypto_v} (PKCS7)",
        "source": "psec.mac.pad_iso_1/2/3 and cryptography.hazmat.primitives.padding.PKCS7",
        "cases": _padding_cases(rng),
    }
    out["kcv"] = {
        "oracle": f"{crypto_v} (ECB, CMAC), {py_v}",
        "source": "ANSI X9.24 KCV = E_K(0^n) and CMAC_K(0^n) via cryptography; HMAC_K(empty) via "
                  "hmac; SHA-1 via hashlib; leftmost `len` bytes",
        "cases": _kcv_cases(rng),
    }
    luhn, mask = _card_cases(rng)
    out["card_luhn"] = {
        "oracle": "independent re-implementation (tests/differential/gen_cipher.py _luhn_check_digit)",
        "source": "ISO/IEC 7812-1 Annex B Luhn formula, written from the definition",
        "cases": luhn,
    }
    out["card_mask"] = {
        "oracle": "independent re-implementation (tests/differential/gen_cipher.py _mask)",
        "source": "first 6 / last 4 for 13+ digits, last 4 for 5-12, none below 5 (paycrypt policy, "
                  "PCI DSS v4 req. 3.4.1 maximum)",
        "cases": mask,
    }
    return out
