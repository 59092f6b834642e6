"""PIN rules on the real binary through boto3 (issue 7, item 2): the `serve` options
`--decimalization-tables`, `--pin-try-limit` and `--pin-key-failure-limit`, the AWS error each
refusal gives, and the /metrics counters. (The full matrices run in-process in
crates/paycrypt-server/tests/key_use_matrix.rs and pin_rules.rs.)"""

import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import Server, client, error_code, make_key

PAN = "4111111111111111"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    s = Server(
        tmp_path_factory.mktemp("pin-rules"),
        extra_args=["--pin-try-limit", "2", "--pin-key-failure-limit", "0", "--decimalization-tables", "1234567890123456,0123456789012345"],
    )
    yield s
    assert s.stop() == 0


def _metric(server, name):
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
    raise AssertionError(name)


def test_registered_tables_and_try_limit(limited):
    cp = client(limited, "payment-cryptography")
    dp = client(limited, "payment-cryptography-data")
    pek = make_key(cp, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", "B")["KeyArn"]
    ibm = make_key(cp, "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_3KEY", "C")["KeyArn"]
    visa = make_key(cp, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", "C")["KeyArn"]

    def natural(table):
        return dp.generate_pin_data(
            GenerationKeyIdentifier=ibm,
            EncryptionKeyIdentifier=pek,
            GenerationAttributes={"Ibm3624NaturalPin": {"DecimalizationTable": table, "PinValidationDataPadCharacter": "F", "PinValidationData": "4111111111"}},
            PrimaryAccountNumber=PAN,
            PinBlockFormat="ISO_FORMAT_0",
        )

    natural("1234567890123456")
    natural("0123456789012345")
    # AWS's example table is in the default set, but this server registered its own set.
    for table in ["9876543210654321", "0123456780012345"]:
        with pytest.raises(ClientError) as e:
            natural(table)
        assert error_code(e) == "ValidationException"
        assert table not in str(e.value)

    out = dp.generate_pin_data(
        GenerationKeyIdentifier=visa,
        EncryptionKeyIdentifier=pek,
        GenerationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1}},
        PrimaryAccountNumber=PAN,
        PinBlockFormat="ISO_FORMAT_0",
    )
    block, pvv = out["EncryptedPinBlock"], out["PinData"]["VerificationValue"]
    wrong = "".join(str((int(c) + 1) % 10) for c in pvv)

    def verify(value):
        return dp.verify_pin_data(
            VerificationKeyIdentifier=visa,
            EncryptionKeyIdentifier=pek,
            VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": value}},
            EncryptedPinBlock=block,
            PrimaryAccountNumber=PAN,
            PinBlockFormat="ISO_FORMAT_0",
        )

    verify(pvv)
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            verify(wrong)
        assert error_code(e) == "VerificationFailedException"
    with pytest.raises(ClientError) as e:
        verify(pvv)
    assert error_code(e) == "AccessDeniedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert PAN not in str(e.value)
    assert _metric(limited, "paycrypt_pin_verification_failures_total") == 2
    assert _metric(limited, "paycrypt_pin_try_limit_refusals_total") == 1
    # Nothing in the audit log or the logs carries the PAN.
    assert PAN not in limited.audit_log.read_text()


def test_bad_registered_table_stops_startup(tmp_path):
    with pytest.raises(RuntimeError) as e:
        Server(tmp_path, extra_args=["--decimalization-tables", "0123456780012345"])
    assert "0123456780012345" not in str(e.value)
