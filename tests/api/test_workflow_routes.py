"""The workflow procedures over HTTP: ownership, drafts, versions, export/import."""

from __future__ import annotations

from typing import Any

import httpx

GRAPH: dict[str, Any] = {
    "nodes": [
        {
            "id": "start",
            "type": "trigger",
            "position": {"x": 0, "y": 0},
            "data": {"label": "Start", "config": {"source": "webhook"}},
        },
        {
            "id": "shape",
            "type": "transform",
            "position": {"x": 200, "y": 0},
            "data": {"label": "Shape", "config": {"language": "jsonata", "code": "trigger.data"}},
        },
    ],
    "edges": [{"id": "e1", "source": "start", "target": "shape"}],
}


def create(client: httpx.Client, name: str = "Orders", graph: Any = GRAPH) -> dict[str, Any]:
    response = client.post("/api/workflows", json={"name": name, "graph": graph})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_get_list_update_delete(ada: httpx.Client) -> None:
    # Given: a new workflow
    created = create(ada)
    assert created["isActive"] is True and created["validation"]["valid"] is True
    assert created["webhookUrl"].endswith("/hooks/" + created["webhookUrl"].rsplit("/", 1)[1])

    # When / Then: it can be read, listed, searched, renamed, and deleted
    path = f"/api/workflows/{created['id']}"
    assert ada.get(path).json()["name"] == "Orders"
    assert [w["id"] for w in ada.get("/api/workflows", params={"search": "ord"}).json()] == [
        created["id"]
    ]
    assert ada.get("/api/workflows", params={"search": "zzz"}).json() == []
    renamed = ada.patch(path, json={"name": "Orders v2"}).json()
    assert (renamed["name"], renamed["version"]) == ("Orders v2", 2)
    assert [v["version"] for v in ada.get(f"{path}/versions").json()] == [2, 1]
    assert ada.delete(path).status_code == 204
    assert ada.get(path).status_code == 404


def test_another_users_workflow_is_not_found_for_every_route(
    ada: httpx.Client, grace: httpx.Client
) -> None:
    # Given: Ada's workflow
    path = f"/api/workflows/{create(ada)['id']}"

    # When: Grace tries every route on it
    responses = [
        grace.get(path),
        grace.patch(path, json={"name": "mine now"}),
        grace.delete(path),
        grace.get(f"{path}/export"),
        grace.get(f"{path}/versions"),
    ]

    # Then: 404 each time, in the one error format; Ada's workflow is untouched
    for response in responses:
        assert response.status_code == 404, response.request
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert grace.get("/api/workflows").json() == []
    assert ada.get(path).json()["name"] == "Orders"


def test_anonymous_requests_are_401(anonymous: httpx.Client) -> None:
    for method, path in [
        ("GET", "/api/workflows"),
        ("POST", "/api/workflows"),
        ("GET", "/api/workflows/abc"),
        ("POST", "/api/workflows/import"),
        ("GET", "/api/tokens"),
    ]:
        response = anonymous.request(method, path, json={})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_an_invalid_graph_is_saved_as_an_inactive_draft_with_its_issues(
    ada: httpx.Client,
) -> None:
    # Given: a graph whose transform refers to a node that does not exist
    graph = {**GRAPH, "nodes": [*GRAPH["nodes"]]}
    graph["nodes"][1] = {
        **GRAPH["nodes"][1],
        "data": {"label": "Shape", "config": {"language": "jsonata", "code": "$sum("}},
    }

    # When: it is saved
    created = create(ada, graph=graph)

    # Then: stored, but inactive, and the validation says why
    assert created["isActive"] is False
    assert [issue["code"] for issue in created["validation"]["errors"]] == ["INVALID_CONFIG"]

    # And: switching it on is refused with the issues, and it stays off
    response = ada.patch(f"/api/workflows/{created['id']}", json={"isActive": True})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "WORKFLOW_INVALID"
    assert response.json()["error"]["details"][0]["nodeId"] == "shape"
    assert ada.get(f"/api/workflows/{created['id']}").json()["isActive"] is False


def test_export_then_import_gives_the_same_workflow(ada: httpx.Client) -> None:
    created = create(ada, name="Round trip")
    exported = ada.get(f"/api/workflows/{created['id']}/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]

    imported = ada.post("/api/workflows/import", json=exported.json())

    assert imported.status_code == 201
    assert imported.json()["name"] == "Round trip"
    assert imported.json()["graph"]["nodes"] == created["graph"]["nodes"]
    assert imported.json()["id"] != created["id"]


def test_a_name_beyond_latin_1_exports_with_an_ascii_file_name(ada: httpx.Client) -> None:
    """Found by tests/fuzz: a name such as "둑" made the Content-Disposition header
    unencodable, and the export was a 500."""
    created = create(ada, name="Über 둑 orders")

    exported = ada.get(f"/api/workflows/{created['id']}/export")

    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"] == ('attachment; filename="-ber---orders.json"')
    assert exported.json()["name"] == "Über 둑 orders"


def test_an_invalid_import_saves_nothing_and_lists_the_errors(ada: httpx.Client) -> None:
    bad = {"name": "Broken", "nodes": [GRAPH["nodes"][1]], "edges": []}

    response = ada.post("/api/workflows/import", json=bad)

    assert response.status_code == 422
    assert {d["code"] for d in response.json()["error"]["details"]} >= {"NO_TRIGGER"}
    assert ada.get("/api/workflows").json() == []


def test_an_invalid_request_body_is_422_with_field_details(ada: httpx.Client) -> None:
    response = ada.post("/api/workflows", json={"name": "", "graph": []})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert {d["field"] for d in error["details"]} == {"name", "graph"}


def test_an_offset_beyond_the_databases_integers_is_422(ada: httpx.Client) -> None:
    """Found by tests/fuzz: offset=10**33 overflowed the database driver (a 500)."""
    create(ada)

    huge = ada.get("/api/workflows", params={"offset": 10**33})
    largest = ada.get("/api/workflows", params={"offset": 1_000_000_000})

    assert huge.status_code == 422, huge.text
    assert huge.json()["error"]["code"] == "INVALID_INPUT"
    assert (largest.status_code, largest.json()) == (200, [])
