"""Every operation of the OpenAPI document, fuzzed by schemathesis as a signed-in user.

For each generated request (valid and invalid bodies, parameters and query strings;
path ids half the time replaced by ids of real resources of the user):

- never a 500, and the response matches the documented status, type and schema;
- every refusal (4xx) uses the one error format, with a message;
- a refused request writes nothing: every table is as it was (see ``snapshot``).

Excluded operations: none. Not covered: the HTML form routes under
``/api/auth/form`` (not in the document: ``include_in_schema=False``), and
schemathesis' coverage and stateful phases (time: the fuzzing phase alone keeps the
suite within its budget). The AI routes run with no provider configured.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import checks
from sqlmodel import Session

from tests.engine.helpers import edge, jsonata, node
from tests.fuzz.conftest import assert_error_format, snapshot
from workfuse.api.app import create_api
from workfuse.models import User
from workfuse.ratelimit import _limiter_for
from workfuse.secrets import process_secret_store
from workfuse.services.api_tokens import create_api_token
from workfuse.services.executions import run_workflow
from workfuse.services.secrets import create_secret
from workfuse.services.workflows import WorkflowCreate, create_workflow

EXAMPLES = 12  #: generated requests per operation and database

CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
            "fuzzing": {"enabled": True},
        },
        "generation": {"mode": "all"},
    }
)


@dataclass
class Resources:
    """The signed-in user's API token and real ids for path parameters."""

    bearer: str
    ids: dict[str, str]


@pytest.fixture
def resources(session: Session, user: User) -> Resources:
    """Ada's API token, a valid and a draft workflow, an execution, a credential and a
    spare API token (its id is the one the fuzzer may revoke). Made through the
    services: signing up over HTTP would hash a password for every operation."""
    _, bearer = create_api_token(session=session, user=user, name="fuzz")
    spare, _ = create_api_token(session=session, user=user, name="spare")
    graph = {
        "nodes": [node("start", "trigger", {}), jsonata("shape", "trigger.data")],
        "edges": [edge("start", "shape")],
    }
    valid = create_workflow(
        session=session, user=user, data=WorkflowCreate(name="valid", graph=graph)
    )
    create_workflow(session=session, user=user, data=WorkflowCreate(name="draft"))
    session.commit()
    execution = run_workflow(session=session, user=user, workflow_id=valid.id, payload={"a": 1})
    secret = create_secret(
        session=session, store=process_secret_store(), user_id=user.id, name="key", value="s3"
    )
    session.commit()
    return Resources(
        bearer=bearer,
        ids={
            "workflow_id": valid.id,
            "execution_id": execution.id,
            "secret_id": secret.id,
            "token_id": spare.id,
            "token": valid.webhook_token,
        },
    )


#: The document the server publishes at /api/openapi.json (built here, so each
#: operation is a test of its own; requests go to the test server).
schema = schemathesis.openapi.from_dict(create_api().openapi(), config=CONFIG)


@schema.parametrize()
@schema.given(real_ids=st.booleans())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_operation(
    case: schemathesis.Case, real_ids: bool, api_url: str, resources: Resources
) -> None:
    _limiter_for.cache_clear()  # the fuzzer would hit the rate limits, not the code
    if real_ids and case.path_parameters:
        for name in case.path_parameters:
            case.path_parameters[name] = resources.ids[name]
    before = snapshot()

    response = case.call(base_url=api_url, headers={"Authorization": f"Bearer {resources.bearer}"})

    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        assert_error_format(response)
        assert snapshot() == before, f"a refused {case.method} {case.path} wrote to the database"


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
