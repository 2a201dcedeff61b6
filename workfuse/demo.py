"""The demo workflow that an empty embedded install starts with."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from workfuse.models import User, Workflow
from workfuse.services.users import create_user
from workfuse.services.workflows import WorkflowCreate, create_workflow

DEMO_NAME = "Triage incoming support tickets"
DEMO_DESCRIPTION = (
    "A webhook receives a ticket, a JSONata step pulls out what matters, a condition "
    "sends urgent tickets to a JavaScript step that formats an alert, and the rest to an "
    "AI summary posted to your helpdesk. The sample payload (an urgent ticket) runs as is; "
    "the other branch needs WORKFUSE_OPENAI_API_KEY and HELPDESK_WEBHOOK_URL."
)


def demo_graph() -> dict[str, Any]:
    """A valid graph that uses every node type; its sample payload runs with no setup."""

    def node(
        node_id: str,
        node_type: str,
        label: str,
        x: float,
        y: float,
        config: dict[str, Any],
        retry: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"label": label, "config": config}
        if retry:
            data["retryPolicy"] = retry
        return {"id": node_id, "type": node_type, "position": {"x": x, "y": y}, "data": data}

    return {
        "nodes": [
            node(
                "ticket",
                "trigger",
                "New ticket",
                0,
                120,
                {
                    "source": "webhook",
                    "samplePayload": {
                        "subject": "Checkout is down",
                        "priority": "high",
                        "customer": {"email": "ada@example.com"},
                    },
                },
            ),
            node(
                "extract",
                "transform",
                "Extract fields",
                260,
                120,
                {
                    "language": "jsonata",
                    "code": '{"subject": trigger.data.subject, "priority": trigger.data.priority}',
                },
            ),
            node(
                "route",
                "condition",
                "Urgent?",
                520,
                120,
                {
                    "conditions": [
                        {
                            "field": "{{ nodes.extract.result.priority }}",
                            "operator": "eq",
                            "value": "high",
                            "branch": "urgent",
                        }
                    ],
                    "defaultBranch": "normal",
                },
            ),
            node(
                "alert",
                "transform",
                "Format alert",
                780,
                20,
                {
                    "language": "javascript",
                    "code": (
                        "const t = nodes.extract.result;\n"
                        "return { text: `Urgent: ${t.subject}`, channel: '#on-call' };"
                    ),
                },
            ),
            node(
                "summarise",
                "ai",
                "Summarise ticket",
                780,
                220,
                {
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "prompt": (
                        "Summarise this support ticket in one sentence: "
                        "{{ nodes.extract.result.subject }}"
                    ),
                    "temperature": 0.2,
                    "maxTokens": 200,
                },
            ),
            node(
                "notify",
                "http",
                "Post to helpdesk",
                1040,
                220,
                {
                    "method": "POST",
                    "url": "{{ env.HELPDESK_WEBHOOK_URL }}",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"text": "{{ nodes.summarise.response }}"},
                    "timeout": 10000,
                },
                retry={"maxAttempts": 3, "backoffMultiplier": 2, "initialDelayMs": 1000},
            ),
        ],
        "edges": [
            {"id": "ticket-extract", "source": "ticket", "target": "extract"},
            {"id": "extract-route", "source": "extract", "target": "route"},
            {"id": "route-alert", "source": "route", "target": "alert", "sourceHandle": "urgent"},
            {
                "id": "route-summarise",
                "source": "route",
                "target": "summarise",
                "sourceHandle": "normal",
            },
            {"id": "summarise-notify", "source": "summarise", "target": "notify"},
        ],
    }


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
