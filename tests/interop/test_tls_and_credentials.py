"""A second server: no credentials in the environment (a pair is generated into
<data-dir>/credentials) and TLS with a self-signed certificate made here."""
import configparser
import datetime
import ipaddress
import os
import stat

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import Server, error_code


def self_signed(tmp):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    c, k = tmp / "cert.pem", tmp / "key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return c, k


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paycrypt-tls")
    cert, key = self_signed(tmp)
    s = Server(tmp, extra_args=["--tls-cert", str(cert), "--tls-key", str(key)], env_credentials=False, scheme="https", verify=str(cert))
    s.cert = str(cert)
    yield s
    assert s.stop() == 0


def test_generated_credentials_over_tls(tls_server):
    path = tls_server.data_dir / "credentials"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert str(path) in (path.parent.parent / "stdout.log").read_text()
    cfg = configparser.ConfigParser()
    cfg.read(path)
    ak, sk = cfg["default"]["aws_access_key_id"], cfg["default"]["aws_secret_access_key"]
    assert len(ak) >= 16 and len(sk) >= 40
    session = boto3.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
    cp = session.client("payment-cryptography", endpoint_url=tls_server.endpoint, verify=tls_server.cert, config=Config(retries={"max_attempts": 1}))
    dp = session.client("payment-cryptography-data", endpoint_url=tls_server.endpoint, verify=tls_server.cert, config=Config(retries={"max_attempts": 1}))
    k = cp.create_key(
        KeyAttributes={"KeyUsage": "TR31_M6_ISO_9797_5_CMAC_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_256", "KeyModesOfUse": {"Generate": True, "Verify": True}},
        Exportable=False,
    )["Key"]
    mac = dp.generate_mac(KeyIdentifier=k["KeyArn"], MessageData="0011", GenerationAttributes={"Algorithm": "CMAC"})["Mac"]
    dp.verify_mac(KeyIdentifier=k["KeyArn"], MessageData="0011", Mac=mac, VerificationAttributes={"Algorithm": "CMAC"})
    # The interop suite's fixed credentials are not accepted by this server.
    other = boto3.client("payment-cryptography", endpoint_url=tls_server.endpoint, verify=tls_server.cert, region_name="us-east-1",
                         aws_access_key_id="AKIDPAYCRYPTINTEROP1", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        other.list_keys()
    assert error_code(e) == "UnrecognizedClientException"
