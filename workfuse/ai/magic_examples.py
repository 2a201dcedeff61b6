"""Worked examples for magic input's system prompt: a request and the config it means.

Two per node type, written against the config models (a test validates every one),
so the model sees the exact field names, template syntax and credential convention.
"""

from __future__ import annotations

from typing import Any

#: node type -> [(plain-English request, {"label": ..., "config": ...})]
EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "trigger": [
        (
            "Start when our shop posts an order to a webhook; only POST.",
            {
                "label": "Order received",
                "config": {
                    "source": "webhook",
                    "methods": ["POST"],
                    "samplePayload": {"orderId": "A-1001", "total": 42.5},
                },
            },
        ),
        (
            "Webhook from GitHub, verify the X-Hub-Signature-256 sha256 signature with the "
            "GitHub secret, and ignore repeats by the X-GitHub-Delivery header.",
            {
                "label": "GitHub event",
                "config": {
                    "source": "webhook",
                    "methods": ["POST"],
                    "hmac": {
                        "header": "X-Hub-Signature-256",
                        "algorithm": "sha256",
                        "secretArn": "credential:GitHub webhook secret",
                    },
                    "idempotencyHeader": "X-GitHub-Delivery",
                },
            },
        ),
    ],
    "http": [
        (
            "Get the customer from https://api.example.com/customers/<customer id from the "
            "trigger> with our API token.",
            {
                "label": "Fetch customer",
                "config": {
                    "method": "GET",
                    "url": "https://api.example.com/customers/{{ trigger.data.customerId }}",
                    "auth": {"type": "bearer", "secretArn": "credential:Example API token"},
                },
            },
        ),
        (
            "Post the summary from the summarise node to the Slack webhook as text.",
            {
                "label": "Post to Slack",
                "config": {
                    "method": "POST",
                    "url": "https://hooks.slack.com/services/T000/B000/XXXX",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"text": "{{ nodes.summarise.response }}"},
                    "timeout": 10000,
                },
            },
        ),
    ],
    "transform": [
        (
            "Keep only the names of the items from the fetch node that cost more than 10.",
            {
                "label": "Expensive items",
                "config": {
                    "language": "jsonata",
                    "code": "nodes.fetch.body.items[price > 10].name",
                },
            },
        ),
        (
            "In JavaScript, count the words of the trigger's message.",
            {
                "label": "Count words",
                "config": {
                    "language": "javascript",
                    "code": "return trigger.data.message.trim().split(/\\s+/).length;",
                },
            },
        ),
    ],
    "condition": [
        (
            "If the HTTP status of the fetch node is 200 go to ok, otherwise to failed.",
            {
                "label": "Fetched?",
                "config": {
                    "conditions": [
                        {
                            "field": "{{ nodes.fetch.status }}",
                            "operator": "eq",
                            "value": 200,
                            "branch": "ok",
                        }
                    ],
                    "defaultBranch": "failed",
                },
            },
        ),
        (
            "Route urgent tickets (priority above 3, or the subject contains 'outage').",
            {
                "label": "Urgent?",
                "config": {
                    "conditions": [
                        {
                            "field": "{{ trigger.data.priority }}",
                            "operator": "gt",
                            "value": 3,
                            "branch": "urgent",
                        },
                        {
                            "field": "{{ trigger.data.subject }}",
                            "operator": "contains",
                            "value": "outage",
                            "branch": "urgent",
                        },
                    ],
                    "defaultBranch": "normal",
                },
            },
        ),
    ],
    "ai": [
        (
            "Summarise the ticket text from the trigger in two sentences with gpt-4o-mini.",
            {
                "label": "Summarise ticket",
                "config": {
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "prompt": "Summarise this support ticket in two sentences:\n\n"
                    "{{ trigger.data.body }}",
                    "temperature": 0.2,
                },
            },
        ),
        (
            "Classify the email from the extract node as spam or not, answer one word, "
            "using Claude.",
            {
                "label": "Spam check",
                "config": {
                    "provider": "anthropic",
                    "model": "claude-3-5-haiku-latest",
                    "systemPrompt": "Answer with exactly one word: spam or ham.",
                    "prompt": "{{ nodes.extract.result.email }}",
                    "maxTokens": 5,
                },
            },
        ),
    ],
}
