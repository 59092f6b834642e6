"""The rest of the control plane through boto3: replication regions (stored and reported, never
acted on: paycrypt has one region), MPA team associations and resource policies (stored, never
enforced/evaluated), GetCertificateSigningRequest (CSR checked with `cryptography`), TR-31
exportability E/N/S on export, and per-caller throttling. Expected values are computed in
Python (psec / cryptography), never by paycrypt."""
import base64
import json
import os
import time
import warnings

import psec
import pydukpt
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from conftest import REGION, Server, client, error_code, make_key
from test_import_export import (
    AES_KEK,
    D0,
    K1,
    OAEP,
    P0,
    export_cryptogram,
    export_tr31,
    import_by_cryptogram,
    import_root,
    import_tr31,
    kcv_aes_cmac,
    make_ca,
    make_leaf,
)

warnings.filterwarnings("ignore")
pytestmark = pytest.mark.filterwarnings("ignore")

S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
TEAM = "arn:aws:mpa:us-east-1:111122223333:approval-team/payments-team"
OTHER_TEAM = "arn:aws:mpa:us-east-1:111122223333:approval-team/other"
IMPORT_ROOT = "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"
MISSING_ARN = "arn:aws:payment-cryptography:us-east-1:111122223333:key/doesnotexist0000"


def aes_key(cp, **kw):
    return make_key(cp, D0, "AES_128", "B", Exportable=True, **kw)


# ---------------------------------------------------------------- replication regions


def check_not_replicated(key, regions, using_default):
    assert key["MultiRegionKeyType"] == "PRIMARY"
    assert key["PrimaryRegion"] == REGION
    assert key["UsingDefaultReplicationRegions"] is using_default
    assert set(key["ReplicationStatus"]) == set(regions)
    for st in key["ReplicationStatus"].values():
        # Honest: a single-region deployment never replicates.
        assert st["Status"] == "FAILED"
        assert "one region" in st["StatusMessage"]


def test_create_key_with_replication_regions(cp):
    k = aes_key(cp, ReplicationRegions=["us-west-2", "eu-west-1", "us-west-2"])
    check_not_replicated(k, {"us-west-2", "eu-west-1"}, False)
    got = cp.get_key(KeyIdentifier=k["KeyArn"])["Key"]
    check_not_replicated(got, {"us-west-2", "eu-west-1"}, False)
    # The session's server holds keys of other test files too: walk every page.
    pages = cp.get_paginator("list_keys").paginate()
    summary = [s for page in pages for s in page["Keys"] if s["KeyArn"] == k["KeyArn"]][0]
    assert summary["MultiRegionKeyType"] == "PRIMARY" and summary["PrimaryRegion"] == REGION
    # A plain key shows none of the multi-region members.
    plain = aes_key(cp)
    for m in ("MultiRegionKeyType", "PrimaryRegion", "ReplicationStatus", "UsingDefaultReplicationRegions"):
        assert m not in plain


def test_add_and_remove_key_replication_regions(cp):
    k = aes_key(cp)
    k = cp.add_key_replication_regions(KeyIdentifier=k["KeyArn"], ReplicationRegions=["ap-south-1"])["Key"]
    check_not_replicated(k, {"ap-south-1"}, False)
    k = cp.add_key_replication_regions(KeyIdentifier=k["KeyArn"], ReplicationRegions=["eu-central-1"])["Key"]
    check_not_replicated(k, {"ap-south-1", "eu-central-1"}, False)
    k = cp.remove_key_replication_regions(KeyIdentifier=k["KeyArn"], ReplicationRegions=["ap-south-1", "sa-east-1"])["Key"]
    check_not_replicated(k, {"eu-central-1"}, False)
    k = cp.remove_key_replication_regions(KeyIdentifier=k["KeyArn"], ReplicationRegions=["eu-central-1"])["Key"]
    assert "ReplicationStatus" not in k and "MultiRegionKeyType" not in k
    # Refusals: own region, malformed region (botocore does not check patterns), unknown key,
    # deleted key.
    for bad in (["us-east-1"], ["EU-WEST-1"], ["eu_west_1"]):
        with pytest.raises(ClientError) as e:
            cp.add_key_replication_regions(KeyIdentifier=k["KeyArn"], ReplicationRegions=bad)
        assert error_code(e) == "ValidationException" and "ReplicationRegions" in str(e.value)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.add_key_replication_regions(KeyIdentifier=MISSING_ARN, ReplicationRegions=["us-west-2"])
    cp.delete_key(KeyIdentifier=k["KeyArn"], DeleteKeyInDays=3)
    with pytest.raises(cp.exceptions.ConflictException):
        cp.add_key_replication_regions(KeyIdentifier=k["KeyArn"], ReplicationRegions=["us-west-2"])


def test_default_key_replication_regions(cp):
    assert cp.get_default_key_replication_regions()["EnabledReplicationRegions"] == []
    r = cp.enable_default_key_replication_regions(ReplicationRegions=["us-west-2", "eu-west-1"])
    assert r["EnabledReplicationRegions"] == ["eu-west-1", "us-west-2"]
    try:
        k = aes_key(cp)
        check_not_replicated(k, {"eu-west-1", "us-west-2"}, True)
        # Explicit regions win over the defaults.
        k = aes_key(cp, ReplicationRegions=["ap-south-1"])
        check_not_replicated(k, {"ap-south-1"}, False)
        # Imports get the defaults too.
        imp = import_by_cryptogram(cp, os.urandom(16), D0, "AES_128", wrapping="RSA_3072")
        check_not_replicated(imp, {"eu-west-1", "us-west-2"}, True)
        r = cp.disable_default_key_replication_regions(ReplicationRegions=["us-west-2", "ca-central-1"])
        assert r["EnabledReplicationRegions"] == ["eu-west-1"]
        assert cp.get_default_key_replication_regions()["EnabledReplicationRegions"] == ["eu-west-1"]
        with pytest.raises(cp.exceptions.ValidationException):
            cp.enable_default_key_replication_regions(ReplicationRegions=["us-east-1"])
        with pytest.raises(ClientError) as e:
            cp.enable_default_key_replication_regions(ReplicationRegions=["x"])
        assert error_code(e) == "ValidationException"
    finally:
        cp.disable_default_key_replication_regions(ReplicationRegions=["eu-west-1", "us-west-2"])
    assert cp.get_default_key_replication_regions()["EnabledReplicationRegions"] == []
    assert "ReplicationStatus" not in aes_key(cp)


def test_import_key_with_replication_regions(cp):
    imp = import_by_cryptogram(cp, os.urandom(16), D0, "AES_128", wrapping="RSA_3072", ReplicationRegions=["us-west-1"])
    check_not_replicated(imp, {"us-west-1"}, False)


# ---------------------------------------------------------------- MPA teams


def test_mpa_team_association(cp):
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_mpa_team_association(Action=IMPORT_ROOT)
    a = cp.associate_mpa_team(Action=IMPORT_ROOT, MpaTeamArn=TEAM, RequesterComment="set up approvals")["MpaTeamAssociation"]
    assert a == {"Action": IMPORT_ROOT, "MpaTeamArn": TEAM, "AssociationState": "ACTIVE"}
    assert cp.get_mpa_team_association(Action=IMPORT_ROOT)["MpaTeamAssociation"] == a
    with pytest.raises(cp.exceptions.ConflictException):
        cp.associate_mpa_team(Action=IMPORT_ROOT, MpaTeamArn=OTHER_TEAM)
    # paycrypt does not enforce multi-party approval: a root import still succeeds at once.
    _, cert = make_ca(cn="mpa root")
    assert import_root(cp, cert)["KeyState"] == "CREATE_COMPLETE"
    d = cp.disassociate_mpa_team(Action=IMPORT_ROOT)["MpaTeamAssociation"]
    assert d["MpaTeamArn"] == TEAM and d["Action"] == IMPORT_ROOT and d["AssociationState"] == "DELETE_PENDING"
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_mpa_team_association(Action=IMPORT_ROOT)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.disassociate_mpa_team(Action=IMPORT_ROOT)


def test_mpa_team_refusals(cp):
    for kw in (
        {"Action": "DELETE_EVERYTHING", "MpaTeamArn": TEAM},
        {"Action": IMPORT_ROOT, "MpaTeamArn": "arn:aws:iam::111122223333:role/not-a-team"},
        {"Action": IMPORT_ROOT, "MpaTeamArn": TEAM, "RequesterComment": "x" * 201},
    ):
        with pytest.raises(ClientError) as e:
            cp.associate_mpa_team(**kw)
        assert error_code(e) == "ValidationException"
        assert "x" * 201 not in str(e.value)


# ---------------------------------------------------------------- resource policies


POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/payments"},
                "Action": "payment-cryptography:EncryptData",
                "Resource": "*",
            }
        ],
    },
    indent=2,
)


def test_resource_policy(cp):
    k = aes_key(cp)
    arn = k["KeyArn"]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_resource_policy(ResourceArn=arn)
    r = cp.put_resource_policy(ResourceArn=arn, Policy=POLICY)
    assert r["ResourceArn"] == arn and r["Policy"] == POLICY
    got = cp.get_resource_policy(ResourceArn=arn)
    assert got["ResourceArn"] == arn and got["Policy"] == POLICY  # stored as given
    replaced = json.dumps({"Version": "2012-10-17", "Statement": []})
    cp.put_resource_policy(ResourceArn=arn, Policy=replaced)
    assert cp.get_resource_policy(ResourceArn=arn)["Policy"] == replaced
    cp.delete_resource_policy(ResourceArn=arn)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_resource_policy(ResourceArn=arn)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_resource_policy(ResourceArn=arn)


def test_resource_policy_refusals(cp):
    arn = aes_key(cp)["KeyArn"]
    public = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
    with pytest.raises(cp.exceptions.PublicPolicyException):
        cp.put_resource_policy(ResourceArn=arn, Policy=public)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.put_resource_policy(ResourceArn=MISSING_ARN, Policy=POLICY)
    for bad in ("not json", "[1, 2]", "{" + " " * 20480 + "}", "{\"a\": \"\u20ac\"}"):
        with pytest.raises(ClientError) as e:
            cp.put_resource_policy(ResourceArn=arn, Policy=bad)
        assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        cp.put_resource_policy(ResourceArn="arn:aws:payment-cryptography:us-east-1:111122223333:alias/" + "x" * 20, Policy=POLICY)
    assert error_code(e) == "ValidationException"


# ---------------------------------------------------------------- GetCertificateSigningRequest


def key_pair(cp, algorithm, usage=S0, modes=None, **kw):
    return cp.create_key(
        KeyAttributes={"KeyUsage": usage, "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": algorithm, "KeyModesOfUse": modes or {"Sign": True}},
        Exportable=False,
        **kw,
    )["Key"]


def load_csr(b64: str) -> x509.CertificateSigningRequest:
    pem = base64.b64decode(b64)
    assert pem.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    return x509.load_pem_x509_csr(pem)


SUBJECT = {
    "CommonName": "terminal-host.example.com",
    "OrganizationUnit": "Payments",
    "Organization": "Example Acquirer",
    "City": "Seattle",
    "Country": "US",
    "StateOrProvince": "Washington",
    "EmailAddress": "pki@example.com",
}


@pytest.mark.parametrize(
    "algorithm,signing,hash_cls",
    [
        ("RSA_2048", "SHA256", hashes.SHA256),
        ("RSA_3072", "SHA384", hashes.SHA384),
        ("RSA_2048", "SHA512", hashes.SHA512),
        ("ECC_NIST_P256", "SHA256", hashes.SHA256),
        ("ECC_NIST_P384", "SHA384", hashes.SHA384),
        ("ECC_NIST_P521", "SHA512", hashes.SHA512),
        ("ECC_NIST_P521", "SHA224", hashes.SHA224),
    ],
)
def test_certificate_signing_request(cp, algorithm, signing, hash_cls):
    k = key_pair(cp, algorithm)
    out = cp.get_certificate_signing_request(KeyIdentifier=k["KeyArn"], SigningAlgorithm=signing, CertificateSubject=SUBJECT)
    csr = load_csr(out["CertificateSigningRequest"])
    assert csr.is_signature_valid
    assert isinstance(csr.signature_hash_algorithm, hash_cls)
    attr = lambda oid: csr.subject.get_attributes_for_oid(oid)[0].value  # noqa: E731
    assert attr(NameOID.COMMON_NAME) == SUBJECT["CommonName"]
    assert attr(NameOID.ORGANIZATIONAL_UNIT_NAME) == "Payments"
    assert attr(NameOID.ORGANIZATION_NAME) == "Example Acquirer"
    assert attr(NameOID.LOCALITY_NAME) == "Seattle"
    assert attr(NameOID.COUNTRY_NAME) == "US"
    assert attr(NameOID.STATE_OR_PROVINCE_NAME) == "Washington"
    assert attr(NameOID.EMAIL_ADDRESS) == "pki@example.com"
    # The CSR carries the key's public key: a signature by the key verifies under it.
    pub = csr.public_key()
    if algorithm.startswith("RSA"):
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == int(algorithm[4:])
    else:
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        assert pub.curve.name == {"ECC_NIST_P256": "secp256r1", "ECC_NIST_P384": "secp384r1", "ECC_NIST_P521": "secp521r1"}[algorithm]
    # The same public key as GetPublicKeyCertificate's certificate.
    cert = x509.load_pem_x509_certificate(base64.b64decode(cp.get_public_key_certificate(KeyIdentifier=k["KeyArn"])["KeyCertificate"]))
    spki = lambda p: p.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # noqa: E731
    assert spki(cert.public_key()) == spki(pub)


def test_certificate_signing_request_minimal_subject(cp):
    k = key_pair(cp, "ECC_NIST_P256")
    out = cp.get_certificate_signing_request(KeyIdentifier=k["KeyArn"], SigningAlgorithm="SHA256", CertificateSubject={"CommonName": "only-cn"})
    csr = load_csr(out["CertificateSigningRequest"])
    assert csr.is_signature_valid and csr.subject.rfc4514_string() == "CN=only-cn"


def test_certificate_signing_request_refusals(cp):
    k = key_pair(cp, "RSA_2048")

    def refused(exc=None, text=None, **kw):
        args = {"KeyIdentifier": k["KeyArn"], "SigningAlgorithm": "SHA256", "CertificateSubject": {"CommonName": "x"}}
        args.update(kw)
        with pytest.raises(exc or cp.exceptions.ValidationException) as e:
            cp.get_certificate_signing_request(**args)
        if text:
            assert text in str(e.value), str(e.value)

    refused(SigningAlgorithm="MD5", text="SigningAlgorithm")
    refused(SigningAlgorithm="SHA224", text="SHA224")  # RSA/SHA-224 not available here
    refused(CertificateSubject={"CommonName": "x" * 65}, text="CommonName")
    refused(CertificateSubject={"CommonName": "a<b"}, text="CommonName")
    refused(CertificateSubject={"CommonName": "x", "Country": "USA"}, text="Country")
    refused(CertificateSubject={"CommonName": "x", "EmailAddress": "not-an-email"}, text="EmailAddress")
    refused(KeyIdentifier=aes_key(cp)["KeyArn"], text="ASYMMETRIC_KEY_PAIR")
    refused(KeyIdentifier="alias/no-such-csr-key", exc=cp.exceptions.ResourceNotFoundException)
    cp.stop_key_usage(KeyIdentifier=k["KeyArn"])
    refused(text="disabled")


# ---------------------------------------------------------------- exportability E / N / S


@pytest.fixture(scope="module")
def aes_kek(cp):
    return import_by_cryptogram(cp, AES_KEK, K1, "AES_128", wrapping="RSA_3072", spec="RSA_OAEP_SHA_512")["KeyArn"]


@pytest.fixture(scope="module")
def root_ca(cp):
    ca_key, ca_cert = make_ca(cn="exportability root")
    ca = import_root(cp, ca_cert)
    leaf_key, leaf = make_leaf(ca_key, ca_cert, rsa.generate_private_key(public_exponent=65537, key_size=3072))
    return ca["KeyArn"], leaf_key, leaf


def test_exportability_e_key_block_only(cp, aes_kek, root_ca):
    ca_arn, leaf_key, leaf = root_ca
    key = os.urandom(16)
    k = import_tr31(cp, aes_kek, psec.tr31.wrap(AES_KEK, "D0000D0AB00E0000", key))
    assert k["Exportable"] is True
    # E: a TR-31 key block under a KEK is fine (and stays E by default) ...
    w = export_tr31(cp, k["KeyArn"], aes_kek)
    header, out = psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])
    assert out == key and str(header)[11] == "E"
    # ... narrowing to N is fine, widening to S is not ...
    w = export_tr31(cp, k["KeyArn"], aes_kek, {"KeyExportability": "NON_EXPORTABLE"})
    assert str(psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])[0])[11] == "N"
    with pytest.raises(cp.exceptions.ValidationException) as e:
        export_tr31(cp, k["KeyArn"], aes_kek, {"KeyExportability": "SENSITIVE"})
    assert "less restrictive" in str(e.value)
    # ... and an RSA key cryptogram (no key block) is refused.
    with pytest.raises(cp.exceptions.ValidationException) as e:
        export_cryptogram(cp, k["KeyArn"], ca_arn, leaf)
    assert "exportability E" in str(e.value)


def test_exportability_s_any_method(cp, aes_kek, root_ca):
    ca_arn, leaf_key, leaf = root_ca
    key = os.urandom(16)
    k = import_tr31(cp, aes_kek, psec.tr31.wrap(AES_KEK, "D0000D0AB00S0000", key))
    w = export_cryptogram(cp, k["KeyArn"], ca_arn, leaf)
    assert leaf_key.decrypt(bytes.fromhex(w["KeyMaterial"]), OAEP["RSA_OAEP_SHA_256"]) == key
    w = export_tr31(cp, k["KeyArn"], aes_kek, {"KeyExportability": "SENSITIVE"})
    assert str(psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])[0])[11] == "S"
    # Keys created here with Exportable=true may leave by any method (recorded S).
    c = aes_key(cp)
    w = export_cryptogram(cp, c["KeyArn"], ca_arn, leaf)
    assert kcv_aes_cmac(leaf_key.decrypt(bytes.fromhex(w["KeyMaterial"]), OAEP["RSA_OAEP_SHA_256"])) == c["KeyCheckValue"]


def test_exportability_n_never(cp, aes_kek, root_ca):
    ca_arn, _, leaf = root_ca
    k = import_tr31(cp, aes_kek, psec.tr31.wrap(AES_KEK, "D0000P0AB00N0000", os.urandom(16)))
    assert k["Exportable"] is False
    with pytest.raises(cp.exceptions.ValidationException) as e:
        export_tr31(cp, k["KeyArn"], aes_kek)
    assert "not exportable" in str(e.value)
    with pytest.raises(cp.exceptions.ValidationException):
        export_cryptogram(cp, k["KeyArn"], ca_arn, leaf)


# ---------------------------------------------------------------- throttling


def test_throttling(tmp_path):
    # 0.2 requests/s per caller: a bucket of 1 request, refilled every 5 s.
    server = Server(tmp_path, extra_args=["--rate-limit-cp", "0.2", "--rate-limit-dp", "0.2"])
    try:
        cp = client(server, "payment-cryptography", config=Config(retries={"max_attempts": 1}))
        dp = client(server, "payment-cryptography-data", config=Config(retries={"max_attempts": 1}))
        cp.list_keys()
        with pytest.raises(ClientError) as e:
            cp.list_keys()
        assert error_code(e) == "ThrottlingException" and isinstance(e.value, cp.exceptions.ThrottlingException)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        # The data plane has its own bucket: the first call is not throttled (the key does not
        # exist), the second is.
        encrypt = lambda: dp.encrypt_data(KeyIdentifier="alias/none", PlainText="00" * 16, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}})  # noqa: E731
        with pytest.raises(dp.exceptions.ResourceNotFoundException):
            encrypt()
        with pytest.raises(dp.exceptions.ThrottlingException) as e:
            encrypt()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        # botocore's standard retry mode retries ThrottlingException until the bucket refills.
        retrying = client(server, "payment-cryptography", config=Config(retries={"max_attempts": 12, "mode": "standard"}))
        r = retrying.list_keys()
        assert r["ResponseMetadata"]["RetryAttempts"] >= 1
    finally:
        assert server.stop() == 0


# ---------------------------------------------------------------- ExportDukptInitialKey


def aes_ecb(key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(data) + e.finalize()


def aes_dukpt_initial_key(bdk: bytes, ksn: bytes) -> bytes:
    # ANSI X9.24-3 initial key: AES-ECB under the BDK of the derivation data (version 01,
    # counter 01, usage 8001 "initial key", algorithm 0002 AES-128, length 0080, initial key ID).
    return aes_ecb(bdk, bytes([1, 1]) + bytes.fromhex("8001") + bytes.fromhex("0002") + bytes.fromhex("0080") + ksn[:8])


def export_initial_key(cp, bdk_arn, kek_arn, ksn, headers=None):
    return export_tr31(cp, bdk_arn, kek_arn, headers, ExportAttributes={"ExportDukptInitialKey": {"KeySerialNumber": ksn}})


def test_export_dukpt_initial_key_tdes(cp, aes_kek):
    bdk = psec.des.adjust_key_parity(os.urandom(16))
    b = import_tr31(cp, aes_kek, psec.tr31.wrap(AES_KEK, "D0000B0TX00S0000", bdk))
    ksn = "FFFF9876543210E00008"
    w = export_initial_key(cp, b["KeyArn"], aes_kek, ksn)
    header, ipek = psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])
    assert ipek == pydukpt.derive_ipek(bdk, bytes.fromhex(ksn))
    assert str(header)[5:12] == "B1TX00S"  # as AWS's example B0096B1TX00S0000
    assert w["KeyCheckValue"] == psec.des.generate_kcv(ipek, 3).hex().upper()
    # The counter bits do not change the IPEK; narrowing the exportability is allowed.
    w = export_initial_key(cp, b["KeyArn"], aes_kek, "FFFF9876543210E00000", {"KeyExportability": "EXPORTABLE"})
    header, again = psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])
    assert again == ipek and str(header)[11] == "E"


def test_export_dukpt_initial_key_aes(cp, aes_kek):
    bdk = os.urandom(16)
    b = import_tr31(cp, aes_kek, psec.tr31.wrap(AES_KEK, "D0000B0AX00E0000", bdk))
    ksn = "123456789012345600000001"
    w = export_initial_key(cp, b["KeyArn"], aes_kek, ksn)
    header, ik = psec.tr31.unwrap(AES_KEK, w["KeyMaterial"])
    assert ik == aes_dukpt_initial_key(bdk, bytes.fromhex(ksn))
    assert str(header)[5:12] == "B1AX00E"  # an E BDK gives an E initial key
    assert w["KeyCheckValue"] == kcv_aes_cmac(ik)


def test_export_dukpt_initial_key_refusals(cp, aes_kek, root_ca):
    ca_arn, _, leaf = root_ca
    tdes_bdk = import_tr31(cp, aes_kek, psec.tr31.wrap(AES_KEK, "D0000B0TX00S0000", psec.des.adjust_key_parity(os.urandom(16))))
    aes_bdk = import_tr31(cp, aes_kek, psec.tr31.wrap(AES_KEK, "D0000B0AX00S0000", os.urandom(16)))

    def refused(key_arn, ksn, text, headers=None):
        with pytest.raises(ClientError) as e:
            export_initial_key(cp, key_arn, aes_kek, ksn, headers)
        assert error_code(e) == "ValidationException" and text in str(e.value), str(e.value)

    refused(tdes_bdk["KeyArn"], "123456789012345600000001", "KeySerialNumber")  # 24 hex for TDES
    refused(aes_bdk["KeyArn"], "FFFF9876543210E00008", "KeySerialNumber")  # 20 hex for AES
    refused(tdes_bdk["KeyArn"], "ffff9876543210e00008", "KeySerialNumber")  # pattern: upper-case hex
    refused(aes_key(cp)["KeyArn"], "123456789012345600000001", "TR31_B0_BASE_DERIVATION_KEY")
    with pytest.raises(ClientError) as e:
        cp.export_key(
            KeyMaterial={"KeyCryptogram": {"CertificateAuthorityPublicKeyIdentifier": ca_arn, "WrappingKeyCertificate": base64.b64encode(leaf.public_bytes(Encoding.PEM)).decode()}},
            ExportKeyIdentifier=tdes_bdk["KeyArn"],
            ExportAttributes={"ExportDukptInitialKey": {"KeySerialNumber": "FFFF9876543210E00008"}},
        )
    assert error_code(e) == "ValidationException" and "ExportDukptInitialKey" in str(e.value)
