"""Control plane (JSON 1.0) through boto3: keys, aliases, tags, pagination, errors."""
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import client, error_code, make_key

D0 = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"


# Every test here runs on the SQLite-backed and on the PostgreSQL-backed server.
@pytest.fixture(scope="module")
def cp(any_server):
    return client(any_server, "payment-cryptography")


def test_create_get_key_and_kcv(cp):
    for alg, kcv_alg in (("AES_128", "CMAC"), ("AES_256", "CMAC"), ("TDES_2KEY", "ANSI_X9_24"), ("TDES_3KEY", "ANSI_X9_24")):
        k = make_key(cp, D0, alg, "B", Tags=[{"Key": "team", "Value": "payments"}])
        assert re.fullmatch(r"arn:aws:payment-cryptography:us-east-1:111122223333:key/[0-9a-zA-Z]{16,64}", k["KeyArn"])
        assert re.fullmatch(r"[0-9A-F]{6}", k["KeyCheckValue"]), k["KeyCheckValue"]
        assert k["KeyCheckValueAlgorithm"] == kcv_alg
        assert k["KeyState"] == "CREATE_COMPLETE" and k["Enabled"] is True
        assert k["KeyOrigin"] == "AWS_PAYMENT_CRYPTOGRAPHY"
        assert k["KeyAttributes"]["KeyModesOfUse"]["Encrypt"] is True
        got = cp.get_key(KeyIdentifier=k["KeyArn"])["Key"]
        assert got["KeyArn"] == k["KeyArn"] and got["KeyCheckValue"] == k["KeyCheckValue"]
    h = make_key(cp, "TR31_M7_HMAC_KEY", "HMAC_SHA256", "C")
    assert h["KeyCheckValueAlgorithm"] == "HMAC" and re.fullmatch(r"[0-9A-F]{6}", h["KeyCheckValue"])


def test_request_id_is_returned(cp):
    r = cp.list_keys(MaxResults=1)
    rid = r["ResponseMetadata"]["RequestId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", rid)


def test_list_keys_pagination(cp):
    made = {make_key(cp, D0, "AES_128")["KeyArn"] for _ in range(5)}
    pages = list(cp.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3
    assert all(len(p["Keys"]) <= 2 for p in pages)
    seen = [k["KeyArn"] for p in pages for k in p["Keys"]]
    assert len(seen) == len(set(seen))
    assert made <= set(seen)
    first = cp.list_keys(MaxResults=2)
    assert "NextToken" in first and len(first["Keys"]) == 2
    second = cp.list_keys(MaxResults=2, NextToken=first["NextToken"])
    assert not {k["KeyArn"] for k in first["Keys"]} & {k["KeyArn"] for k in second["Keys"]}
    only_pending = cp.list_keys(KeyState="DELETE_PENDING")["Keys"]
    assert all(k["KeyState"] == "DELETE_PENDING" for k in only_pending)


def test_key_lifecycle(cp):
    k = make_key(cp, D0, "AES_128")
    arn = k["KeyArn"]
    stopped = cp.stop_key_usage(KeyIdentifier=arn)["Key"]
    assert stopped["Enabled"] is False and "UsageStopTimestamp" in stopped
    started = cp.start_key_usage(KeyIdentifier=arn)["Key"]
    assert started["Enabled"] is True
    deleted = cp.delete_key(KeyIdentifier=arn, DeleteKeyInDays=3)["Key"]
    assert deleted["KeyState"] == "DELETE_PENDING" and deleted["Enabled"] is False
    assert deleted["DeleteTimestamp"] > deleted["DeletePendingTimestamp"]
    with pytest.raises(ClientError) as e:
        cp.delete_key(KeyIdentifier=arn)
    assert error_code(e) == "ConflictException"
    restored = cp.restore_key(KeyIdentifier=arn)["Key"]
    assert restored["KeyState"] == "CREATE_COMPLETE"
    assert "DeleteTimestamp" not in restored
    with pytest.raises(ClientError) as e:
        cp.restore_key(KeyIdentifier=arn)
    assert error_code(e) == "ConflictException"


def test_unknown_key_is_not_found(cp):
    arn = "arn:aws:payment-cryptography:us-east-1:111122223333:key/doesnotexist0000"
    for call in (cp.get_key, cp.stop_key_usage, cp.start_key_usage, cp.restore_key, cp.delete_key):
        with pytest.raises(cp.exceptions.ResourceNotFoundException) as e:
            call(KeyIdentifier=arn)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert e.value.response.get("ResourceId") == arn


def test_bad_attribute_combinations(cp):
    # A MAC usage with encryption modes, HMAC algorithm for a D0 key, CMAC key with DeriveKey.
    bad = [
        ("TR31_M6_ISO_9797_5_CMAC_KEY", "AES_128", {"Encrypt": True, "Decrypt": True}),
        (D0, "HMAC_SHA256", {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}),
        ("TR31_M6_ISO_9797_5_CMAC_KEY", "AES_128", {"DeriveKey": True}),
        (D0, "AES_128", {}),
    ]
    for usage, alg, modes in bad:
        with pytest.raises(cp.exceptions.ValidationException):
            cp.create_key(
                KeyAttributes={"KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": alg, "KeyModesOfUse": modes},
                Exportable=False,
            )


def test_enum_pattern_and_range_violations(cp):
    # botocore checks neither enums, patterns nor maxima: the server must.
    with pytest.raises(cp.exceptions.ValidationException) as e:
        cp.create_key(
            KeyAttributes={"KeyUsage": "TR31_NOPE", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True}},
            Exportable=False,
        )
    assert "KeyAttributes.KeyUsage" in str(e.value)
    with pytest.raises(cp.exceptions.ValidationException) as e:
        cp.list_keys(MaxResults=1000)
    assert "MaxResults" in str(e.value)
    with pytest.raises(cp.exceptions.ValidationException) as e:
        cp.delete_key(KeyIdentifier="alias/whatever", DeleteKeyInDays=500)
    assert "DeleteKeyInDays" in str(e.value)
    with pytest.raises(cp.exceptions.ValidationException) as e:
        cp.get_alias(AliasName="alias/bad name!")
    assert "AliasName" in str(e.value)
    with pytest.raises(cp.exceptions.ValidationException) as e:
        cp.get_key(KeyIdentifier="not-an-arn-or-alias")
    assert "KeyIdentifier" in str(e.value)
    with pytest.raises(cp.exceptions.ValidationException):
        cp.list_keys(KeyState="BROKEN")


def test_aliases(cp):
    name = f"alias/interop-{uuid.uuid4().hex[:12]}"
    k1 = make_key(cp, D0, "AES_128")
    k2 = make_key(cp, D0, "AES_128")
    a = cp.create_alias(AliasName=name, KeyArn=k1["KeyArn"])["Alias"]
    assert a == {"AliasName": name, "KeyArn": k1["KeyArn"]}
    assert cp.get_key(KeyIdentifier=name)["Key"]["KeyArn"] == k1["KeyArn"]
    with pytest.raises(cp.exceptions.ConflictException) as e:
        cp.create_alias(AliasName=name, KeyArn=k2["KeyArn"])
    assert "already exists" in str(e.value)
    assert cp.update_alias(AliasName=name, KeyArn=k2["KeyArn"])["Alias"]["KeyArn"] == k2["KeyArn"]
    assert cp.get_alias(AliasName=name)["Alias"]["KeyArn"] == k2["KeyArn"]
    filtered = cp.list_aliases(KeyArn=k2["KeyArn"])["Aliases"]
    assert [x["AliasName"] for x in filtered] == [name]
    # An alias without a key.
    detached = cp.update_alias(AliasName=name)["Alias"]
    assert "KeyArn" not in detached
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_key(KeyIdentifier=name)
    cp.delete_alias(AliasName=name)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_alias(AliasName=name)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_alias(AliasName=name)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.create_alias(AliasName=name + "-x", KeyArn="arn:aws:payment-cryptography:us-east-1:111122223333:key/doesnotexist0000")


def test_alias_pagination(cp):
    prefix = f"alias/page-{uuid.uuid4().hex[:8]}"
    names = {f"{prefix}-{i}" for i in range(5)}
    for n in names:
        cp.create_alias(AliasName=n)
    got = set()
    for page in cp.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Aliases"]) <= 2
        got |= {a["AliasName"] for a in page["Aliases"]}
    assert names <= got


def test_tags(cp):
    k = make_key(cp, D0, "AES_128", Tags=[{"Key": "a", "Value": "1"}])
    arn = k["KeyArn"]
    cp.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": f"v{i}"} for i in range(5)] + [{"Key": "a", "Value": "2"}])
    tags = []
    for page in cp.get_paginator("list_tags_for_resource").paginate(ResourceArn=arn, PaginationConfig={"PageSize": 2}):
        assert len(page["Tags"]) <= 2
        tags += page["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"a": "2", **{f"k{i}": f"v{i}" for i in range(5)}}
    cp.untag_resource(ResourceArn=arn, TagKeys=["a", "k0", "nope"])
    left = {t["Key"] for t in cp.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert left == {"k1", "k2", "k3", "k4"}
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_tags_for_resource(ResourceArn="arn:aws:payment-cryptography:us-east-1:111122223333:key/doesnotexist0000")
    with pytest.raises(cp.exceptions.ValidationException):
        cp.tag_resource(ResourceArn=arn, Tags=[{"Key": "x" * 129, "Value": "v"}])
    with pytest.raises(cp.exceptions.ValidationException):
        cp.list_tags_for_resource(ResourceArn="arn:aws:payment-cryptography:us-east-1:111122223333:alias/" + "x" * 20)


def test_replication_to_own_region_refused(cp):
    # A paycrypt deployment has one region: replicating to it is meaningless (see
    # test_control_plane_more.py for the replication operations themselves).
    with pytest.raises(ClientError) as e:
        cp.create_key(
            KeyAttributes={"KeyUsage": D0, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": {"Encrypt": True, "Wrap": True}},
            Exportable=False,
            ReplicationRegions=["us-east-1"],
        )
    assert error_code(e) == "ValidationException" and "ReplicationRegions" in str(e.value)
