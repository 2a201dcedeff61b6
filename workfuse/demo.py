"""The demo workflow that an empty embedded install starts with (``demo_workflow.json``).

A webhook receives a ticket, a JSONata step pulls out what matters, a condition sends
urgent tickets to a JavaScript step that formats an alert, and the rest to an AI
summary posted to a helpdesk.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from sqlmodel import Session, select

from workfuse.models import User, Workflow
from workfuse.services.users import create_user
from workfuse.services.workflows import WorkflowCreate, create_workflow

DEMO_FILE = "demo_workflow.json"  #: in this package, in the export format


@functools.cache
def _demo_document() -> dict[str, Any]:
    text = resources.files("workfuse").joinpath(DEMO_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


DEMO_NAME: str = _demo_document()["name"]
DEMO_DESCRIPTION: str = _demo_document()["description"]


def demo_graph() -> dict[str, Any]:
    """A valid graph that uses every built-in node type; its sample payload runs with no
    setup (a fresh copy each call)."""
    document = copy.deepcopy(_demo_document())
    return {"nodes": document["nodes"], "edges": document["edges"]}


def ensure_demo(*, session: Session, email: str) -> Workflow | None:
    """On an empty database, create the demo user and workflow; otherwise do nothing."""
    if session.exec(select(User).limit(1)).first() is not None:
        return None
    user = create_user(session=session, email=email, name="Demo")
    return create_workflow(
        session=session,
        user=user,
        data=WorkflowCreate(name=DEMO_NAME, description=DEMO_DESCRIPTION, graph=demo_graph()),
    )
