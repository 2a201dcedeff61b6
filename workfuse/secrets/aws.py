"""AWS Secrets Manager as the secret store (production), through boto3.

Values are AWS ``SecretString``s; WorkFuse keeps only the ARN. Rotation puts a new
version labelled ``AWSCURRENT`` (AWS keeps the previous one as ``AWSPREVIOUS`` until the
next rotation, as its own rotation does); deletion is immediate
(``ForceDeleteWithoutRecovery``). Credentials come from the settings or, when those are
unset, boto3's default chain (instance or task IAM role, ``AWS_*`` variables).

botocore logs request and response bodies at DEBUG (they carry the secret string);
creating a store drops DEBUG records of the loggers that do so, whatever the log level.

Limits: AWS reports success for a forced delete of an unknown secret, so
``delete_secret`` cannot raise :class:`SecretNotFound`; a value stored outside WorkFuse
as ``SecretBinary`` is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from workfuse.db_types import utcnow
from workfuse.secrets.base import (
    SecretNotFound,
    SecretReference,
    SecretStoreError,
    encode_value,
)
from workfuse.settings import Settings, SettingsError, get_settings

#: botocore loggers whose DEBUG records include request or response bodies.
WIRE_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.awsrequest")
MAX_ERROR_MESSAGE = 300  #: characters of an AWS error message kept in ours
_MASK = "[REDACTED]"


class _DropDebugRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def quiet_wire_logs() -> None:
    """Drop DEBUG records of :data:`WIRE_LOGGERS` (idempotent)."""
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropDebugRecords) for f in logger.filters):
            logger.addFilter(_DropDebugRecords())


def _masked(text: str, value: str | None) -> str:
    if value:
        text = text.replace(value, _MASK)
    return text[:MAX_ERROR_MESSAGE]


class AwsSecretStore:
    """A :class:`~workfuse.secrets.base.SecretStore` on AWS Secrets Manager.

    Parameters:
        client: a boto3 ``secretsmanager`` client (thread-safe; build one per process
            with :meth:`from_settings`).
    """

    def __init__(self, client: Any) -> None:
        quiet_wire_logs()
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AwsSecretStore:
        """A store with a client for ``WORKFUSE_AWS_*`` (region, endpoint, keys)."""
        import boto3

        settings = settings or get_settings()
        options: dict[str, Any] = {}
        if settings.aws_region:
            options["region_name"] = settings.aws_region
        if settings.aws_endpoint_url:
            options["endpoint_url"] = settings.aws_endpoint_url
        key_id, secret_key = settings.aws_access_key_id, settings.aws_secret_access_key
        if (key_id is None) != (secret_key is None):
            raise SettingsError(
                "set both WORKFUSE_AWS_ACCESS_KEY_ID and WORKFUSE_AWS_SECRET_ACCESS_KEY, "
                "or neither (to use the default AWS credential chain)"
            )
        if key_id is not None and secret_key is not None:
            options["aws_access_key_id"] = key_id.get_secret_value()
            options["aws_secret_access_key"] = secret_key.get_secret_value()
        try:
            client = boto3.session.Session().client("secretsmanager", **options)
        except BotoCoreError as error:
            raise SettingsError(
                f"AWS Secrets Manager client: {error} (set WORKFUSE_AWS_REGION?)"
            ) from None
        return cls(client)

    def __repr__(self) -> str:
        return f"AwsSecretStore(region={self._client.meta.region_name!r})"

    # --- the SecretStore operations -------------------------------------------------

    def create_secret(
        self,
        name: str,
        value: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SecretReference:
        encode_value(value, repr(name))
        params: dict[str, Any] = {"Name": name, "SecretString": value}
        if description is not None:
            params["Description"] = description
        if tags:
            params["Tags"] = [{"Key": key, "Value": tag} for key, tag in tags.items()]
        response = self._call("create_secret", repr(name), value, params)
        return SecretReference(
            arn=response["ARN"],
            name=response["Name"],
            created_at=utcnow(),
            version_id=response.get("VersionId"),
        )

    def get_secret_value(self, arn: str) -> str:
        response = self._call("get_secret_value", arn, None, {"SecretId": arn})
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise SecretStoreError(f"secret {arn} holds binary data, not a text value")
        return value

    def delete_secret(self, arn: str) -> None:
        params = {"SecretId": arn, "ForceDeleteWithoutRecovery": True}
        self._call("delete_secret", arn, None, params)

    def rotate_secret(self, arn: str, new_value: str) -> SecretReference:
        """Put ``new_value`` as a new version and move ``AWSCURRENT`` to it."""
        encode_value(new_value, arn)
        params = {"SecretId": arn, "SecretString": new_value, "VersionStages": ["AWSCURRENT"]}
        response = self._call("put_secret_value", arn, new_value, params)
        described = self._call("describe_secret", arn, None, {"SecretId": arn})
        created = described.get("CreatedDate")
        return SecretReference(
            arn=response["ARN"],
            name=response["Name"],
            created_at=created.astimezone(UTC) if isinstance(created, datetime) else utcnow(),
            version_id=response.get("VersionId"),
        )

    # --- errors ---------------------------------------------------------------------

    def _call(
        self, operation: str, target: str, value: str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Call the client; its errors become store errors that never hold ``value``."""
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code", "Unknown"))
            if code == "ResourceNotFoundException":
                raise SecretNotFound(f"no secret {target} in AWS Secrets Manager") from None
            message = _masked(str(details.get("Message", "")), value)
            raise SecretStoreError(
                f"AWS Secrets Manager {operation} failed for {target}: {code}: {message}"
            ) from None
        except ParamValidationError:
            # Its text quotes the offending parameter, which may be the value.
            raise SecretStoreError(
                f"AWS Secrets Manager {operation} for {target}: invalid parameters"
            ) from None
        except BotoCoreError as error:
            raise SecretStoreError(
                f"AWS Secrets Manager {operation} failed for {target}: "
                f"{type(error).__name__}: {_masked(str(error), value)}"
            ) from None
        return response
