"""A node type written the way an operator would: one module, one registry call.

Loaded into a running app with ``WORKFUSE_NODE_MODULES=tests.support.sample_node``
(the browser tests' app and worker do so), and imported by the in-process tests
through the ``sample_node`` fixture. Nothing outside this module knows it exists.

"Sign text" signs a (templated) text with HMAC, keyed with a credential: it shows a
template field, a select, a credential picker and an advanced number field in the
generated form, and needs its credential at run time.
"""

from __future__ import annotations

import hmac
from typing import Literal

from pydantic import Field

from workfuse.nodes.base import (
    CredentialUse,
    NodeConfigModel,
    NodeExample,
    NodeOutputModel,
    NodeSpec,
)
from workfuse.nodes.execution import NodeContext
from workfuse.nodes.hints import ui
from workfuse.nodes.registry import REGISTRY


class SignTextConfig(NodeConfigModel):
    text: str = Field(
        min_length=1,
        max_length=10_000,
        description="What to sign; templates read earlier outputs.",
        json_schema_extra=ui(widget="multiline", template=True, rows=3),
    )
    algorithm: Literal["sha256", "sha512"] = "sha256"
    key_arn: str = Field(
        min_length=1,
        max_length=2048,
        json_schema_extra=ui(widget="credential", label="Signing key"),
    )
    rounds: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Sign the signature again this many times.",
        json_schema_extra=ui(unit="rounds", advanced=True),
    )


class SignTextOutput(NodeOutputModel):
    signature: str
    signed_length: int


async def execute(config: SignTextConfig, context: NodeContext) -> SignTextOutput:
    key = context.secret(config.key_arn).encode()
    message = config.text.encode()
    for _ in range(config.rounds):
        message = hmac.new(key, message, config.algorithm).hexdigest().encode()
    return SignTextOutput(signature=message.decode(), signed_length=len(config.text))


SPEC = REGISTRY.register(
    NodeSpec(
        type="sign_text",
        label="Sign text",
        icon="key-round",
        colour="#0891b2",
        category="data",
        description="Sign a text with HMAC using a key from your credentials.",
        docs="Signs `text` with HMAC-`algorithm` keyed with the credential `keyArn`; the "
        "output is `{signature, signedLength}` (hex). `rounds` signs the signature again. "
        "A sample node type that lives in the tests, loaded with WORKFUSE_NODE_MODULES.",
        config_model=SignTextConfig,
        output_model=SignTextOutput,
        execute=execute,
        template_fields=("text",),
        credentials=(CredentialUse("keyArn"),),
        default_config={"text": "{{ trigger.data }}", "algorithm": "sha256", "keyArn": ""},
        examples=(
            NodeExample(
                request="Sign the order id from the trigger with our signing key.",
                label="Sign order",
                config={"text": "{{ trigger.data.orderId }}", "keyArn": "credential:Signing key"},
            ),
            NodeExample(
                request="Sign the summary with sha512 using the Partner key.",
                label="Sign summary",
                config={
                    "text": "{{ nodes.summarise.response }}",
                    "algorithm": "sha512",
                    "keyArn": "credential:Partner key",
                },
            ),
        ),
    )
)
