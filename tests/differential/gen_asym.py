"""RSA (OAEP / PKCS#1 v1.5 decryption), ECDH on P-256/P-384/P-521, and the
SP 800-56C one-step (ConcatKDFHash) and ANSI X9.63 KDFs, against `cryptography`.

Everything is a function of `rng`:
- KDFs: random Z / info / length, derived by cryptography's ConcatKDFHash and X963KDF.
- ECDH: both private scalars drawn from rng; cryptography computes the peer public key,
  Z (ECDH exchange) and the derived key.
- RSA: primes drawn from rng (Miller-Rabin with rng bases), private key built and
  serialized (PKCS#8) by cryptography; ciphertexts are "OAEP encoding in Python + raw
  RSA" (and PKCS#1 v1.5 type-2 encoding with rng padding), with the OAEP seed from rng;
  cryptography's own decrypt checks every ciphertext before it is recorded.
"""
import hashlib
import random

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

ORACLE = "cryptography==50.0.2"
HASHES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
CURVES = {
    "P256": (ec.SECP256R1, 32, 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "P384": (ec.SECP384R1, 48, int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16)),
    "P521": (ec.SECP521R1, 66, int("01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16)),
}


def _bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def _kdf(name, hname, z, info, n):
    h = HASHES[hname]()
    if name == "NIST_SP800":
        return ConcatKDFHash(h, n, info).derive(z)
    return X963KDF(h, n, info).derive(z)


def _kdf_cases(rng, name):
    cases = []
    for _ in range(1000):
        hname = rng.choice(list(HASHES))
        z = _bytes(rng, rng.randint(1, 80))
        info = _bytes(rng, rng.choice([0, rng.randint(1, 64)]))
        n = rng.choice([16, 24, 32, rng.randint(1, 200)])
        cases.append({"hash": hname, "z": z.hex().upper(), "info": info.hex().upper(),
                      "length": n, "key": _kdf(name, hname, z, info, n).hex().upper()})
    return cases


def _ecdh_cases(rng):
    cases = []
    for cname, count in (("P256", 400), ("P384", 400), ("P521", 200)):
        curve, flen, order = CURVES[cname]
        for _ in range(count):
            d = rng.randint(1, order - 1)
            dp = rng.randint(1, order - 1)
            priv = ec.derive_private_key(d, curve())
            peer = ec.derive_private_key(dp, curve()).public_key()
            form = rng.choice(["uncompressed", "compressed", "spki"])
            if form == "spki":
                peer_bytes = peer.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            else:
                fmt = serialization.PublicFormat.UncompressedPoint if form == "uncompressed" else serialization.PublicFormat.CompressedPoint
                peer_bytes = peer.public_bytes(serialization.Encoding.X962, fmt)
            z = priv.exchange(ec.ECDH(), peer)
            kdf = rng.choice(["NIST_SP800", "ANSI_X963"])
            hname = rng.choice(list(HASHES))
            info = _bytes(rng, rng.randint(1, 32))
            n = rng.choice([16, 24, 32])
            cases.append({
                "curve": cname,
                "private_scalar": d.to_bytes(flen, "big").hex().upper(),
                "private_pkcs8": priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()).hex().upper() if rng.random() < 0.25 else "",
                "peer_public": peer_bytes.hex().upper(),
                "peer_form": form,
                "z": z.hex().upper(),
                "kdf": kdf, "hash": hname, "info": info.hex().upper(), "length": n,
                "key": _kdf(kdf, hname, z, info, n).hex().upper(),
            })
    return cases


def _is_probable_prime(n, rng):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(40):
        a = rng.randrange(2, n - 1)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng, bits, e=65537):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if c % e != 1 and _is_probable_prime(c, rng):
            return c


def _rsa_key(rng, bits):
    e = 65537
    while True:
        p, q = _prime(rng, bits // 2), _prime(rng, bits // 2)
        if p != q and (p * q).bit_length() == bits:
            break
    n = p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    nums = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
                                 rsa.RSAPublicNumbers(e, n))
    return nums.private_key(), n, e


def _mgf1(seed, n, h):
    out, c = b"", 0
    while len(out) < n:
        out += h(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:n]


def _oaep_encode(msg, k, label, hname, rng):
    h = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}[hname]
    hl = h().digest_size
    db = h(label).digest() + b"\x00" * (k - len(msg) - 2 * hl - 2) + b"\x01" + msg
    seed = _bytes(rng, hl)
    masked_db = bytes(a ^ b for a, b in zip(db, _mgf1(seed, k - hl - 1, h)))
    masked_seed = bytes(a ^ b for a, b in zip(seed, _mgf1(masked_db, hl, h)))
    return b"\x00" + masked_seed + masked_db


def _pkcs1_encode(msg, k, rng):
    ps = bytes(rng.randint(1, 255) for _ in range(k - len(msg) - 3))
    return b"\x00\x02" + ps + b"\x00" + msg


def _rsa_cases(rng):
    cases = []
    keys = [_rsa_key(rng, 2048), _rsa_key(rng, 2048), _rsa_key(rng, 3072), _rsa_key(rng, 4096)]
    for idx, (key, n, e) in enumerate(keys):
        k = (n.bit_length() + 7) // 8
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).hex().upper()
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).hex().upper()
        for _ in range(60):
            pad = rng.choice(["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512"])
            if pad == "PKCS1":
                msg = _bytes(rng, rng.choice([16, 24, 32, rng.randint(0, k - 11)]))
                label = b""
                em = _pkcs1_encode(msg, k, rng)
                check = padding.PKCS1v15()
            else:
                hname = pad[5:]
                hl = {"SHA1": 20, "SHA256": 32, "SHA512": 64}[hname]
                msg = _bytes(rng, rng.choice([16, 24, 32, rng.randint(0, k - 2 * hl - 2)]))
                label = _bytes(rng, rng.randint(1, 20)) if rng.random() < 0.2 else b""
                em = _oaep_encode(msg, k, label, hname, rng)
                halg = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256, "SHA512": hashes.SHA512}[hname]
                check = padding.OAEP(mgf=padding.MGF1(halg()), algorithm=halg(), label=label or None)
            ct = pow(int.from_bytes(em, "big"), e, n).to_bytes(k, "big")
            assert key.decrypt(ct, check) == msg
            cases.append({"key": idx, "padding": pad, "label": label.hex().upper(),
                          "plaintext": msg.hex().upper(), "ciphertext": ct.hex().upper()})
        cases.append({"key": idx, "private_pkcs8": pkcs8, "public_spki": spki})
    return cases


def generate(rng: random.Random) -> dict:
    src = "cryptography.hazmat.primitives.kdf"
    return {
        "asym_concat_kdf": {"oracle": ORACLE, "source": src + ".concatkdf.ConcatKDFHash (SP 800-56C one-step, hash)",
                            "cases": _kdf_cases(rng, "NIST_SP800")},
        "asym_x963_kdf": {"oracle": ORACLE, "source": src + ".x963kdf.X963KDF", "cases": _kdf_cases(rng, "ANSI_X963")},
        "asym_ecdh": {"oracle": ORACLE,
                      "source": "cryptography ec.derive_private_key + ECDH exchange + ConcatKDFHash/X963KDF; P-256 400, P-384 400, P-521 200",
                      "cases": _ecdh_cases(rng)},
        "asym_rsa": {"oracle": ORACLE,
                     "source": "OAEP / PKCS#1 v1.5 encoding in Python + raw RSA (pow) with rng-derived primes and seeds; "
                               "every ciphertext decrypted by cryptography before recording; keys as {key, private_pkcs8, public_spki} entries",
                     "cases": _rsa_cases(rng)},
    }
