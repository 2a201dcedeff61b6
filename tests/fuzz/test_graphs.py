"""Workflow graphs the fuzzer makes up: random node types from the registry (and a
few unknown ones), ids good and bad, edges including dangling ones, self-loops and
cycles, configs with valid-ish and random values, templates including broken ones.

- ``check_graph_data`` never raises; every problem it reports has a message.
- Over HTTP, saving (create, update, import) answers 201/200 or a 4xx in the error
  format (``WORKFLOW_INVALID``/``INVALID_INPUT`` with a message); a refusal writes
  nothing. Every graph that saves exports and imports back to an equal workflow
  (graph, name, description) when it is valid; a draft's export is refused on
  import, as documented, and writes nothing.
- A few valid generated graphs run on the engine and end COMPLETED, or FAILED with
  an error message; none is left running.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.engine.helpers import wait_for
from tests.fuzz.conftest import assert_error_format, snapshot
from workfuse.graph_validation import check_graph_data
from workfuse.models import ExecutionStatus
from workfuse.nodes.registry import REGISTRY
from workfuse.services.errors import InvalidInput, reject_unstorable_text

IDS = ["t", "a", "b", "c", "d"]
BAD_IDS = ["", " a", "a b", "-x", "x" * 129, "ä", "a/b"]
TEMPLATES = [
    "plain text",
    "{{ trigger.data.x }}",
    "{{ nodes.a.result }}",
    "{{ nodes.ghost.result }}",
    "{{ nodes.a.body.items }}",
    "{{ trigger.data | tojson }}",
    "{{ x | no_such_filter }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ",
    "{% for x in %}",
    "{% raw %}{{ unclosed",
    "{{ env.HOME }}",
    "{{ secrets.key }}",
    "}}{{",
]
CODE = [
    "trigger.data",
    "$sum(trigger.data.items)",
    "nodes.a.result & 'x'",
    "(",
    "$$$",
    "return 1",
    "throw new Error('boom')",
    "while(true){}",
    "JSON.parse('{')",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=8,
)
templates = st.sampled_from(TEMPLATES) | st.text(max_size=30)


def configs(node_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid-ish configs of ``node_type``, mixed with random dicts."""
    valid_ish: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "trigger": st.fixed_dictionaries(
            {},
            optional={
                "source": st.sampled_from(["webhook", "manual", "cron"]),
                "methods": st.lists(st.sampled_from(["GET", "POST", "HEAD"]), max_size=3),
                "syncTimeoutSeconds": st.integers(-1, 40),
                "samplePayload": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
                "idempotencyHeader": st.text(max_size=10),
            },
        ),
        "transform": st.fixed_dictionaries(
            {"code": st.sampled_from(CODE) | st.text(max_size=20)},
            optional={
                "language": st.sampled_from(["jsonata", "javascript", "python"]),
                "timeout": st.integers(-5, 100_000),
            },
        ),
        "http": st.fixed_dictionaries(
            {"url": templates | st.just("https://example.test/{{ trigger.data.id }}")},
            optional={
                "method": st.sampled_from(["GET", "POST", "BREW"]),
                "headers": st.dictionaries(st.text(max_size=8), templates, max_size=2),
                "body": json_values | templates,
            },
        ),
        "condition": st.fixed_dictionaries(
            {
                "conditions": st.lists(
                    st.fixed_dictionaries(
                        {
                            "field": templates,
                            "operator": st.sampled_from(["eq", "gt", "matches", "nope"]),
                            "value": json_values | st.sampled_from(["(", "[a-z]+", "{{ x }}"]),
                            "branch": st.sampled_from(["yes", "no", ""]),
                        }
                    ),
                    max_size=3,
                )
            },
            optional={"defaultBranch": st.sampled_from(["default", "no", ""])},
        ),
        "ai": st.fixed_dictionaries(
            {"model": st.text(max_size=10), "prompt": templates},
            optional={"temperature": st.floats(-1, 3), "systemPrompt": templates},
        ),
    }
    return valid_ish.get(node_type, st.just({})) | st.dictionaries(
        st.text(max_size=10), json_values, max_size=3
    )


def rarely(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``odd`` about one time in ten, else ``usual`` (so most graphs get past parsing)."""
    return st.integers(0, 9).flatmap(lambda roll: odd if roll == 0 else usual)


@st.composite
def nodes(draw: st.DrawFn) -> dict[str, Any]:
    node_type = draw(rarely(st.sampled_from(REGISTRY.types()), st.sampled_from(["teleport", ""])))
    data: dict[str, Any] = {
        "label": draw(
            rarely(st.text(min_size=1, max_size=20), st.sampled_from(["", " ", "x" * 201]))
        ),
        "config": draw(configs(node_type)),
    }
    if draw(st.integers(0, 3)) == 0:
        data["retryPolicy"] = draw(
            st.fixed_dictionaries(
                {}, optional={"maxAttempts": rarely(st.integers(1, 20), st.integers(-1, 30))}
            )
        )
    node = {
        "id": draw(rarely(st.sampled_from(IDS), st.sampled_from(BAD_IDS))),
        "type": node_type,
        "data": data,
    }
    if draw(st.booleans()):
        node["position"] = {"x": draw(st.floats(-1e6, 1e6)), "y": 0}
    return node


edges = st.fixed_dictionaries(
    {
        "id": rarely(st.sampled_from(["e1", "e2", "e3", "e4"]), st.just("")),
        "source": st.sampled_from([*IDS, "ghost"]),
        "target": st.sampled_from([*IDS, "ghost"]),
    },
    optional={"sourceHandle": st.sampled_from(["yes", "no", "default", "out"])},
)


@st.composite
def graphs(draw: st.DrawFn) -> Any:
    """Mostly graph-shaped data with a trigger first; sometimes anything at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    listed = draw(st.lists(nodes(), max_size=6))
    if draw(st.integers(0, 3)):
        trigger = {"id": "t", "type": "trigger", "data": {"label": "Start", "config": {}}}
        listed = [trigger, *listed]
    graph: dict[str, Any] = {"nodes": listed, "edges": draw(st.lists(edges, max_size=6))}
    if draw(st.integers(0, 9)) == 0:
        graph[draw(st.sampled_from(["edgse", "name", "id", "version"]))] = draw(json_values)
    return graph


# --- validation alone --------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=graphs(), name=st.text(max_size=10))
def test_check_graph_data_never_raises_and_explains(data: Any, name: str) -> None:
    if isinstance(data, dict):
        data = {"name": name, **data}

    graph, result = check_graph_data(data)

    assert graph is not None or result.errors, "unparsed data must say why"
    assert result.valid == (not result.errors)
    for issue in result.issues():
        assert issue.message.strip(), issue


# --- create, update, export, import over HTTP -----------------------------------------


def as_numbers(value: Any) -> Any:
    """``value`` with every number a float: PostgreSQL's JSONB keeps numbers as
    ``numeric``, so a float such as 4.9e16 reads back as the int 49000000000000000."""
    if isinstance(value, dict):
        return {key: as_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_numbers(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def saved_fields(client: httpx.Client, workflow_id: str) -> dict[str, Any]:
    """What import(export(w)) must keep: the stored graph, name and description."""
    response = client.get(f"/api/workflows/{workflow_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    return as_numbers(
        {
            "nodes": body["graph"]["nodes"],
            "edges": body["graph"]["edges"],
            "name": body["name"],
            "description": body["description"],
            "isActive": body["isActive"],
        }
    )


def refused(response: httpx.Response, before: dict[str, list[str]]) -> None:
    assert response.status_code in (400, 409, 413, 422), (response.status_code, response.text)
    assert_error_format(response)
    assert snapshot() == before, "a refused save wrote to the database"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    graph=graphs(),
    name=rarely(st.text(min_size=1, max_size=12), st.sampled_from(["", "\x00"])),
    description=st.none() | st.text(max_size=12),
)
def test_save_export_import_round_trip(
    ada: httpx.Client, graph: Any, name: str, description: str | None
) -> None:
    # Given a generated graph, name and description
    payload = {"name": name, "description": description, "graph": graph}

    # When it is created
    before = snapshot()
    created = ada.post("/api/workflows", json=payload)

    # Then it is saved (valid, or an inactive draft) or refused with nothing written
    if created.status_code != 201:
        event(f"create refused: {created.status_code}")
        refused(created, before)
        return
    workflow = created.json()
    event(f"saved {'valid' if workflow['validation']['valid'] else 'draft'}")
    assert workflow["isActive"] == workflow["validation"]["valid"]
    original = saved_fields(ada, workflow["id"])

    # And its export imports back as an equal workflow; a draft's is refused
    exported = ada.get(f"/api/workflows/{workflow['id']}/export")
    assert exported.status_code == 200, exported.text
    before = snapshot()
    imported = ada.post("/api/workflows/import", json=exported.json())
    if not workflow["validation"]["valid"]:
        refused(imported, before)
        assert imported.json()["error"]["code"] == "WORKFLOW_INVALID"
        return
    assert imported.status_code == 201, imported.text
    assert saved_fields(ada, imported.json()["id"]) == original

    # And updating it with another generated graph saves a new version or writes nothing
    before = snapshot()
    updated = ada.patch(f"/api/workflows/{workflow['id']}", json={"graph": graph, "name": name})
    if updated.status_code != 200:
        refused(updated, before)
    else:
        assert updated.json()["version"] == 2


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(graph=graphs(), active=st.none() | st.booleans())
def test_update_saves_a_version_or_writes_nothing(
    ada: httpx.Client, graph: Any, active: bool | None
) -> None:
    # Given a saved, valid workflow
    start = {"id": "t", "type": "trigger", "data": {"label": "Start", "config": {}}}
    created = ada.post("/api/workflows", json={"name": "Base", "graph": {"nodes": [start]}})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    before = snapshot()

    # When it is updated with a generated graph (and maybe the active switch)
    body: dict[str, Any] = {"graph": graph}
    if active is not None:
        body["isActive"] = active
    response = ada.patch(f"/api/workflows/{workflow_id}", json=body)

    # Then it is a new version that reads back as saved, or refused with nothing written
    if response.status_code != 200:
        event(f"update refused: {response.status_code}")
        refused(response, before)
        return
    saved = response.json()
    event(f"updated, {'valid' if saved['validation']['valid'] else 'draft'}")
    assert saved["version"] == 2
    assert saved["isActive"] == (saved["validation"]["valid"] and active is not False)
    assert saved_fields(ada, workflow_id)["nodes"] == as_numbers(saved["graph"]["nodes"])


def test_a_config_too_deep_to_serve_is_refused_on_every_save(ada: httpx.Client) -> None:
    """Found here: a config nested 300 levels deep was a 500 on create, update and
    import ("Maximum serialization depth exceeded")."""
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    start = {"id": "t", "type": "trigger", "data": {"label": "Start", "config": {}}}
    graph = {"nodes": [{**start, "data": {"label": "S", "config": {"samplePayload": deep}}}]}
    base = ada.post("/api/workflows", json={"name": "Base", "graph": {"nodes": [start]}})
    before = snapshot()

    responses = [
        ada.post("/api/workflows", json={"name": "Deep", "graph": graph}),
        ada.patch(f"/api/workflows/{base.json()['id']}", json={"graph": graph}),
        ada.post("/api/workflows/import", json={"name": "Deep", "graph": graph}),
    ]

    for response in responses:
        refused(response, before)
        assert "nested more than" in response.text


# --- the engine --------------------------------------------------------------------------


@st.composite
def runnable_graphs(draw: st.DrawFn) -> dict[str, Any]:
    """Valid graphs: a trigger, then a chain of transforms (random code, some failing)."""
    size = draw(st.integers(1, 4))
    listed: list[dict[str, Any]] = [
        {"id": "t", "type": "trigger", "data": {"label": "Start", "config": {"source": "manual"}}}
    ]
    for index in range(size):
        language = draw(st.sampled_from(["jsonata", "javascript"]))
        code = draw(st.sampled_from([c for c in CODE if c not in ("(", "$$$")]))
        listed.append(
            {
                "id": f"n{index}",
                "type": "transform",
                "data": {
                    "label": f"n{index}",
                    "config": {"language": language, "code": code, "timeout": 300},
                },
            }
        )
    chain = [node["id"] for node in listed]
    links = [{"id": f"e{i}", "source": a, "target": b} for i, (a, b) in enumerate(pairwise(chain))]
    return {"nodes": listed, "edges": links}


def _storable(value: Any) -> bool:
    """No NUL and no lone surrogate anywhere (keys included)."""
    try:
        reject_unstorable_text(value, "the payload")
    except InvalidInput:
        return False
    return True


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(graph=runnable_graphs(), payload=json_values)
def test_valid_graphs_run_to_an_end(
    ada: httpx.Client, engine: str, graph: dict[str, Any], payload: Any
) -> None:
    # Given a valid generated workflow (its transforms may fail at run time)
    created = ada.post("/api/workflows", json={"name": "Run", "graph": graph})
    assert created.status_code == 201, created.text
    if not created.json()["validation"]["valid"]:  # JavaScript that does not compile
        event("not runnable")
        return

    # When it is run with a generated payload
    started = ada.post(f"/api/workflows/{created.json()['id']}/run", json={"payload": payload})

    # Then text PostgreSQL cannot store is refused (on both databases) and nothing runs
    if not _storable(payload):
        assert started.status_code == 422, started.text
        assert "NUL character" in started.json()["error"]["message"]
        event("payload refused")
        return
    # Else it ends COMPLETED, or FAILED with a message; it is never left running
    assert started.status_code == 202, started.text
    execution, _ = wait_for(started.json()["executionId"], timeout=20)
    assert execution.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)
    event(f"run {execution.status}")
    if execution.status is ExecutionStatus.FAILED:
        assert execution.error and execution.error.strip()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
