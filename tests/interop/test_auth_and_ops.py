"""Authentication (SigV4), plain endpoints, audit log, metrics, AWS CLI."""
import datetime
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from unittest import mock

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, client, error_code, make_key


def raw(server, method, path, body=b"", headers=None):
    req = urllib.request.Request(server.endpoint + path, data=body if method == "POST" else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def signed(server, path, body, target=None, when=None, secret=SECRET_ACCESS_KEY, send_body=None):
    headers = {"Content-Type": "application/x-amz-json-1.0" if target else "application/json"}
    if target:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=server.endpoint + path, data=body, headers=headers)
    creds = Credentials(ACCESS_KEY_ID, secret)
    when = when or datetime.datetime.now(datetime.timezone.utc)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        botocore.auth.SigV4Auth(creds, "payment-cryptography", "eu-central-1").add_auth(req)
    h = dict(req.headers.items())
    return raw(server, "POST", path, send_body if send_body is not None else body, h)


def test_health_and_metrics(server, cp):
    status, headers, body = raw(server, "GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    cp.list_keys()
    status, headers, body = raw(server, "GET", "/metrics")
    text = body.decode()
    assert status == 200
    assert 'paycrypt_requests_total{operation="ListKeys"}' in text
    assert 'paycrypt_request_duration_seconds_bucket{operation="ListKeys",le="+Inf"}' in text


@pytest.mark.parametrize("service", ["payment-cryptography", "payment-cryptography-data"])
def test_unsigned_request_refused(server, service):
    c = client(server, service, config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        if service == "payment-cryptography":
            c.list_keys()
        else:
            c.encrypt_data(KeyIdentifier="alias/x", PlainText="00" * 16, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}})
    assert error_code(e) == "MissingAuthenticationTokenException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize("service", ["payment-cryptography", "payment-cryptography-data"])
def test_wrong_secret_and_unknown_key_id(server, service):
    wrong = client(server, service, aws_secret_access_key="wrong-secret")
    stranger = client(server, service, aws_access_key_id="AKIDSOMEBODYELSE0000")
    for c, code in ((wrong, "InvalidSignatureException"), (stranger, "UnrecognizedClientException")):
        with pytest.raises(ClientError) as e:
            if service == "payment-cryptography":
                c.create_key(
                    KeyAttributes={"KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True, "Wrap": True}},
                    Exportable=False,
                )
            else:
                c.generate_mac(KeyIdentifier="alias/x", MessageData="00", GenerationAttributes={"Algorithm": "CMAC"})
        assert error_code(e) == code
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_no_operation_runs_without_valid_signature(server, cp):
    def count_keys():
        # Every page: the session's server may hold more than one page of keys.
        return sum(len(p["Keys"]) for p in cp.get_paginator("list_keys").paginate())

    before = count_keys()
    wrong = client(server, "payment-cryptography", aws_secret_access_key="wrong-secret")
    with pytest.raises(ClientError):
        wrong.create_key(
            KeyAttributes={"KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True, "Wrap": True}},
            Exportable=False,
        )
    assert count_keys() == before


def test_any_region_is_accepted(server):
    c = client(server, "payment-cryptography", region_name="ap-southeast-2")
    assert "Keys" in c.list_keys()


def test_clock_skew_and_body_tampering(server):
    body = b'{"MaxResults": 1}'
    target = "PaymentCryptographyControlPlane.ListKeys"
    status, _, _ = signed(server, "/", body, target)
    assert status == 200
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    status, headers, resp = signed(server, "/", body, target, when=old)
    assert status == 403 and json.loads(resp)["__type"] == "InvalidSignatureException"
    assert "expired" in json.loads(resp)["message"]
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)
    status, _, resp = signed(server, "/", body, target, when=future)
    assert status == 403
    status, headers, resp = signed(server, "/", body, target, send_body=b'{"MaxResults": 2}')
    assert status == 403 and json.loads(resp)["__type"] == "InvalidSignatureException"
    assert headers.get("x-amzn-errortype") == "InvalidSignatureException"
    assert headers.get("x-amzn-requestid")


def test_error_shape_on_the_wire(server):
    status, headers, resp = signed(server, "/", b'{"KeyIdentifier": "alias/none-such"}', "PaymentCryptographyControlPlane.GetKey")
    body = json.loads(resp)
    assert status == 404
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert body["__type"] == "ResourceNotFoundException" and body["ResourceId"] == "alias/none-such"
    assert body["message"] == body["Message"]
    status, headers, resp = signed(server, "/", b"{}", "PaymentCryptographyControlPlane.NoSuchOperation")
    assert status == 400 and json.loads(resp)["__type"] == "UnknownOperationException"
    status, headers, resp = signed(server, "/keys/alias%2Fx/encrypt", b"not json")
    assert status == 400 and json.loads(resp)["__type"] == "ValidationException"
    status, headers, resp = signed(server, "/", b'{"Bogus": 1}', "PaymentCryptographyControlPlane.ListKeys")
    assert status == 400 and "Bogus" in json.loads(resp)["message"]


def test_body_limit(server):
    status, headers, resp = signed(server, "/mac/generate", b'{"MessageData": "' + b"00" * 200_000 + b'"}')
    assert status == 413 and json.loads(resp)["__type"] == "ValidationException"


def test_audit_log(server, cp, dp):
    k = make_key(cp, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128")
    secret_pt = "DEADBEEFCAFEBABE0123456789ABCDEF"
    ct = dp.encrypt_data(KeyIdentifier=k["KeyArn"], PlainText=secret_pt, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}})["CipherText"]
    import time

    deadline = time.time() + 5
    lines = []
    while time.time() < deadline:
        lines = [json.loads(x) for x in server.audit_log.read_text().splitlines() if x.strip()]
        if any(r["operation"] == "EncryptData" and k["KeyArn"] in r["key_arns"] for r in lines):
            break
        time.sleep(0.05)
    rec = next(r for r in lines if r["operation"] == "EncryptData" and k["KeyArn"] in r["key_arns"])
    assert rec["access_key_id"] == ACCESS_KEY_ID and rec["outcome"] == "success" and rec["status"] == 200
    assert {"time", "request_id", "latency_ms"} <= rec.keys()
    text = server.audit_log.read_text()
    assert secret_pt not in text and ct not in text and SECRET_ACCESS_KEY not in text
    assert any(r["outcome"] == "InvalidSignatureException" for r in lines)


def _aws(server, *args):
    exe = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    assert exe, "the AWS CLI (awsv1 from tests/requirements.txt) is not installed"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY, AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    r = subprocess.run([exe, *args, "--endpoint-url", server.endpoint, "--output", "json"], env=env, capture_output=True, text=True, timeout=120)
    return r


def test_aws_cli(server):
    r = _aws(server, "payment-cryptography", "create-key", "--exportable", "--key-attributes",
             "KeyAlgorithm=AES_128,KeyUsage=TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}")
    assert r.returncode == 0, r.stderr
    arn = json.loads(r.stdout)["Key"]["KeyArn"]
    r = _aws(server, "payment-cryptography", "list-keys")
    assert r.returncode == 0, r.stderr
    assert arn in {k["KeyArn"] for k in json.loads(r.stdout)["Keys"]}
    r = _aws(server, "payment-cryptography-data", "encrypt-data", "--key-identifier", arn, "--plain-text", "31323334353637383930313233343536", "--encryption-attributes", "Symmetric={Mode=CBC}")
    assert r.returncode == 0, r.stderr
    ct = json.loads(r.stdout)["CipherText"]
    r = _aws(server, "payment-cryptography-data", "decrypt-data", "--key-identifier", arn, "--cipher-text", ct, "--decryption-attributes", "Symmetric={Mode=CBC}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["PlainText"] == "31323334353637383930313233343536"
    r = _aws(server, "payment-cryptography", "get-alias", "--alias-name", "alias/cli-missing")
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr
