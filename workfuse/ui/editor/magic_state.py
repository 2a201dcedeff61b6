"""State of the editor's Magic input panel: plain English in, a proposed node config
out (shown as a diff against the current one), then Apply or Discard.

The request runs as a background event so its progress lines reach the browser while
the model works. What the model sees: the request, the node type, the upstream nodes
(with their outputs from the last run in this editor), the trigger's sample payload,
the current config and the user's credential names; never a credential value.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

import reflex as rx

from workfuse.ai.magic_input import MagicContext, MagicInputRequest, UpstreamNode
from workfuse.ai.providers import PROVIDERS
from workfuse.db import session_scope
from workfuse.nodes.registry import REGISTRY
from workfuse.secrets import process_secret_store
from workfuse.services import ai as ai_service
from workfuse.services.errors import ServiceError
from workfuse.services.preferences import get_ai_defaults
from workfuse.ui.editor import draft as drafts
from workfuse.ui.editor.state import EditorState

MAX_PROGRESS_LINES = 20


@dataclass
class DiffLine:
    kind: str  # "+", "-" or " "
    text: str


def config_diff(current: dict[str, Any], proposed: dict[str, Any]) -> list[DiffLine]:
    """Line diff of two ``{label, config}`` documents as pretty JSON (keys sorted)."""
    before = json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    after = json.dumps(proposed, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    return [
        DiffLine(kind=line[0], text=line[2:])
        for line in difflib.ndiff(before, after)
        if line[:1] in ("+", "-", " ")
    ]


def _upstream(draft: drafts.Draft, node_id: str, outputs: dict[str, Any]) -> list[UpstreamNode]:
    """Every node the selected one can reach back to through edges (its ancestors)."""
    parents: dict[str, list[str]] = {}
    for edge in draft["edges"]:
        parents.setdefault(str(edge.get("target")), []).append(str(edge.get("source")))
    seen: list[str] = []
    stack = list(parents.get(node_id, []))
    while stack:
        current = stack.pop()
        if current not in seen and current != node_id:
            seen.append(current)
            stack.extend(parents.get(current, []))
    nodes = {str(node.get("id")): node for node in draft["nodes"]}
    return [
        UpstreamNode(
            id=ancestor,
            type=str(nodes[ancestor].get("type", "")),
            label=str((nodes[ancestor].get("data") or {}).get("label", ""))[:200],
            sample_output=outputs.get(ancestor),
        )
        for ancestor in seen
        if ancestor in nodes
    ]


class MagicInputState(EditorState):
    magic_open: bool = False
    magic_prompt: str = ""
    magic_provider: str = ""
    magic_model: str = ""
    magic_key_arn: str = ""
    magic_base_url: str = ""
    magic_busy: bool = False
    magic_progress: list[str] = []
    magic_error: str = ""
    magic_problems: list[str] = []
    magic_diff: list[DiffLine] = []
    magic_reasoning: str = ""
    magic_confidence: int = 0  #: percent
    magic_attempts: int = 0
    magic_tokens: int = 0
    magic_has_proposal: bool = False

    _magic_proposal: dict[str, Any] = {}
    _magic_node: str = ""

    def open_magic(self) -> None:
        """Open the panel for the selected node, with the user's default provider."""
        self.magic_open = True
        self._discard()
        if not self.magic_provider:
            with self._unit_of_work() as work:
                defaults = get_ai_defaults(user=work.user)
            self.magic_provider = (defaults.provider if work.done else None) or "openai"
            self.magic_model = (defaults.model if work.done else None) or ""

    def set_magic_open(self, value: bool) -> None:
        self.magic_open = value

    def set_magic_prompt(self, value: str) -> None:
        self.magic_prompt = value

    def set_magic_provider(self, value: str) -> None:
        self.magic_provider = value if value in PROVIDERS else "openai"

    def set_magic_model(self, value: str) -> None:
        self.magic_model = value

    def set_magic_key_arn(self, value: str) -> None:
        self.magic_key_arn = value

    def set_magic_base_url(self, value: str) -> None:
        self.magic_base_url = value

    def _discard(self) -> None:
        self.magic_error, self.magic_problems, self.magic_progress = "", [], []
        self.magic_diff, self.magic_reasoning, self.magic_has_proposal = [], "", False
        self._magic_proposal = {}

    def discard_magic(self) -> None:
        self._discard()

    def _request(self) -> MagicInputRequest:
        draft = self._get_draft()
        node = drafts.find_node(draft, self.selected_node) or {}
        outputs: dict[str, Any] = {}
        for node_id, result in self.results.items():
            try:
                outputs[node_id] = json.loads(result.output) if result.output else None
            except ValueError:
                outputs[node_id] = result.output
        trigger = REGISTRY.trigger_node(draft["nodes"]) or {}
        return MagicInputRequest.model_validate(
            {
                "prompt": self.magic_prompt.strip(),
                "nodeType": node.get("type", ""),
                "provider": self.magic_provider or None,
                "model": self.magic_model.strip() or None,
                "secretArn": self.magic_key_arn or None,
                "baseUrl": self.magic_base_url.strip() or None,
                "context": MagicContext(
                    upstream=_upstream(draft, self.selected_node, outputs),
                    trigger_sample=((trigger.get("data") or {}).get("config") or {}).get(
                        "samplePayload"
                    ),
                    current_config=(node.get("data") or {}).get("config"),
                ),
            }
        )

    @rx.event(background=True)  # type: ignore[operator]
    async def generate_magic(self) -> None:
        """Ask the model (the service retries with feedback), streaming progress lines."""
        async with self:
            if self.magic_busy or not self.magic_prompt.strip():
                if not self.magic_prompt.strip():
                    self.magic_error = "Describe what this node should do first."
                return
            self._discard()
            self.magic_busy = True
            self._magic_node = self.selected_node
            try:
                request = self._request()
            except ValueError as problem:
                self.magic_busy, self.magic_error = False, f"Cannot ask: {problem}"
                return
            draft = self._get_draft()
            node = drafts.find_node(draft, self._magic_node) or {}
            current = {
                "label": (node.get("data") or {}).get("label", ""),
                "config": (node.get("data") or {}).get("config", {}),
            }

        async def progress(line: str) -> None:
            async with self:
                self.magic_progress = [*self.magic_progress, line][-MAX_PROGRESS_LINES:]

        try:
            with session_scope() as session:
                async with self:
                    user = self._signed_in_user(session)
                if user is None:
                    raise ServiceError("Your session has ended: sign in again.")
                response = await ai_service.generate_config(
                    session=session,
                    store=process_secret_store(),
                    user=user,
                    request=request,
                    on_progress=progress,
                )
        except ServiceError as problem:
            async with self:
                self.magic_busy = False
                self.magic_error = str(problem)
                self.magic_problems = [str(d.get("message", "")) for d in problem.details]
            return
        async with self:
            self.magic_busy = False
            self._magic_proposal = response.config
            self.magic_diff = config_diff(current, response.config)
            self.magic_reasoning = response.reasoning
            self.magic_confidence = round(response.confidence * 100)
            self.magic_attempts = response.attempts
            self.magic_tokens = response.usage.total_tokens
            self.magic_has_proposal = True

    def apply_magic(self) -> None:
        """Put the proposal into the node (label and config); the editor becomes dirty."""
        proposal = dict(self._magic_proposal)
        draft = self._get_draft()
        node = drafts.find_node(draft, self._magic_node)
        if node is None or not proposal:
            self.magic_error = "The node is gone; nothing was applied."
            return
        data = dict(node.get("data") or {})
        data["label"] = proposal.get("label") or data.get("label", "")
        data["config"] = proposal.get("config", {})
        self._texts = {
            key: text
            for key, text in self._texts.items()
            if not key.startswith(f"{self._magic_node}:")
        }
        self._change(drafts.replace_node(draft, {**node, "data": data}))
        self._discard()
        self.magic_open = False
        self.message = "Applied the magic input proposal: review it, then save."
