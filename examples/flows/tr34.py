"""Key distribution host (KDH) / key receiving device (KRD) side of X9 TR-34-2012, in Python.

An implementation of the TR-34 two-pass key block ("non-CMS two pass", as the AWS Payment
Cryptography samples exchange it: SignedData over the EnvelopedData fields) written with
`cryptography` and a few lines of DER, independent of paycrypt's Rust `tr34.rs`. Also the small
X.509 helpers a partner needs (a CA and certificates it issues) and the API's certificate encoding
(PEM, base64-encoded again).

Shared by the key-exchange flow (`key_exchange.py`) and the interop tests
(`tests/interop/test_import_export.py`).
"""
import base64
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def load_api_cert(s: str) -> x509.Certificate:
    """A certificate as the API carries it: base64 of the PEM text."""
    pem = base64.b64decode(s)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    return x509.load_pem_x509_certificate(pem)


def api_cert(cert: x509.Certificate) -> str:
    """Encode a certificate for the API: base64 of the PEM text."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def make_ca(key=None, days=365, cn="interop root"):
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(ca_key, ca_cert, key=None, not_after_days=30, not_before_days=-1):
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "interop leaf")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=not_before_days))
        .not_valid_after(now + datetime.timedelta(days=not_after_days))
        .sign(ca_key, hashes.SHA256() if isinstance(ca_key, rsa.RSAPrivateKey) else hashes.SHA384())
    )
    return key, cert



# ---------------------------------------------------------------- TR-34 (X9 TR-34-2012, two-pass)
# An independent TR-34 implementation with `cryptography` and a few lines of DER, shaped as the
# AWS Payment Cryptography samples exchange it (SignedData over the EnvelopedData fields).

OID_DATA = bytes.fromhex("2A864886F70D010701")
OID_SIGNED_DATA = bytes.fromhex("2A864886F70D010702")
OID_ENVELOPED_DATA = bytes.fromhex("2A864886F70D010703")
OID_SHA256 = bytes.fromhex("608648016503040201")
OID_RSA = bytes.fromhex("2A864886F70D010101")
OID_OAEP = bytes.fromhex("2A864886F70D010107")
OID_MGF1 = bytes.fromhex("2A864886F70D010108")
OID_PSPECIFIED = bytes.fromhex("2A864886F70D010109")
OID_CONTENT_TYPE = bytes.fromhex("2A864886F70D010903")
OID_MESSAGE_DIGEST = bytes.fromhex("2A864886F70D010904")
OID_NONCE = bytes.fromhex("2A864886F70D01091903")
OID_DES_EDE3_CBC = bytes.fromhex("2A864886F70D0307")
OID_AES128_CBC = bytes.fromhex("608648016503040102")


def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


def der_items(data: bytes):
    """[(tag, content, raw)] of the TLVs concatenated in data."""
    out, i = [], 0
    while i < len(data):
        tag, n = data[i], data[i + 1]
        j = i + 2
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[j : j + k], "big")
            j += k
        out.append((tag, data[j : j + n], data[i : j + n]))
        i = j + n
    return out


def issuer_and_serial(cert: x509.Certificate) -> bytes:
    tbs = der_items(der_items(cert.tbs_certificate_bytes)[0][1])
    # [0] version, serialNumber, signature, issuer, ...
    return der(0x30, tbs[3][2] + tbs[1][2])


def seq(*parts):
    return der(0x30, b"".join(parts))


def sha256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


def content_cipher(aes: bool, key: bytes, iv: bytes):
    if aes:
        return Cipher(algorithms.AES(key), modes.CBC(iv))
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    return Cipher(TripleDES(key), modes.CBC(iv))


def tr34_build(key, header, nonce, kdh_cert, kdh_key, krd_cert, aes=False):
    eph, iv = os.urandom(16 if aes else 24), os.urandom(16 if aes else 8)
    bs = len(iv)
    inner = seq(der(0x02, b"\x01"), issuer_and_serial(kdh_cert), der(0x04, key), seq(der(0x06, OID_DATA), der(0x31, der(0x04, header.encode()))))
    inner += bytes([bs - len(inner) % bs]) * (bs - len(inner) % bs)
    e = content_cipher(aes, eph, iv).encryptor()
    ct = e.update(inner) + e.finalize()
    ek = krd_cert.public_key().encrypt(eph, OAEP_SHA256)
    oaep_params = seq(seq(der(0x06, OID_SHA256), der(0x05, b"")), seq(der(0x06, OID_MGF1), seq(der(0x06, OID_SHA256))), seq(der(0x06, OID_PSPECIFIED), der(0x04, b"")))
    envelope = (
        der(0x02, b"\x00")
        + der(0x31, seq(der(0x02, b"\x00"), issuer_and_serial(krd_cert), seq(der(0x06, OID_OAEP), oaep_params), der(0x04, ek)))
        + seq(der(0x06, OID_DATA), seq(der(0x06, OID_AES128_CBC if aes else OID_DES_EDE3_CBC), der(0x04, iv)), der(0x80, ct))
    )
    attrs = (
        seq(der(0x06, OID_CONTENT_TYPE), der(0x31, der(0x06, OID_ENVELOPED_DATA)))
        + seq(der(0x06, OID_NONCE), der(0x31, der(0x04, nonce)))
        + seq(der(0x06, OID_DATA), der(0x31, der(0x04, header.encode())))
        + seq(der(0x06, OID_MESSAGE_DIGEST), der(0x31, der(0x04, sha256(envelope))))
    )
    sig = kdh_key.sign(der(0x31, attrs), padding.PKCS1v15(), hashes.SHA256())
    signer = seq(der(0x02, b"\x01"), issuer_and_serial(kdh_cert), seq(der(0x06, OID_SHA256)), der(0xA0, attrs), seq(der(0x06, OID_RSA), der(0x05, b"")), der(0x04, sig))
    sd = seq(der(0x02, b"\x01"), der(0x31, seq(der(0x06, OID_SHA256))), seq(der(0x06, OID_ENVELOPED_DATA), der(0xA0, der(0x04, envelope))), der(0x31, signer))
    return seq(der(0x06, OID_SIGNED_DATA), der(0xA0, sd))


def tr34_open(block: bytes, nonce: bytes, kdh_cert, krd_cert, krd_key):
    """Verify and decrypt; returns (header, key, content_cipher_oid)."""
    outer = der_items(der_items(block)[0][1])
    assert outer[0][1] == OID_SIGNED_DATA
    sd = der_items(der_items(outer[1][1])[0][1])
    assert sd[0][1] == b"\x01"
    encap = der_items(sd[2][1])
    assert encap[0][1] == OID_ENVELOPED_DATA
    envelope = der_items(encap[1][1])[0][1]
    signer = der_items(der_items(sd[3][1])[0][1])
    assert signer[1][2] == issuer_and_serial(kdh_cert)
    attrs_tlv = signer[3]
    assert attrs_tlv[0] == 0xA0
    kdh_cert.public_key().verify(signer[5][1], der(0x31, attrs_tlv[1]), padding.PKCS1v15(), hashes.SHA256())
    attrs = {der_items(a[1])[0][1]: der_items(der_items(a[1])[1][1])[0][1] for a in der_items(attrs_tlv[1])}
    assert attrs[OID_CONTENT_TYPE] == OID_ENVELOPED_DATA
    assert attrs[OID_NONCE] == nonce
    assert attrs[OID_MESSAGE_DIGEST] == sha256(envelope)
    env = der_items(envelope)
    ri = der_items(der_items(env[1][1])[0][1])
    assert ri[1][2] == issuer_and_serial(krd_cert)
    assert der_items(ri[2][1])[0][1] == OID_OAEP
    eph = krd_key.decrypt(ri[3][1], OAEP_SHA256)
    eci = der_items(env[2][1])
    alg = der_items(eci[1][1])
    d = content_cipher(alg[0][1] == OID_AES128_CBC, eph, alg[1][1]).decryptor()
    plain = d.update(eci[2][1]) + d.finalize()
    kb = der_items(der_items(plain)[0][1])
    assert kb[1][2] == issuer_and_serial(kdh_cert)
    header = der_items(der_items(kb[3][1])[1][1])[0][1]
    assert header == attrs[OID_DATA]
    return header.decode(), kb[2][1], alg[0][1]

