"""Differential cases for MACs.

Oracles: psec (ISO 9797-1 MAC algorithm 1 with TDES and AES, algorithm 3 with
8-byte key halves, see REFERENCE §5.1) and `cryptography` (CMAC over AES and
TDES, HMAC-SHA224/256/384/512). Every input is drawn from `rng`.
"""
import random
import warnings

import psec
import psec.mac as pmac
import cryptography
from cryptography.hazmat.primitives import cmac, hashes, hmac
from cryptography.hazmat.primitives.ciphers import algorithms

warnings.filterwarnings("ignore")
try:  # cryptography >= 43 moved TripleDES to decrepit
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

N = 1000


def _bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def _tdes_key(rng: random.Random, n: int) -> bytes:
    # paycrypt refuses TDES keys with equal parts (parity ignored); redraw such keys.
    while True:
        k = _bytes(rng, n)
        parts = [bytes(b & 0xFE for b in k[i:i + 8]) for i in range(0, n, 8)]
        if parts[0] != parts[1] and (n == 16 or parts[1] != parts[2]):
            return k


def _data(rng: random.Random) -> bytes:
    return _bytes(rng, rng.randrange(0, 80))


def generate(rng: random.Random) -> dict:
    psec_v = f"psec=={psec.__version__}" if hasattr(psec, "__version__") else "psec==1.3.0"
    crypto_v = f"cryptography=={cryptography.__version__}"
    alg1, alg3, cm, hm = [], [], [], []
    for _ in range(N):
        data = _data(rng)
        padding = rng.choice([1, 2, 3])
        if rng.random() < 0.5:
            key = _tdes_key(rng, rng.choice([16, 24]))
            mac = pmac.generate_cbc_mac(key, data, padding, algorithm=pmac.Algorithm.DES)
            alg = "TDES_2KEY" if len(key) == 16 else "TDES_3KEY"
        else:
            key = _bytes(rng, rng.choice([16, 24, 32]))
            mac = pmac.generate_cbc_mac(key, data, padding, algorithm=pmac.Algorithm.AES)
            alg = {16: "AES_128", 24: "AES_192", 32: "AES_256"}[len(key)]
        alg1.append({"key_algorithm": alg, "key": key.hex().upper(), "padding": padding,
                     "data": data.hex().upper(), "mac": mac.hex().upper()})
    for _ in range(N):
        data = _data(rng)
        padding = rng.choice([1, 2, 3])
        key = _tdes_key(rng, 16)
        # Standard alg 3: psec called with the two 8-byte halves (REFERENCE §5.1).
        mac = pmac.generate_retail_mac(key[:8], key[8:], data, padding)
        alg3.append({"key": key.hex().upper(), "padding": padding,
                     "data": data.hex().upper(), "mac": mac.hex().upper()})
    for _ in range(N):
        data = _data(rng)
        if rng.random() < 0.5:
            key = _bytes(rng, rng.choice([16, 24, 32]))
            c = cmac.CMAC(algorithms.AES(key))
            alg = {16: "AES_128", 24: "AES_192", 32: "AES_256"}[len(key)]
        else:
            key = _tdes_key(rng, rng.choice([16, 24]))
            c = cmac.CMAC(TripleDES(key))
            alg = "TDES_2KEY" if len(key) == 16 else "TDES_3KEY"
        c.update(data)
        cm.append({"key_algorithm": alg, "key": key.hex().upper(), "data": data.hex().upper(),
                   "mac": c.finalize().hex().upper()})
    hashes_ = {"HMAC_SHA224": hashes.SHA224, "HMAC_SHA256": hashes.SHA256,
               "HMAC_SHA384": hashes.SHA384, "HMAC_SHA512": hashes.SHA512}
    for _ in range(N):
        name = rng.choice(sorted(hashes_))
        key = _bytes(rng, rng.randrange(1, 150))
        data = _data(rng)
        h = hmac.HMAC(key, hashes_[name]())
        h.update(data)
        hm.append({"algorithm": name, "key": key.hex().upper(), "data": data.hex().upper(),
                   "mac": h.finalize().hex().upper()})
    return {
        "mac_iso9797_alg1": {"oracle": psec_v, "source": "psec.mac.generate_cbc_mac (TDES and AES), padding 1/2/3", "cases": alg1},
        "mac_iso9797_alg3": {"oracle": psec_v, "source": "psec.mac.generate_retail_mac(K, K', ...) with 8-byte halves", "cases": alg3},
        "mac_cmac": {"oracle": crypto_v, "source": "cryptography CMAC over AES and TripleDES", "cases": cm},
        "mac_hmac": {"oracle": crypto_v, "source": "cryptography HMAC SHA-224/256/384/512", "cases": hm},
    }
