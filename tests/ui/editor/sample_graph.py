"""A fixed, valid workflow graph for the editor's unit tests (every node type; the
HTTP node ``alert`` has headers, a body, a template URL and a retry policy).

A copy, so the demo workflow (``workfuse.demo``) can change without rewriting these
tests.
"""

from __future__ import annotations

from typing import Any


def demo_graph() -> dict[str, Any]:
    """A valid graph that uses every node type."""

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
                "http",
                "Page on-call",
                780,
                20,
                {
                    "method": "POST",
                    "url": "{{ env.ONCALL_WEBHOOK_URL }}",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"text": "Urgent ticket: {{ nodes.extract.result.subject }}"},
                    "timeout": 10000,
                },
                retry={"maxAttempts": 3, "backoffMultiplier": 2, "initialDelayMs": 1000},
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
        ],
    }
