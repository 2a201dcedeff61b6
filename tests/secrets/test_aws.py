"""The AWS Secrets Manager store against moto's server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from workfuse.secrets import (
    AwsSecretStore,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    get_secret_store,
)
from workfuse.settings import Settings, SettingsError

REGION = "eu-west-1"
CANARY = "canary-aws-5d1c8e0f-value"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _settings(endpoint: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_store": "aws",
        "aws_region": REGION,
        "aws_endpoint_url": endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def store(endpoint: str) -> AwsSecretStore:
    return AwsSecretStore.from_settings(_settings(endpoint))


@pytest.fixture
def client(endpoint: str) -> Any:
    """A plain boto3 client, to look at what the store did."""
    return boto3.session.Session().client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _name() -> str:
    return f"workfuse/test/{uuid.uuid4().hex}"


def test_get_secret_store_chooses_aws_by_setting(endpoint: str) -> None:
    # Given: settings that choose the AWS store
    # When: the store is built
    store = get_secret_store(_settings(endpoint))

    # Then: it is the AWS store and satisfies the protocol
    assert isinstance(store, AwsSecretStore)
    assert isinstance(store, SecretStore)
    assert REGION in repr(store)


def test_create_passes_description_and_tags_and_get_returns_the_value(
    store: AwsSecretStore, client: Any
) -> None:
    # Given: a name, value, description and tags
    name = _name()

    # When: the secret is created
    reference = store.create_secret(
        name, "sk-live-1234", description="OpenAI key", tags={"workfuse:user": "u1"}
    )

    # Then: AWS has it with description and tags, and the value comes back
    assert reference.arn.startswith(f"arn:aws:secretsmanager:{REGION}:")
    assert reference.name == name
    assert reference.version_id
    described = client.describe_secret(SecretId=reference.arn)
    assert described["Description"] == "OpenAI key"
    assert described["Tags"] == [{"Key": "workfuse:user", "Value": "u1"}]
    assert store.get_secret_value(reference.arn) == "sk-live-1234"


def test_rotate_puts_a_new_current_version(store: AwsSecretStore, client: Any) -> None:
    # Given: a stored secret
    reference = store.create_secret(_name(), "first-value")

    # When: it is rotated
    rotated = store.rotate_secret(reference.arn, "second-value")

    # Then: a new version is AWSCURRENT, and get returns the new value only
    assert rotated.arn == reference.arn
    assert rotated.version_id and rotated.version_id != reference.version_id
    versions = client.list_secret_version_ids(SecretId=reference.arn)["Versions"]
    stages = {v["VersionId"]: v["VersionStages"] for v in versions}
    assert "AWSCURRENT" in stages[rotated.version_id]
    assert "AWSCURRENT" not in stages[reference.version_id]
    assert store.get_secret_value(reference.arn) == "second-value"
    assert rotated.created_at.tzinfo is not None


def test_delete_is_immediate(store: AwsSecretStore, client: Any) -> None:
    # Given: a stored secret
    reference = store.create_secret(_name(), "doomed-value")

    # When: it is deleted
    store.delete_secret(reference.arn)

    # Then: it is gone at once, not scheduled for deletion
    with pytest.raises(SecretNotFound):
        store.get_secret_value(reference.arn)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.describe_secret(SecretId=reference.arn)


def test_unknown_arn_is_not_found(store: AwsSecretStore) -> None:
    # Given: an ARN that was never created
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nothing-AbCdEf"

    # When / Then: get and rotate report SecretNotFound
    with pytest.raises(SecretNotFound):
        store.get_secret_value(arn)
    with pytest.raises(SecretNotFound):
        store.rotate_secret(arn, "any-value")


def test_a_duplicate_name_is_a_store_error_with_the_aws_code(store: AwsSecretStore) -> None:
    # Given: an existing secret
    name = _name()
    store.create_secret(name, "first-value")

    # When / Then: a second secret of that name fails with AWS's code, without the value
    with pytest.raises(SecretStoreError, match="ResourceExistsException") as raised:
        store.create_secret(name, CANARY)
    assert not isinstance(raised.value, SecretNotFound)
    assert CANARY not in str(raised.value)


def test_an_aws_message_that_echoes_the_value_is_masked(client: Any) -> None:
    # Given: AWS answering a rotation with an error that quotes the value
    store = AwsSecretStore(client)
    stubber = Stubber(client)
    stubber.add_client_error(
        "put_secret_value",
        service_error_code="InternalServiceError",
        service_message=f"could not store {CANARY}",
    )

    # When: the value is rotated
    with stubber, pytest.raises(SecretStoreError) as raised:
        store.rotate_secret("arn:aws:secretsmanager:x", CANARY)

    # Then: the error has the code and the masked message, and no cause with the value
    assert "InternalServiceError" in str(raised.value)
    assert "[REDACTED]" in str(raised.value)
    assert CANARY not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_binary_secrets_are_refused(store: AwsSecretStore, client: Any) -> None:
    # Given: a secret created outside WorkFuse with SecretBinary
    arn = client.create_secret(Name=_name(), SecretBinary=b"\x00\x01")["ARN"]

    # When / Then: reading it is a store error
    with pytest.raises(SecretStoreError, match="binary"):
        store.get_secret_value(arn)


def test_an_unreachable_endpoint_is_a_store_error() -> None:
    # Given: a client for a port where nothing listens, with no retries
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = boto3.session.Session().client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2),
    )

    # When / Then: creating a secret is a store error that does not quote the value
    with pytest.raises(SecretStoreError, match="EndpointConnectionError") as raised:
        AwsSecretStore(client).create_secret("x", CANARY)
    assert CANARY not in str(raised.value)


def test_half_configured_credentials_are_refused(endpoint: str) -> None:
    # Given / When / Then: an access key id without its secret key is a settings error
    with pytest.raises(SettingsError, match="WORKFUSE_AWS_SECRET_ACCESS_KEY"):
        AwsSecretStore.from_settings(_settings(endpoint, aws_secret_access_key=None))


def test_canary_value_never_reaches_logs_or_errors(
    store: AwsSecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: everything logged at DEBUG, botocore's wire logs included
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []

    # When: the canary goes through every operation, and a failing one
    reference = store.create_secret(_name(), CANARY, description="canary test")
    assert store.get_secret_value(reference.arn) == CANARY
    store.rotate_secret(reference.arn, CANARY + "-rotated")
    assert store.get_secret_value(reference.arn) == CANARY + "-rotated"
    try:
        store.create_secret(reference.name, CANARY)
    except SecretStoreError as error:
        errors.append(str(error))
    store.delete_secret(reference.arn)
    try:
        store.get_secret_value(reference.arn)
    except SecretNotFound as error:
        errors.append(str(error))

    # Then: botocore did log at DEBUG (without the store's filter its request and response
    # bodies would carry the value), yet no record and no error holds the value
    assert any(r.name.startswith("botocore") and r.levelno == logging.DEBUG for r in caplog.records)
    assert len(errors) == 2
    for text in [*errors, *(r.getMessage() for r in caplog.records)]:
        assert CANARY not in text
    assert CANARY not in caplog.text
