"""The execution procedures over HTTP, with running workers (embedded and Redis)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.api.test_workflow_routes import GRAPH
from tests.engine.helpers import edge, jsonata, node
from tests.support.local_server import Request, Response, serve

WAIT_S = 30.0  #: seconds an execution may take in these tests
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}

pytestmark = pytest.mark.usefixtures("engine")


def trigger() -> dict[str, Any]:
    return node("start", "trigger", {"source": "manual"})


def branching_graph() -> dict[str, Any]:
    """start -> double -> check -> (big | small): ``small`` fails."""
    return {
        "nodes": [
            trigger(),
            jsonata("double", "trigger.data.n * 2"),
            node(
                "check",
                "condition",
                {
                    "conditions": [
                        {
                            "field": "{{ nodes.double.result }}",
                            "operator": "gt",
                            "value": "5",
                            "branch": "big",
                        }
                    ],
                    "defaultBranch": "small",
                },
            ),
            jsonata("big", "'big: ' & $string(nodes.double.result)"),
            node(
                "small",
                "transform",
                {"language": "javascript", "code": "throw new Error('too small')"},
            ),
        ],
        "edges": [
            edge("start", "double"),
            edge("double", "check"),
            edge("check", "big", "big"),
            edge("check", "small", "small"),
        ],
    }


def create_workflow(client: httpx.Client, graph: dict[str, Any], name: str = "Flow") -> str:
    response = client.post("/api/workflows", json={"name": name, "graph": graph})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def run(client: httpx.Client, workflow_id: str, payload: Any = None) -> str:
    response = client.post(f"/api/workflows/{workflow_id}/run", json={"payload": payload})
    assert response.status_code == 202, response.text
    return str(response.json()["executionId"])


def wait_for(client: httpx.Client, execution_id: str, statuses: set[str] = TERMINAL) -> Any:
    """Poll the detail route until the execution's status is one of ``statuses``."""
    deadline = time.monotonic() + WAIT_S
    while True:
        response = client.get(f"/api/executions/{execution_id}")
        assert response.status_code == 200, response.text
        detail = response.json()
        if detail["status"] in statuses:
            return detail
        assert time.monotonic() < deadline, f"execution still {detail['status']}"
        time.sleep(0.02)


def by_node(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["nodeId"]: run for run in detail["nodes"]}


# --- run and detail -----------------------------------------------------------------------


def test_run_then_detail_shows_nodes_outputs_and_logs(ada: httpx.Client) -> None:
    # Given: a branching workflow
    workflow_id = create_workflow(ada, branching_graph())

    # When: it is run with a payload that takes the "big" branch
    execution_id = run(ada, workflow_id, {"n": 4})
    detail = wait_for(ada, execution_id)

    # Then: the detail has the execution's fields, every node's result and the log
    assert detail["status"] == "COMPLETED", detail
    assert detail["id"] == execution_id
    assert detail["workflowId"] == workflow_id
    assert detail["workflowVersion"] == 1
    assert detail["retryOfId"] is None
    assert detail["triggerData"]["data"] == {"n": 4}
    assert detail["completedAt"] is not None and detail["duration"] >= 0
    nodes = by_node(detail)
    assert {node_id: run["status"] for node_id, run in nodes.items()} == {
        "start": "SUCCEEDED",
        "double": "SUCCEEDED",
        "check": "SUCCEEDED",
        "big": "SUCCEEDED",
        "small": "SKIPPED",
    }
    assert nodes["double"]["output"] == {"result": 8, "logs": []}
    assert nodes["check"]["output"]["branch"] == "big"
    assert nodes["big"]["output"]["result"] == "big: 8"
    assert nodes["big"]["attempt"] == 1 and nodes["big"]["error"] is None
    assert nodes["big"]["startedAt"] and nodes["big"]["finishedAt"]
    assert nodes["big"]["duration"] >= 0
    assert nodes["double"]["input"]["code"] == "trigger.data.n * 2"
    logged = {(line["nodeId"], line["level"]) for line in detail["logs"]}
    assert {("double", "INFO"), ("big", "INFO")} <= logged
    assert all(line["message"] and line["timestamp"] for line in detail["logs"])


def test_failed_node_shows_its_error(ada: httpx.Client) -> None:
    # Given: the branching workflow
    workflow_id = create_workflow(ada, branching_graph())

    # When: it is run with a payload that takes the failing branch
    detail = wait_for(ada, run(ada, workflow_id, {"n": 1}))

    # Then: FAILED, with the node's error and an ERROR log line
    assert detail["status"] == "FAILED"
    assert "too small" in detail["error"]
    small = by_node(detail)["small"]
    assert small["status"] == "FAILED"
    assert small["error"]["code"] == "TRANSFORM_ERROR"
    assert small["error"]["retryable"] is False
    assert ("small", "ERROR") in {(line["nodeId"], line["level"]) for line in detail["logs"]}


def test_inactive_workflow_runs_by_hand_and_invalid_one_is_422(ada: httpx.Client) -> None:
    # Given: a valid workflow switched off, and a draft with a validation error
    inactive = create_workflow(ada, branching_graph())
    assert ada.patch(f"/api/workflows/{inactive}", json={"isActive": False}).status_code == 200
    broken_graph = {"nodes": [trigger(), node("x", "teleport", {})], "edges": []}
    broken = create_workflow(ada, broken_graph, name="Broken")

    # When: each is run by hand (the second through the path alias)
    accepted = ada.post(f"/api/workflows/{inactive}/run", json={"payload": {"n": 9}})
    refused = ada.post(f"/api/workflows/{broken}/executions", json={"payload": {}})

    # Then: the inactive one runs; the invalid one is refused with its problems
    assert accepted.status_code == 202, accepted.text
    assert wait_for(ada, accepted.json()["executionId"])["status"] == "COMPLETED"
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "WORKFLOW_INVALID"
    assert any(d["code"] == "UNKNOWN_NODE_TYPE" for d in refused.json()["error"]["details"])
    assert ada.get("/api/executions", params={"workflowId": broken}).json()["items"] == []


# --- list ---------------------------------------------------------------------------------


def test_list_filters_and_paginates_without_gaps(ada: httpx.Client) -> None:
    # Given: five completed executions of one workflow and two failed ones of another
    good = create_workflow(ada, branching_graph(), name="Good")
    bad = create_workflow(ada, branching_graph(), name="Bad")
    good_ids = [run(ada, good, {"n": 10 + index}) for index in range(5)]
    bad_ids = [run(ada, bad, {"n": 0}) for _ in range(2)]
    details = [wait_for(ada, execution_id) for execution_id in good_ids + bad_ids]
    newest_first = sorted(details, key=lambda d: (d["startedAt"], d["id"]), reverse=True)

    # When: all of them are listed two per page
    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ada.get("/api/executions", params=params)
        assert page.status_code == 200, page.text
        pages.append([item["id"] for item in page.json()["items"]])
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break

    # Then: four pages, newest first, each execution exactly once
    assert [len(ids) for ids in pages] == [2, 2, 2, 1]
    assert [i for ids in pages for i in ids] == [d["id"] for d in newest_first]

    # When / Then: filters by status and by workflow
    failed = ada.get("/api/executions", params={"status": "FAILED"}).json()
    assert {item["id"] for item in failed["items"]} == set(bad_ids)
    assert all(item["status"] == "FAILED" for item in failed["items"])
    of_good = ada.get("/api/executions", params={"workflowId": good}).json()
    assert [item["id"] for item in of_good["items"]] == [
        d["id"] for d in newest_first if d["workflowId"] == good
    ]
    assert of_good["nextCursor"] is None
    both = ada.get("/api/executions", params={"workflowId": bad, "status": "COMPLETED"})
    assert both.json()["items"] == []

    # When / Then: a time window, after inclusive and before exclusive
    oldest_first = newest_first[::-1]
    middle = oldest_first[2]["startedAt"]
    after = ada.get("/api/executions", params={"startedAfter": middle, "limit": 200}).json()
    before = ada.get("/api/executions", params={"startedBefore": middle}).json()
    assert {item["id"] for item in after["items"]} == {d["id"] for d in oldest_first[2:]}
    assert {item["id"] for item in before["items"]} == {d["id"] for d in oldest_first[:2]}
    window = ada.get(
        "/api/executions",
        params={"startedAfter": middle, "startedBefore": oldest_first[4]["startedAt"]},
    ).json()
    assert [item["id"] for item in window["items"]] == [
        oldest_first[3]["id"],
        oldest_first[2]["id"],
    ]


def test_list_refuses_bad_parameters(ada: httpx.Client) -> None:
    # Given: a signed-in user
    # When: the list is asked for with an impossible limit, status, time or cursor
    responses = [
        ada.get("/api/executions", params={"limit": 0}),
        ada.get("/api/executions", params={"limit": 201}),
        ada.get("/api/executions", params={"status": "DONE"}),
        ada.get("/api/executions", params={"startedAfter": "yesterday"}),
        ada.get("/api/executions", params={"cursor": "not-a-cursor"}),
    ]

    # Then: 422 each time, in the one error format
    for response in responses:
        assert response.status_code == 422, response.request.url
        assert response.json()["error"]["code"] == "INVALID_INPUT"


# --- cancel and retry ---------------------------------------------------------------------


@pytest.mark.usefixtures("allow_loopback")
def test_cancel_during_retry_wait_then_cancel_again_is_409(ada: httpx.Client) -> None:
    # Given: an execution waiting a minute to retry a refused connection
    graph = {
        "nodes": [
            trigger(),
            node(
                "call",
                "http",
                {"method": "GET", "url": "http://127.0.0.1:1/nothing"},
                retryPolicy={"maxAttempts": 3, "initialDelayMs": 60_000, "backoffMultiplier": 2},
            ),
        ],
        "edges": [edge("start", "call")],
    }
    execution_id = run(ada, create_workflow(ada, graph))
    wait_for(ada, execution_id, {"RETRYING"})

    # When: it is cancelled, then cancelled again
    cancelled = ada.post(f"/api/executions/{execution_id}/cancel")
    again = ada.post(f"/api/executions/{execution_id}/cancel")

    # Then: the first answers the cancelled execution, the second 409
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["completedAt"] is not None
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"
    assert ada.get(f"/api/executions/{execution_id}").json()["status"] == "CANCELLED"


def test_cancel_of_a_completed_execution_is_409(ada: httpx.Client) -> None:
    # Given: a completed execution
    execution_id = run(ada, create_workflow(ada, branching_graph()), {"n": 4})
    assert wait_for(ada, execution_id)["status"] == "COMPLETED"

    # When: it is cancelled
    response = ada.post(f"/api/executions/{execution_id}/cancel")

    # Then: 409, and it stays completed
    assert response.status_code == 409
    assert "already ended" in response.json()["error"]["message"]
    assert ada.get(f"/api/executions/{execution_id}").json()["status"] == "COMPLETED"


@pytest.mark.usefixtures("allow_loopback")
def test_retry_from_failed_node_reuses_completed_outputs(ada: httpx.Client) -> None:
    # Given: a workflow whose HTTP call fails at first (400), after a node with a random output
    answers = iter([Response.json({"error": "not yet"}, 400)])

    def flaky(_request: Request) -> Response:
        return next(answers, Response.json({"ok": True}))

    with serve({"GET /thing": flaky}) as server:
        graph = {
            "nodes": [
                trigger(),
                node(
                    "stamp", "transform", {"language": "javascript", "code": "return Math.random()"}
                ),
                node("call", "http", {"method": "GET", "url": f"{server.url}/thing"}),
            ],
            "edges": [edge("start", "stamp"), edge("stamp", "call")],
        }
        first = wait_for(ada, run(ada, create_workflow(ada, graph), {"n": 1}))
        assert first["status"] == "FAILED", first

        # When: it is retried from the failed node
        response = ada.post(f"/api/executions/{first['id']}/retry", json={"fromFailedNode": True})
        assert response.status_code == 201, response.text
        retried = wait_for(ada, response.json()["id"])

        # Then: a new linked execution completes; the nodes before the failure were not run
        # again (same random output, same start time), the failed one ran once more
        assert response.json()["retryOfId"] == first["id"]
        assert response.json()["status"] in {"PENDING", "RUNNING", "COMPLETED"}
        assert retried["status"] == "COMPLETED", retried
        assert retried["retryOfId"] == first["id"]
        assert retried["triggerData"] == first["triggerData"]
        old, new = by_node(first), by_node(retried)
        for node_id in ("start", "stamp"):
            assert new[node_id]["output"] == old[node_id]["output"]
            assert new[node_id]["startedAt"] == old[node_id]["startedAt"]
            assert new[node_id]["attempt"] == 1
        assert new["call"]["status"] == "SUCCEEDED"
        assert new["call"]["output"]["body"] == {"ok": True}
        assert len(server.requests) == 2

    # And: a retry from the start runs every node again
    again = ada.post(f"/api/executions/{first['id']}/retry", json={"fromFailedNode": False})
    assert again.status_code == 201
    whole = wait_for(ada, again.json()["id"])
    assert by_node(whole)["stamp"]["startedAt"] != by_node(first)["stamp"]["startedAt"]


# --- ownership and the OpenAPI document ---------------------------------------------------


def test_another_users_execution_is_not_found_on_every_route(
    ada: httpx.Client, grace: httpx.Client
) -> None:
    # Given: Ada's workflow and its finished execution
    workflow_id = create_workflow(ada, branching_graph())
    execution_id = run(ada, workflow_id, {"n": 4})
    wait_for(ada, execution_id)
    path = f"/api/executions/{execution_id}"

    # When: Grace tries every route on them
    responses = [
        grace.get(path),
        grace.post(f"{path}/cancel"),
        grace.post(f"{path}/retry", json={"fromFailedNode": True}),
        grace.post(f"/api/workflows/{workflow_id}/run", json={"payload": {}}),
    ]

    # Then: 404 each time, her list is empty even when filtered by Ada's workflow
    for response in responses:
        assert response.status_code == 404, response.request
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert grace.get("/api/executions").json() == {"items": [], "nextCursor": None}
    assert grace.get("/api/executions", params={"workflowId": workflow_id}).json()["items"] == []
    assert [item["id"] for item in ada.get("/api/executions").json()["items"]] == [execution_id]


def test_openapi_document_describes_the_execution_routes(anonymous: httpx.Client) -> None:
    # Given / When: the OpenAPI document is read
    document = anonymous.get("/api/openapi.json").json()

    # Then: each route is there with its camelCase response model
    paths = document["paths"]
    assert {"get"} <= set(paths["/api/executions"])
    assert {"get"} <= set(paths["/api/executions/{execution_id}"])
    assert {"post"} <= set(paths["/api/executions/{execution_id}/cancel"])
    assert {"post"} <= set(paths["/api/executions/{execution_id}/retry"])
    assert {"post"} <= set(paths["/api/workflows/{workflow_id}/run"])
    schemas = document["components"]["schemas"]
    assert {"nodes", "logs", "triggerData", "retryOfId"} <= set(
        schemas["ExecutionDetail"]["properties"]
    )
    assert {"nodeId", "attempt", "output", "error", "duration"} <= set(
        schemas["NodeRunPublic"]["properties"]
    )
    assert set(schemas["ExecutionPage"]["properties"]) == {"items", "nextCursor"}
    assert set(schemas["RunAccepted"]["properties"]) == {"executionId"}
    run_response = paths["/api/workflows/{workflow_id}/run"]["post"]["responses"]["202"]
    assert run_response["content"]["application/json"]["schema"]["$ref"].endswith("RunAccepted")


def test_a_payload_nested_too_deeply_is_422_and_starts_nothing(ada: httpx.Client) -> None:
    """Found by tests/fuzz: a payload over 255 levels was stored, then its run crashed
    ("Maximum serialization depth exceeded") and its detail page was a 500."""
    from workfuse.db_types import MAX_JSON_DEPTH

    # Given: a valid workflow, and payloads at and just over the depth limit
    workflow = create_workflow(ada, branching_graph())
    deepest: Any = {"n": 9}
    for _ in range(MAX_JSON_DEPTH - 2):  # {"payload": ...} is not part of the payload
        deepest = [deepest]

    # When: it is run with each
    refused = ada.post(f"/api/workflows/{workflow}/run", json={"payload": [deepest, [deepest]]})
    accepted = ada.post(f"/api/workflows/{workflow}/run", json={"payload": [deepest]})

    # Then: the deeper one is 422 with nothing stored; the other runs and can be read
    assert refused.status_code == 422, refused.text
    assert "nested more than" in refused.json()["error"]["message"]
    assert accepted.status_code == 202, accepted.text
    execution_id = accepted.json()["executionId"]
    assert wait_for(ada, execution_id)["status"] in TERMINAL
    assert ada.get(f"/api/executions/{execution_id}").status_code == 200
    listed = ada.get("/api/executions", params={"workflowId": workflow}).json()["items"]
    assert [item["id"] for item in listed] == [execution_id]


@pytest.mark.parametrize("text", ["nul \u0000 inside", "lone \ud800 surrogate"])
def test_a_payload_postgres_cannot_store_is_refused(ada: httpx.Client, text: str) -> None:
    """Found by the graph fuzzer: it was a 500 on PostgreSQL (and stored on SQLite)."""
    created = ada.post("/api/workflows", json={"name": "Store me", "graph": GRAPH})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    response = ada.post(
        f"/api/workflows/{workflow_id}/executions",
        content=json.dumps({"payload": {"text": text}}).encode(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert "NUL character" in response.json()["error"]["message"]
    assert ada.get("/api/executions").json()["items"] == []
