"""Differential cases for DUKPT.

* TDES DUKPT (ANSI X9.24-1): oracle `pydukpt` (IPEK, transaction key and the
  PIN / MAC request / MAC response / data request / data response keys).
* AES DUKPT (ANSI X9.24-3): INDEPENDENT RE-IMPLEMENTATION IN PYTHON, written
  here from the standard's description (derivation data layout of §6.3) on top
  of `cryptography` AES-ECB; no AES DUKPT package exists among the oracles.

Every input is drawn from `rng`. Counters are drawn with 1..10 (TDES) or 1..16
(AES) one bits: paycrypt refuses the others, as the standards require.
"""
import random
import warnings

import cryptography
import pydukpt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

warnings.filterwarnings("ignore")
N = 1000


def _bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def _counter(rng: random.Random, width: int, max_bits: int) -> int:
    bits = rng.sample(range(width), rng.randrange(1, max_bits + 1))
    return sum(1 << b for b in bits)


def _tdes_bdk(rng: random.Random) -> bytes:
    while True:  # paycrypt refuses degenerate TDES keys (equal halves, parity ignored)
        k = _bytes(rng, 16)
        if bytes(b & 0xFE for b in k[:8]) != bytes(b & 0xFE for b in k[8:]):
            return k


def _tdes_cases(rng: random.Random) -> list:
    cases = []
    for _ in range(N):
        bdk = _tdes_bdk(rng)
        ksn = pydukpt.ksn_with_counter(_bytes(rng, 10), _counter(rng, 21, 10))
        ipek = pydukpt.derive_ipek(bdk, ksn)
        key = pydukpt.derive_key(ipek, ksn)
        cases.append({
            "bdk": bdk.hex().upper(), "ksn": ksn.hex().upper(), "ipek": ipek.hex().upper(),
            "transaction_key": key.hex().upper(),
            "pin_key": pydukpt.pin_key(key).hex().upper(),
            "mac_request_key": pydukpt.mac_request_key(key).hex().upper(),
            "mac_response_key": pydukpt.mac_response_key(key).hex().upper(),
            "data_request_key": pydukpt.data_request_key(key).hex().upper(),
            "data_response_key": pydukpt.data_response_key(key).hex().upper(),
        })
    return cases


# --- independent re-implementation in Python of ANSI X9.24-3:2017 AES DUKPT ---
_ALG = {"TDES_2KEY": (0, 128), "TDES_3KEY": (1, 192), "AES_128": (2, 128),
        "AES_192": (3, 192), "AES_256": (4, 256)}
_USAGE = {"KEK": 0x0002, "PIN": 0x1000, "MAC_GEN": 0x2000, "MAC_VER": 0x2001, "MAC_BOTH": 0x2002,
          "DATA_ENC": 0x3000, "DATA_DEC": 0x3001, "DATA_BOTH": 0x3002}
_AES_NAME = {16: "AES_128", 24: "AES_192", 32: "AES_256"}


def _aes_ecb(key: bytes, block: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def _derive(parent: bytes, usage: int, alg: str, ksn_data: bytes) -> bytes:
    code, bits = _ALG[alg]
    out = b""
    for counter in range(1, (bits // 8 + 15) // 16 + 1):
        data = bytes([1, counter]) + usage.to_bytes(2, "big") + code.to_bytes(2, "big") \
            + bits.to_bytes(2, "big") + ksn_data
        out += _aes_ecb(parent, data)
    return out[: bits // 8]


def _aes_ik(bdk: bytes, ik_id: bytes) -> bytes:
    return _derive(bdk, 0x8001, _AES_NAME[len(bdk)], ik_id)


def _aes_txn(ik: bytes, ik_id: bytes, counter: int) -> bytes:
    key, working = ik, 0
    for bit in range(31, -1, -1):
        if counter >> bit & 1:
            working |= 1 << bit
            key = _derive(key, 0x8000, _AES_NAME[len(ik)], ik_id[4:] + working.to_bytes(4, "big"))
    return key


def _aes_cases(rng: random.Random) -> list:
    cases = []
    for _ in range(N):
        bdk = _bytes(rng, rng.choice([16, 24, 32]))
        ik_id = _bytes(rng, 8)
        counter = _counter(rng, 32, 16)
        ik = _aes_ik(bdk, ik_id)
        txn = _aes_txn(ik, ik_id, counter)
        allowed = ["TDES_2KEY", "TDES_3KEY"] + [n for l, n in sorted(_AES_NAME.items()) if l <= len(bdk)]
        key_type = rng.choice(allowed)
        usage = rng.choice(sorted(_USAGE))
        wk = _derive(txn, _USAGE[usage], key_type, ik_id[4:] + counter.to_bytes(4, "big"))
        cases.append({
            "bdk": bdk.hex().upper(), "ksn": (ik_id + counter.to_bytes(4, "big")).hex().upper(),
            "initial_key": ik.hex().upper(), "transaction_key": txn.hex().upper(),
            "usage": usage, "key_type": key_type, "working_key": wk.hex().upper(),
        })
    return cases


def generate(rng: random.Random) -> dict:
    return {
        "dukpt_tdes": {"oracle": f"pydukpt=={pydukpt.__version__}",
                       "source": "pydukpt derive_ipek/derive_key/pin_key/mac_*_key/data_*_key",
                       "cases": _tdes_cases(rng)},
        "dukpt_aes": {"oracle": f"independent re-implementation in Python (tests/differential/gen_dukpt.py) over cryptography=={cryptography.__version__}",
                      "source": "ANSI X9.24-3:2017 §6.3 derivation data, written from the standard's description",
                      "cases": _aes_cases(rng)},
    }
