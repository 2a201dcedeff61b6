"""State of the settings page: API tokens and the default AI provider and model.

A new API token must reach the browser once, and only once. It is never put in a
state var (the whole state is sent again when the tab reloads or reconnects): the
create handler pushes it into :data:`NEW_TOKEN`, a variable that lives only in the
page's JavaScript, with a one-off script event. Reloading the page forgets it.
Handlers only call services, as the signed-in user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import reflex as rx
from reflex.event import EventSpec
from reflex.experimental.client_state import ClientStateVar

from workfuse.ai.providers import PROVIDERS
from workfuse.models import ApiToken
from workfuse.services import api_tokens, preferences
from workfuse.ui.form_parts import refusal_sentence
from workfuse.ui.session_state import SessionState

#: The token just created, in the browser only (empty: no token to show).
NEW_TOKEN = ClientStateVar.create("new_api_token", default="")
TOKEN_NAME_INPUT = "token-name"  #: id of the token name field, cleared after a create

PROVIDER_LABELS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Google Gemini",
    "openai-compatible": "OpenAI-compatible server",
}
#: Example model names shown as the model field's placeholder, by provider.
MODEL_EXAMPLES = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "openai-compatible": "llama3.1:8b",
}


@dataclass
class TokenRow:
    """What the browser gets of an API token: its name and first characters."""

    id: str
    name: str
    prefix: str
    created: str
    last_used: str


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "Never"


def _token_row(token: ApiToken) -> TokenRow:
    return TokenRow(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created=_when(token.created_at),
        last_used=_when(token.last_used_at),
    )


class SettingsState(SessionState):
    tokens: list[TokenRow] = []
    loaded: bool = False
    token_error: str = ""

    revoke_id: str = ""
    revoke_name: str = ""

    ai_provider: str = ""
    ai_model: str = ""
    ai_error: str = ""

    @rx.var
    def has_tokens(self) -> bool:
        return len(self.tokens) > 0

    @rx.var
    def revoke_open(self) -> bool:
        return self.revoke_id != ""

    @rx.var
    def model_placeholder(self) -> str:
        example = MODEL_EXAMPLES.get(self.ai_provider)
        return f"e.g. {example}" if example else "Choose a provider first"

    def load(self) -> EventSpec | None:
        """Read the user's tokens and AI defaults; no session: sign in."""
        self.revoke_id = self.revoke_name = self.token_error = self.ai_error = ""
        with self._unit_of_work() as work:
            self.tokens = [
                _token_row(token)
                for token in api_tokens.list_api_tokens(session=work.session, user=work.user)
            ]
            defaults = preferences.get_ai_defaults(user=work.user)
        if not work.done:
            self.tokens = []
            return work.redirect
        self.ai_provider = defaults.provider or ""
        self.ai_model = defaults.model or ""
        self.loaded = True
        return None

    # --- API tokens ---------------------------------------------------------------

    def create_token(self, form_data: dict[str, Any]) -> EventSpec | list[EventSpec] | None:
        """Create a token and show it once (pushed to the browser, never stored in state)."""
        self.token_error = ""
        name = form_data.get("name", "")
        with self._unit_of_work(error_var="token_error", message=refusal_sentence) as work:
            row, token = api_tokens.create_api_token(
                session=work.session, user=work.user, name=name if isinstance(name, str) else ""
            )
            created = _token_row(row)
        if not work.done:
            return work.redirect
        self.tokens = [created, *self.tokens]
        return [NEW_TOKEN.push(token), rx.set_value(TOKEN_NAME_INPUT, "")]

    def confirm_revoke(self, token_id: str) -> None:
        row = next((row for row in self.tokens if row.id == token_id), None)
        if row is not None:
            self.revoke_id, self.revoke_name = row.id, row.name

    def set_revoke_open(self, is_open: bool) -> None:
        if not is_open:
            self.revoke_id = self.revoke_name = ""

    def revoke(self) -> EventSpec | None:
        revoked = self.revoke_name
        with self._unit_of_work(error_var="token_error", message=refusal_sentence) as work:
            api_tokens.revoke_api_token(
                session=work.session, user=work.user, token_id=self.revoke_id
            )
        if work.redirect is not None:
            return work.redirect
        self.revoke_id = self.revoke_name = ""
        return self.load() or rx.toast.success(
            f"Token {revoked!r} revoked: scripts using it are refused from now on"
        )

    # --- AI defaults ----------------------------------------------------------------

    def set_ai_provider(self, value: str) -> None:
        self.ai_provider = value if value in PROVIDERS else ""
        self.ai_error = ""

    def set_ai_model(self, value: str) -> None:
        self.ai_model = value
        self.ai_error = ""

    def save_ai_defaults(self) -> EventSpec | None:
        return self._store_ai_defaults(self.ai_provider or None, self.ai_model or None)

    def clear_ai_defaults(self) -> EventSpec | None:
        return self._store_ai_defaults(None, None)

    def _store_ai_defaults(self, provider: str | None, model: str | None) -> EventSpec | None:
        self.ai_error = ""
        with self._unit_of_work(error_var="ai_error", message=refusal_sentence) as work:
            saved = preferences.set_ai_defaults(
                session=work.session, user=work.user, provider=provider, model=model
            )
        if not work.done:
            return work.redirect
        self.ai_provider, self.ai_model = saved.provider or "", saved.model or ""
        if saved.provider is None:
            return rx.toast.success("Default AI provider cleared")
        return rx.toast.success("Default AI provider saved")
