"""The workflow service on SQLite and PostgreSQL: versions, drafts, ownership, import/export."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select

from workfuse.db import get_engine, session_scope
from workfuse.demo import demo_graph
from workfuse.graph import IssueCode
from workfuse.models import MAX_NAME_LENGTH, Execution, ExecutionStatus, User, Workflow
from workfuse.models import WorkflowVersion as Version
from workfuse.secrets import LocalSecretStore, SecretNotFound
from workfuse.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ServiceError,
    WorkflowInvalid,
)
from workfuse.services.secrets import create_secret
from workfuse.services.workflows import (
    WorkflowCreate,
    WorkflowUpdate,
    create_empty_workflow,
    create_workflow,
    delete_workflow,
    ensure_runnable,
    export_workflow,
    get_workflow,
    import_workflow,
    list_versions,
    list_workflows,
    set_active,
    to_public,
    update_workflow,
    webhook_url,
    workflow_names,
)
from workfuse.settings import get_settings


def node(node_id: str, node_type: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": node_type,
        "position": {"x": 10.0, "y": 20.5},
        "data": {"label": f"{node_type} {node_id}", "config": config, **extra},
    }


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "target": target, **extra}


def valid_graph() -> dict[str, Any]:
    """trigger → transform: the smallest graph that passes validation."""
    return {
        "nodes": [
            node("start", "trigger", {"source": "manual"}),
            node("shape", "transform", {"language": "jsonata", "code": "trigger"}),
        ],
        "edges": [edge("start", "shape")],
    }


def invalid_graph() -> dict[str, Any]:
    """Graph-shaped, but with an unknown node type and a dangling edge."""
    graph = valid_graph()
    graph["nodes"].append(node("mystery", "teleport", {}))
    graph["edges"].append(edge("shape", "nowhere"))
    return graph


def make(session: Session, user: User, name: str = "Flow", **fields: Any) -> Workflow:
    fields.setdefault("graph", valid_graph())
    workflow = create_workflow(session=session, user=user, data=WorkflowCreate(name=name, **fields))
    session.commit()
    return workflow


def db_state(url: str) -> dict[str, Any]:
    """Every workflow and version row as plain data, read in a fresh session."""
    with Session(get_engine(url)) as fresh:
        workflows = fresh.exec(select(Workflow).order_by(col(Workflow.id))).all()
        versions = fresh.exec(select(Version).order_by(col(Version.id))).all()
        return {
            "workflows": [w.model_dump(exclude={"updated_at"}) for w in workflows],
            "versions": [v.model_dump() for v in versions],
        }


def codes(error: InvalidInput) -> set[str]:
    return {issue.code.value for issue in error.issues}


# --- create -------------------------------------------------------------------------------


def test_create_stores_version_one_and_a_snapshot(session: Session, user: User) -> None:
    # Given: a valid graph
    graph = valid_graph()

    # When: a workflow is created
    workflow = make(session, user, "Orders", description="New orders", graph=graph)

    # Then: it is active, at version 1, owned by the user, with a matching snapshot
    stored = get_workflow(session=session, user=user, workflow_id=workflow.id)
    assert (stored.name, stored.description, stored.version) == ("Orders", "New orders", 1)
    assert stored.is_active is True
    assert stored.user_id == user.id
    assert stored.graph == graph
    versions = list_versions(session=session, user=user, workflow_id=workflow.id)
    assert [(v.version, v.name, v.graph) for v in versions] == [(1, "Orders", graph)]


def test_webhook_tokens_are_unguessable_and_unique(session: Session, user: User) -> None:
    # Given / When: many workflows are created
    tokens = [make(session, user, f"w{i}").webhook_token for i in range(30)]

    # Then: every token carries at least 128 bits and none repeats
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128


def test_webhook_url_uses_the_base_url(
    session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a public base URL with a trailing slash
    monkeypatch.setenv("WORKFUSE_BASE_URL", "https://flows.example.com/")
    get_settings.cache_clear()
    workflow = make(session, user)

    # When / Then: the webhook URL is base + /hooks/ + token
    assert webhook_url(workflow) == f"https://flows.example.com/hooks/{workflow.webhook_token}"
    assert to_public(workflow).webhook_url == webhook_url(workflow)


def test_create_with_invalid_graph_stores_an_inactive_draft(
    database_url: str, session: Session, user: User
) -> None:
    # Given: a graph with validation errors, no activation requested
    # When: it is created
    workflow = make(session, user, "Draft", graph=invalid_graph())

    # Then: it is stored, but only as an inactive draft, and it reports its problems
    stored = db_state(database_url)["workflows"]
    assert [(w["name"], w["is_active"], w["version"]) for w in stored] == [("Draft", False, 1)]
    public = to_public(workflow)
    assert not public.validation.valid
    assert {i.code for i in public.validation.errors} >= {
        IssueCode.UNKNOWN_NODE_TYPE,
        IssueCode.EDGE_TARGET_MISSING,
    }


def test_create_active_with_invalid_graph_is_refused_and_writes_nothing(
    database_url: str, session: Session, user: User
) -> None:
    # Given: a graph with validation errors and an explicit request to activate it
    data = WorkflowCreate(name="Broken", graph=invalid_graph(), is_active=True)

    # When: creating it
    with pytest.raises(WorkflowInvalid) as raised:
        create_workflow(session=session, user=user, data=data)
    session.commit()  # the caller carries on: nothing may have been half-written

    # Then: the errors are listed, with the nodes and edges concerned, and nothing is stored
    assert codes(raised.value) >= {"UNKNOWN_NODE_TYPE", "EDGE_TARGET_MISSING"}
    assert {i.node_id for i in raised.value.issues} >= {"mystery"}
    assert {i.edge_id for i in raised.value.issues} >= {"shape-nowhere"}
    assert db_state(database_url) == {"workflows": [], "versions": []}


def test_create_with_empty_graph_is_an_inactive_draft(session: Session, user: User) -> None:
    # Given / When: a new workflow with nothing drawn yet (the editor's starting point)
    workflow = make(session, user, "Blank", graph={"nodes": [], "edges": []})

    # Then: it is a draft (no trigger)
    assert workflow.is_active is False
    with pytest.raises(WorkflowInvalid) as raised:
        ensure_runnable(workflow)
    assert "NO_TRIGGER" in codes(raised.value)


# --- update -------------------------------------------------------------------------------


def test_update_bumps_version_and_snapshots_each_version(session: Session, user: User) -> None:
    # Given: a workflow at version 1
    workflow = make(session, user, "v1")
    first_graph = copy.deepcopy(workflow.graph)
    second_graph = demo_graph()

    # When: it is renamed, then its graph changes
    update_workflow(
        session=session, user=user, workflow_id=workflow.id, data=WorkflowUpdate(name="v2")
    )
    update_workflow(
        session=session,
        user=user,
        workflow_id=workflow.id,
        data=WorkflowUpdate(graph=second_graph),
    )
    session.commit()

    # Then: it is at version 3 and every version is kept, newest first
    stored = get_workflow(session=session, user=user, workflow_id=workflow.id)
    assert (stored.version, stored.name, stored.graph) == (3, "v2", second_graph)
    versions = list_versions(session=session, user=user, workflow_id=workflow.id)
    assert [(v.version, v.name, v.graph) for v in versions] == [
        (3, "v2", second_graph),
        (2, "v2", first_graph),
        (1, "v1", first_graph),
    ]


def test_update_description_only_when_given(session: Session, user: User) -> None:
    # Given: a workflow with a description
    workflow = make(session, user, description="keep me")

    # When: an update leaves the description out
    update_workflow(
        session=session, user=user, workflow_id=workflow.id, data=WorkflowUpdate(name="n")
    )
    # Then: it is kept
    assert workflow.description == "keep me"

    # When: an update sets it to null explicitly
    update_workflow(
        session=session,
        user=user,
        workflow_id=workflow.id,
        data=WorkflowUpdate(description=None),
    )
    # Then: it is cleared
    assert workflow.description is None


def test_update_to_invalid_graph_becomes_an_inactive_draft(
    database_url: str, session: Session, user: User
) -> None:
    # Given: an active, valid workflow
    workflow = make(session, user)
    assert workflow.is_active

    # When: a person saves a half-built graph
    update_workflow(
        session=session,
        user=user,
        workflow_id=workflow.id,
        data=WorkflowUpdate(graph=invalid_graph()),
    )
    session.commit()

    # Then: the draft is stored (version 2) but switched off
    [stored] = db_state(database_url)["workflows"]
    assert (stored["version"], stored["is_active"]) == (2, False)
    assert stored["graph"] == invalid_graph()


def test_activating_with_invalid_graph_is_refused_and_changes_nothing(
    database_url: str, session: Session, user: User
) -> None:
    # Given: an active, valid workflow
    workflow = make(session, user, "Original")
    before = db_state(database_url)

    # When: an update brings an invalid graph, a new name, and asks to stay active
    with pytest.raises(WorkflowInvalid) as raised:
        update_workflow(
            session=session,
            user=user,
            workflow_id=workflow.id,
            data=WorkflowUpdate(name="Renamed", graph=invalid_graph(), is_active=True),
        )
    session.commit()

    # Then: the errors are given and the database is exactly as before
    assert codes(raised.value) >= {"UNKNOWN_NODE_TYPE", "EDGE_TARGET_MISSING"}
    assert db_state(database_url) == before


@pytest.mark.parametrize(
    "graph",
    [
        {"nodes": "not a list", "edges": []},
        {"nodes": [{"id": "a"}], "edges": []},
        {"nodes": [], "edges": [], "unknownKey": 1},
    ],
    ids=["nodes-not-list", "node-missing-fields", "unknown-key"],
)
def test_update_with_unparseable_graph_is_refused_and_changes_nothing(
    database_url: str, session: Session, user: User, graph: dict[str, Any]
) -> None:
    # Given: a stored workflow
    workflow = make(session, user)
    before = db_state(database_url)

    # When: the update's graph is not shaped like a graph at all
    with pytest.raises(WorkflowInvalid) as raised:
        update_workflow(
            session=session, user=user, workflow_id=workflow.id, data=WorkflowUpdate(graph=graph)
        )
    session.commit()

    # Then: the shape problem is reported and nothing changed
    assert codes(raised.value) == {"INVALID_FORMAT"}
    assert db_state(database_url) == before


# --- activation and running ---------------------------------------------------------------


def test_set_active_refuses_an_invalid_workflow(session: Session, user: User) -> None:
    # Given: an inactive draft with errors
    draft = make(session, user, graph=invalid_graph())

    # When / Then: switching it on is refused with its errors; it stays off
    with pytest.raises(WorkflowInvalid) as raised:
        set_active(session=session, user=user, workflow_id=draft.id, active=True)
    assert "UNKNOWN_NODE_TYPE" in codes(raised.value)
    session.rollback()
    assert get_workflow(session=session, user=user, workflow_id=draft.id).is_active is False


def test_set_active_switches_a_valid_workflow(session: Session, user: User) -> None:
    # Given: a valid workflow
    workflow = make(session, user)

    # When: it is switched off and on again
    set_active(session=session, user=user, workflow_id=workflow.id, active=False)
    session.commit()
    assert workflow.is_active is False
    set_active(session=session, user=user, workflow_id=workflow.id, active=True)
    session.commit()

    # Then: it is active, and the version did not change (no new snapshot)
    assert workflow.is_active is True
    assert workflow.version == 1


def test_ensure_runnable_returns_the_graph_or_the_errors(session: Session, user: User) -> None:
    # Given: a valid workflow and a draft
    valid = make(session, user, "Valid")
    draft = make(session, user, "Draft", graph=invalid_graph())

    # When / Then: the valid one gives its parsed graph, the draft its validation errors
    graph = ensure_runnable(valid)
    assert [n.id for n in graph.nodes] == ["start", "shape"]
    with pytest.raises(WorkflowInvalid, match="Draft") as raised:
        ensure_runnable(draft)
    assert "UNKNOWN_NODE_TYPE" in codes(raised.value)


# --- ownership ----------------------------------------------------------------------------


def test_another_users_workflow_is_not_found_for_every_operation(
    database_url: str, session: Session, user: User, other_user: User
) -> None:
    # Given: Ada's workflow
    workflow = make(session, user, "Ada's")
    before = db_state(database_url)
    wid = workflow.id

    # When / Then: Grace gets NotFound for each operation, and nothing changes
    attempts: dict[str, Callable[[], object]] = {
        "get": lambda: get_workflow(session=session, user=other_user, workflow_id=wid),
        "update": lambda: update_workflow(
            session=session, user=other_user, workflow_id=wid, data=WorkflowUpdate(name="mine")
        ),
        "delete": lambda: delete_workflow(
            session=session, store=_store(database_url), user=other_user, workflow_id=wid
        ),
        "export": lambda: export_workflow(session=session, user=other_user, workflow_id=wid),
        "versions": lambda: list_versions(session=session, user=other_user, workflow_id=wid),
        "activate": lambda: set_active(
            session=session, user=other_user, workflow_id=wid, active=False
        ),
    }
    for operation, attempt in attempts.items():
        with pytest.raises(NotFound, match=wid):
            attempt()
        session.commit()
        assert db_state(database_url) == before, operation

    # And: Grace's list does not include it
    assert list_workflows(session=session, user=other_user) == []


def test_unknown_id_is_not_found(session: Session, user: User) -> None:
    # Given / When / Then
    with pytest.raises(NotFound, match="not found"):
        get_workflow(session=session, user=user, workflow_id="cnonexistent")


# --- list ---------------------------------------------------------------------------------


def test_list_returns_own_workflows_most_recently_updated_first(
    session: Session, user: User, other_user: User
) -> None:
    # Given: three workflows of Ada's (the oldest then edited) and one of Grace's
    oldest = make(session, user, "oldest")
    middle = make(session, user, "middle")
    newest = make(session, user, "newest")
    make(session, other_user, "grace's")
    update_workflow(
        session=session, user=user, workflow_id=oldest.id, data=WorkflowUpdate(name="edited")
    )
    session.commit()

    # When: Ada lists them
    listed = list_workflows(session=session, user=user)

    # Then: only hers, the edited one first
    assert [w.id for w in listed] == [oldest.id, newest.id, middle.id]


def test_list_limit_and_offset(session: Session, user: User) -> None:
    # Given: five workflows
    for index in range(5):
        make(session, user, f"w{index}")

    # When: pages of two are requested
    pages = [list_workflows(session=session, user=user, limit=2, offset=o) for o in (0, 2, 4)]

    # Then: the pages have 2, 2 and 1 workflows, covering all five once
    assert [len(page) for page in pages] == [2, 2, 1]
    assert len({w.id for page in pages for w in page}) == 5
    assert len(list_workflows(session=session, user=user, limit=0)) == 1


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("report", {"Daily REPORT", "weekly report"}),
        ("%", {"100% done"}),
        ("_", {"snake_case"}),
        ("100", {"100% done", "100 done"}),
        ("\\", {"back\\slash"}),
        ("zzz", set()),
        (
            "",
            {
                "Daily REPORT",
                "weekly report",
                "100% done",
                "100 done",
                "snake_case",
                "snakeXcase",
                "back\\slash",
            },
        ),
    ],
)
def test_list_search_matches_names_literally_and_ignoring_case(
    session: Session, user: User, search: str, expected: set[str]
) -> None:
    # Given: workflows whose names contain LIKE wildcards
    names = ["Daily REPORT", "weekly report", "100% done", "100 done", "snake_case"]
    for name in [*names, "snakeXcase", "back\\slash"]:
        make(session, user, name)

    # When: searching
    found = list_workflows(session=session, user=user, search=search)

    # Then: % and _ are matched as characters, not wildcards
    assert {w.name for w in found} == expected


# --- delete -------------------------------------------------------------------------------


def test_delete_removes_the_workflow_its_versions_and_executions(
    database_url: str, session: Session, user: User
) -> None:
    # Given: a workflow with two versions and an execution, and a second workflow
    workflow = make(session, user, "gone")
    keep = make(session, user, "kept")
    update_workflow(
        session=session, user=user, workflow_id=workflow.id, data=WorkflowUpdate(name="gone2")
    )
    session.add(
        Execution(
            workflow_id=workflow.id,
            user_id=user.id,
            status=ExecutionStatus.COMPLETED,
            trigger_data={},
            workflow_version=2,
        )
    )
    session.commit()

    # And: a credential scoped to it, and one of the user's own
    store = _store(database_url)
    scoped = create_secret(
        session=session,
        store=store,
        user_id=user.id,
        name="scoped",
        value="v-1",
        workflow_id=workflow.id,
    )
    mine = create_secret(session=session, store=store, user_id=user.id, name="mine", value="v-2")

    # When: it is deleted
    delete_workflow(session=session, store=store, user=user, workflow_id=workflow.id)

    # Then: it and everything under it are gone; the other workflow is untouched
    state = db_state(database_url)
    assert [w["id"] for w in state["workflows"]] == [keep.id]
    assert [v["workflow_id"] for v in state["versions"]] == [keep.id]
    with Session(get_engine(database_url)) as fresh:
        assert fresh.exec(select(Execution)).all() == []
    with pytest.raises(NotFound):
        get_workflow(session=session, user=user, workflow_id=workflow.id)
    # And: the scoped credential's value left the store; the user's own stayed
    with pytest.raises(SecretNotFound):
        store.get_secret_value(scoped.arn)
    assert store.get_secret_value(mine.arn) == "v-2"


def _store(database_url: str) -> LocalSecretStore:
    return LocalSecretStore(key=bytes(32), session_factory=lambda: session_scope(database_url))


# --- export and import --------------------------------------------------------------------


def as_file(data: Any) -> Any:
    """What a file on disk gives back: JSON text, parsed again."""
    return json.loads(json.dumps(data))


def test_export_import_round_trip(session: Session, user: User) -> None:
    # Given: a workflow using every node type, with a description, a retry policy and handles
    original = make(session, user, "Triage ✓", description="demo", graph=demo_graph())
    exported = export_workflow(session=session, user=user, workflow_id=original.id)

    # When: the export is imported (through JSON text) and exported again
    imported = import_workflow(
        session=session, user=user, data=as_file(exported.model_dump(mode="json", by_alias=True))
    )
    session.commit()
    again = export_workflow(session=session, user=user, workflow_id=imported.id)

    # Then: the second export equals the first, and the copy is a new workflow
    assert again.model_dump() == exported.model_dump()
    assert imported.id != original.id
    assert imported.webhook_token != original.webhook_token
    assert imported.version == 1


def test_export_is_in_the_seeds_format(session: Session, user: User) -> None:
    # Given: a workflow
    workflow = make(session, user, "Seedlike", graph=demo_graph())

    # When: it is exported as JSON
    data = export_workflow(session=session, user=user, workflow_id=workflow.id).model_dump(
        mode="json", by_alias=True
    )

    # Then: it names its format and holds a seed WorkflowGraph with camelCase fields
    assert data["format"] == "workfuse.workflow"
    assert data["formatVersion"] == 1
    assert data["isActive"] is True
    assert data["graph"]["name"] == "Seedlike"
    http = next(n for n in data["graph"]["nodes"] if n["type"] == "http")
    assert http["data"]["retryPolicy"]["maxAttempts"] == 3
    edges = {e["id"]: e for e in data["graph"]["edges"]}
    assert edges["route-alert"]["sourceHandle"] == "urgent"


def test_import_accepts_a_bare_seed_workflow_graph(session: Session, user: User) -> None:
    # Given: a bare seed WorkflowGraph ({id?, name, nodes, edges}) as another tool writes it
    bare = {"id": "wf_from_elsewhere", "name": "From the seed", **demo_graph()}

    # When: it is imported
    workflow = import_workflow(session=session, user=user, data=as_file(bare))
    session.commit()

    # Then: it is stored with that name, active, with a new id and the same nodes and edges
    assert workflow.name == "From the seed"
    assert workflow.is_active is True
    assert workflow.id != "wf_from_elsewhere"
    exported = export_workflow(session=session, user=user, workflow_id=workflow.id)
    assert exported.graph == {"name": "From the seed", **as_file(demo_graph())}


def test_import_keeps_an_exported_inactive_flag(session: Session, user: User) -> None:
    # Given: an export of a switched-off valid workflow
    workflow = make(session, user, is_active=False)
    assert workflow.is_active is False
    data = export_workflow(session=session, user=user, workflow_id=workflow.id)

    # When / Then: the import is switched off too
    copy_ = import_workflow(session=session, user=user, data=data.model_dump(by_alias=True))
    assert copy_.is_active is False


def _ten_thousand_nodes() -> dict[str, Any]:
    nodes = [node("n0", "trigger", {})]
    nodes += [node(f"n{i}", "transform", {"code": "x"}) for i in range(1, 10_000)]
    return {"name": "Huge", "nodes": nodes, "edges": [edge("n0", "n1")]}


def _cycle() -> dict[str, Any]:
    graph = valid_graph()
    graph["nodes"].append(node("again", "transform", {"code": "x"}))
    graph["edges"] += [edge("shape", "again"), edge("again", "shape")]
    return {"name": "Loop", **graph}


def _wrong_types() -> dict[str, Any]:
    graph = valid_graph()
    graph["nodes"][0]["position"] = {"x": "left", "y": 0}
    graph["nodes"][1]["data"]["config"]["timeout"] = "soon"
    return {"name": "Typed", **graph}


def _unknown_type() -> dict[str, Any]:
    graph = valid_graph()
    graph["nodes"][1]["type"] = "ftp"
    return {"name": "Unknown", **graph}


def _bad_config() -> dict[str, Any]:
    graph = valid_graph()
    graph["nodes"][1]["data"]["config"] = {"language": "cobol", "code": "x"}
    return {"name": "Config", **graph}


def _typo_key() -> dict[str, Any]:
    graph = valid_graph()
    return {"name": "Typo", "nodes": graph["nodes"], "edgse": graph["edges"]}


def _long_name() -> dict[str, Any]:
    return {"name": "n" * (MAX_NAME_LENGTH + 1), **valid_graph()}


def _nul_in_label() -> dict[str, Any]:
    graph = valid_graph()
    graph["nodes"][1]["data"]["label"] = "bad\x00label"
    return {"name": "Nul", **graph}


BAD_IMPORTS: list[tuple[str, Any, type[ServiceError], str]] = [
    ("list", [1, 2], InvalidInput, "JSON object"),
    ("string", "workflow", InvalidInput, "JSON object"),
    ("null", None, InvalidInput, "JSON object"),
    ("no-name", valid_graph(), InvalidInput, "name"),
    ("nodes-not-list", {"name": "x", "nodes": {"a": 1}, "edges": []}, WorkflowInvalid, "nodes"),
    ("wrong-types", _wrong_types(), WorkflowInvalid, "INVALID_FORMAT"),
    ("unknown-type", _unknown_type(), WorkflowInvalid, "UNKNOWN_NODE_TYPE"),
    ("bad-config", _bad_config(), WorkflowInvalid, "INVALID_CONFIG"),
    ("cycle", _cycle(), WorkflowInvalid, "CYCLE"),
    ("10000-nodes", _ten_thousand_nodes(), WorkflowInvalid, "GRAPH_TOO_LARGE"),
    ("typo-key", _typo_key(), WorkflowInvalid, "edgse"),
    ("long-name", _long_name(), InvalidInput, "name"),
    ("nul", _nul_in_label(), InvalidInput, "NUL"),
    ("bad-format", {"format": "other.tool", "name": "x", "graph": {}}, InvalidInput, "format"),
    (
        "export-without-graph",
        {"format": "workfuse.workflow", "formatVersion": 1, "name": "x"},
        InvalidInput,
        "graph",
    ),
]


@pytest.mark.parametrize(
    ("data", "error", "mentions"),
    [pytest.param(data, error, mentions, id=name) for name, data, error, mentions in BAD_IMPORTS],
)
def test_bad_import_gives_a_clear_error_and_writes_nothing(
    database_url: str,
    session: Session,
    user: User,
    data: Any,
    error: type[ServiceError],
    mentions: str,
) -> None:
    # Given: an existing workflow, and a bad file
    make(session, user, "existing")
    before = db_state(database_url)

    # When: importing the bad file
    with pytest.raises(error) as raised:
        import_workflow(session=session, user=user, data=copy.deepcopy(data))
    session.commit()

    # Then: the message (or an issue code/message) says what is wrong, and nothing was written
    issues = getattr(raised.value, "issues", [])
    text = " ".join([str(raised.value), *(f"{i.code} {i.message}" for i in issues)])
    assert mentions in text
    assert db_state(database_url) == before


def test_import_of_invalid_graph_lists_every_problem(session: Session, user: User) -> None:
    # Given: a graph with several problems
    graph = invalid_graph()
    graph["nodes"].append(node("second", "trigger", {}))

    # When: importing it
    with pytest.raises(WorkflowInvalid) as raised:
        import_workflow(session=session, user=user, data={"name": "Many", **graph})

    # Then: all problems come at once, each tied to its node or edge
    assert codes(raised.value) >= {"UNKNOWN_NODE_TYPE", "EDGE_TARGET_MISSING", "MULTIPLE_TRIGGERS"}
    assert all(issue.node_id or issue.edge_id for issue in raised.value.issues)


def test_create_refuses_a_too_large_graph_even_as_draft(
    database_url: str, session: Session, user: User
) -> None:
    # Given: a 10,000-node graph (over the limit)
    huge = _ten_thousand_nodes()

    # When / Then: creating it is refused outright, not kept as a draft
    with pytest.raises(WorkflowInvalid) as raised:
        create_workflow(
            session=session,
            user=user,
            data=WorkflowCreate(name="Huge", graph={"nodes": huge["nodes"], "edges": []}),
        )
    session.commit()
    assert codes(raised.value) == {"GRAPH_TOO_LARGE"}
    assert db_state(database_url) == {"workflows": [], "versions": []}


def test_unicode_names_and_labels_round_trip(session: Session, user: User) -> None:
    # Given: names and labels in several scripts, with emoji
    name = "Überweisung → 请求 🚀 «ok»"
    graph = valid_graph()
    graph["nodes"][1]["data"]["label"] = "Преобразование ✓"

    # When: imported and exported
    workflow = import_workflow(session=session, user=user, data={"name": name, **graph})
    session.commit()
    exported = export_workflow(session=session, user=user, workflow_id=workflow.id)

    # Then: the text survives unchanged and is searchable
    assert exported.name == name
    assert exported.graph["nodes"][1]["data"]["label"] == "Преобразование ✓"
    assert [w.id for w in list_workflows(session=session, user=user, search="请求")] == [
        workflow.id
    ]


def test_longest_allowed_name_is_accepted(session: Session, user: User) -> None:
    # Given / When: a name exactly at the limit
    workflow = import_workflow(
        session=session, user=user, data={"name": "é" * MAX_NAME_LENGTH, **valid_graph()}
    )
    session.commit()

    # Then: it is stored whole
    assert get_workflow(session=session, user=user, workflow_id=workflow.id).name == (
        "é" * MAX_NAME_LENGTH
    )


def test_nul_characters_are_refused_in_create_and_update(
    database_url: str, session: Session, user: User
) -> None:
    # Given: a stored workflow
    workflow = make(session, user)
    before = db_state(database_url)

    # When / Then: NUL in a name, description or graph is a clear error on both databases
    with pytest.raises(InvalidInput, match="NUL"):
        create_workflow(session=session, user=user, data=WorkflowCreate(name="a\x00b"))
    with pytest.raises(InvalidInput, match="NUL"):
        update_workflow(
            session=session,
            user=user,
            workflow_id=workflow.id,
            data=WorkflowUpdate(description="x\x00"),
        )
    graph = valid_graph()
    graph["nodes"][0]["data"]["config"]["samplePayload"] = {"k\x00": 1}
    with pytest.raises(InvalidInput, match="NUL"):
        update_workflow(
            session=session, user=user, workflow_id=workflow.id, data=WorkflowUpdate(graph=graph)
        )
    session.commit()
    assert db_state(database_url) == before


def test_export_file_with_an_unknown_key_is_refused(session: Session, user: User) -> None:
    # Given an export file with a typo in a top-level key
    exported = {
        "format": "workfuse.workflow",
        "formatVersion": 1,
        "name": "Typo",
        "descripton": "misspelt",
        "graph": {"nodes": [], "edges": []},
    }
    # When it is imported, Then the typo is named and nothing is written
    with pytest.raises(InvalidInput, match="descripton"):
        import_workflow(session=session, user=user, data=exported)
    assert session.exec(select(Workflow)).all() == []


def test_concurrent_update_is_a_conflict_not_a_crash(
    session: Session, user: User, database_url: str
) -> None:
    # Given a workflow that a second session has already updated to version 2
    workflow = create_workflow(session=session, user=user, data=WorkflowCreate(name="Race"))
    session.commit()
    with Session(get_engine(database_url)) as other:
        update_workflow(
            session=other, user=user, workflow_id=workflow.id, data=WorkflowUpdate(name="First")
        )
        other.commit()
    # When this session, still holding version 1 in memory, saves its own change
    assert workflow.version == 1
    # Then it gets a Conflict and the first update stays
    with pytest.raises(Conflict):
        update_workflow(
            session=session, user=user, workflow_id=workflow.id, data=WorkflowUpdate(name="Second")
        )
    session.rollback()
    with Session(get_engine(database_url)) as check:
        stored = check.get(Workflow, workflow.id)
        assert stored is not None and stored.name == "First" and stored.version == 2


def test_create_empty_workflow_holds_one_trigger_and_starts_inactive(
    session: Session, user: User
) -> None:
    # When: a person creates a workflow by its name only
    workflow = create_empty_workflow(session=session, user=user, name="  Nightly report ")
    session.commit()

    # Then: it is valid, inactive, named without the spaces, with a single trigger node
    public = to_public(workflow)
    assert workflow.name == "Nightly report"
    assert workflow.is_active is False
    assert public.validation.valid
    assert [(item.id, item.type) for item in public.graph.nodes] == [("trigger", "trigger")]
    assert public.graph.edges == []


def test_create_empty_workflow_needs_a_name(session: Session, user: User) -> None:
    with pytest.raises(InvalidInput, match="give the workflow a name"):
        create_empty_workflow(session=session, user=user, name="   ")
    with pytest.raises(InvalidInput, match="longer than"):
        create_empty_workflow(session=session, user=user, name="x" * (MAX_NAME_LENGTH + 1))
    assert list_workflows(session=session, user=user) == []


def test_workflow_names_gives_only_the_users_own(
    session: Session, user: User, other_user: User
) -> None:
    mine = make(session, user, "Mine")
    theirs = make(session, other_user, "Theirs")

    names = workflow_names(session=session, user=user, workflow_ids=[mine.id, theirs.id, "nope"])

    assert names == {mine.id: "Mine"}
    assert workflow_names(session=session, user=user, workflow_ids=[]) == {}
