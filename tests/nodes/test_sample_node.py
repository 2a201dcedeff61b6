"""The proof that a node type is one module and one registry line.

``tests/support/sample_node.py`` ("Sign text") is written the way an operator writes a
node type: a config model with UI hints, an output model, ``execute``, and one
``REGISTRY.register(...)``. Nothing else in WorkFuse names it, yet it validates, gets
its credential at run time and runs in the engine (embedded SQLite and PostgreSQL +
Redis), is offered to magic input, and is listed by ``workfuse nodes``. The editor
side (palette, generated form, a run from the browser) is in ``tests/ui``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session

from tests.engine.helpers import edge, make_workflow, node, wait_for
from workfuse.ai.magic_input import MagicContext, MagicInputRequest, check_proposal, system_prompt
from workfuse.graph import IssueCode
from workfuse.graph_validation import check_graph_data
from workfuse.models import ExecutionStatus, NodeRunStatus, User
from workfuse.nodes.base import NodeSpec
from workfuse.nodes.reference import describe, markdown
from workfuse.nodes.registry import REGISTRY
from workfuse.secrets import process_secret_store
from workfuse.services import secrets as secret_service
from workfuse.services.executions import start_execution

ROOT = Path(__file__).resolve().parents[2]
KEY = "sample-key-4f1c9a"


def graph(config: dict[str, object]) -> dict[str, object]:
    return {
        "name": "signed",
        "nodes": [node("start", "trigger", {}), node("sign", "sign_text", config)],
        "edges": [edge("start", "sign")],
    }


def test_it_is_registered_by_its_own_module(sample_node: NodeSpec) -> None:
    # Given the module was imported (as WORKFUSE_NODE_MODULES does)
    # Then the registry has it, after the built-in types, with what it declared
    assert REGISTRY.types()[-1] == "sign_text"
    assert REGISTRY.get("sign_text") is sample_node
    assert sample_node.category == "data" and not sample_node.side_effects


def test_it_validates_its_config_templates_and_credential_field(sample_node: NodeSpec) -> None:
    # Given a workflow using it correctly
    _, valid = check_graph_data(graph({"text": "{{ trigger.data.msg }}", "keyArn": "k1"}))
    assert valid.valid, valid.errors

    # When its credential is missing and a number is out of range
    _, result = check_graph_data(graph({"text": "hello", "keyArn": "", "rounds": 9}))

    # Then each problem is reported on its field
    by_field = {issue.field: issue for issue in result.errors}
    assert set(by_field) == {"config.keyArn", "config.rounds"}
    assert all(issue.code is IssueCode.INVALID_CONFIG for issue in result.errors)

    # and a template field (declared in template_fields) is checked like a built-in's
    _, result = check_graph_data(graph({"text": "{{ nodes.nowhere.x }}", "keyArn": "k1"}))
    (problem,) = result.errors
    assert problem.code is IssueCode.INVALID_TEMPLATE and problem.field == "config.text"
    assert "nowhere" in problem.message


def test_it_gets_its_credential_at_run_time(
    sample_node: NodeSpec, engine: str, session: Session, user: User
) -> None:
    # Given a credential and a workflow whose sign node names it by reference
    reference = secret_service.create_secret(
        session=session, store=process_secret_store(), user_id=user.id, name="key", value=KEY
    )
    workflow = make_workflow(
        session,
        user,
        graph({"text": "{{ trigger.data.msg }}", "keyArn": reference.arn})["nodes"],  # type: ignore[arg-type]
        [edge("start", "sign")],
    )

    # When it runs (embedded on SQLite, Redis workers on PostgreSQL)
    trigger = {"source": "manual", "data": {"msg": "order A-1"}, "headers": {}}
    execution_id = start_execution(session=session, workflow=workflow, trigger=trigger).id
    execution, runs = wait_for(execution_id)

    # Then the engine fetched the credential its spec declares (no per-type table),
    # and the node signed with it
    assert execution.status is ExecutionStatus.COMPLETED, execution.error
    assert runs["sign"].status is NodeRunStatus.SUCCEEDED
    expected = hmac.new(KEY.encode(), b"order A-1", hashlib.sha256).hexdigest()
    assert runs["sign"].output == {"signature": expected, "signedLength": 9}
    assert KEY not in json.dumps(runs["sign"].output)


def test_magic_input_is_offered_it_with_its_examples(sample_node: NodeSpec) -> None:
    # Given magic input asked for a node of the new type
    request = MagicInputRequest(prompt="sign it", node_type="sign_text")

    # When the system prompt is built
    prompt = system_prompt(request.node_type, ["Signing key"])

    # Then it describes the type, its schema and its examples
    assert "Sign text" in prompt and '"keyArn"' in prompt
    for example in sample_node.examples:
        assert example.request in prompt
        # and each example is a proposal magic input would accept
        config = json.loads(json.dumps(example.config).replace("credential:", "arn:x:"))
        context = MagicContext.model_validate({"upstream": [{"id": "summarise", "type": "ai"}]})
        assert check_proposal("sign_text", example.label, config, context) == []


def test_the_reference_and_the_cli_describe_it(sample_node: NodeSpec) -> None:
    # Given the generated reference
    page = markdown(REGISTRY.specs())
    assert '<a id="sign_text"></a>' in page and "`keyArn`" in page
    assert describe(sample_node)["credentials"] == [
        {"path": "keyArn", "credentialType": "any", "atRun": True}
    ]

    # When the command line loads the module the way an operator configures it
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "workfuse"), "nodes", "show", "sign_text", "--json"],
        env={
            **os.environ,
            "WORKFUSE_NODE_MODULES": "tests.support.sample_node",
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it lists the type with its schema and examples
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    assert described["type"] == "sign_text"
    assert set(described["configSchema"]["properties"]) == {"text", "algorithm", "keyArn", "rounds"}
    assert len(described["examples"]) == 2
