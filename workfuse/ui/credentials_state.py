"""State of the credentials page: the list, and the create, rotate and delete dialogs.

A credential's value travels once, from the browser to the handler that stores it
(the form's masked field, submitted over the websocket); it is never put in a state
var, a message or a log record, so no frame the server sends carries it. The value
inputs are uncontrolled and live inside dialogs, so closing a dialog drops them in
the browser too. Handlers only call services, as the signed-in user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session

from workfuse.logs import REDACTOR
from workfuse.models import SecretReference, User
from workfuse.secrets import SecretStoreError, process_secret_store
from workfuse.services import secrets as service
from workfuse.ui.form_parts import refusal_sentence
from workfuse.ui.session_state import SessionState

logger = logging.getLogger(__name__)

STORE_FAILED = "The secret store did not answer; nothing was changed. Try again in a moment."


@dataclass
class UsageRow:
    """A workflow that uses a credential; ``nodes`` names the nodes that name it."""

    workflow_id: str
    workflow_name: str
    nodes: str


@dataclass
class CredentialRow:
    """What the browser gets of a credential: never its value."""

    id: str
    name: str
    description: str
    arn: str
    store: str
    created: str
    used_by: list[UsageRow]


def _row(reference: SecretReference, uses: list[service.CredentialUse]) -> CredentialRow:
    return CredentialRow(
        id=reference.id,
        name=reference.name,
        description=reference.description or "",
        arn=reference.arn,
        store="Local, encrypted" if reference.arn.startswith("local:") else "AWS Secrets Manager",
        created=reference.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        used_by=[
            UsageRow(use.workflow_id, use.workflow_name, "Nodes: " + ", ".join(use.node_ids))
            for use in uses
        ],
    )


def _text(form_data: dict[str, Any], key: str) -> str:
    value = form_data.get(key, "")
    return value if isinstance(value, str) else ""


class CredentialsState(SessionState):
    rows: list[CredentialRow] = []
    loaded: bool = False
    error: str = ""

    create_open: bool = False
    create_error: str = ""

    rotate_id: str = ""
    rotate_name: str = ""
    rotate_error: str = ""

    delete_id: str = ""
    delete_name: str = ""
    delete_used_by: list[str] = []
    delete_error: str = ""

    @rx.var
    def has_rows(self) -> bool:
        return len(self.rows) > 0

    @rx.var
    def rotate_open(self) -> bool:
        return self.rotate_id != ""

    @rx.var
    def delete_open(self) -> bool:
        return self.delete_id != ""

    @rx.var
    def delete_warning(self) -> str:
        count = len(self.delete_used_by)
        workflows = "1 workflow" if count == 1 else f"{count} workflows"
        return (
            f"In use by {workflows}. Their nodes will fail with “credential not available” "
            "until you choose another credential:"
        )

    @rx.var
    def delete_in_use(self) -> bool:
        return len(self.delete_used_by) > 0

    # --- list -------------------------------------------------------------------

    def load(self) -> EventSpec | None:
        """Read the user's credentials and their usage; dialogs start closed."""
        self.create_open = False
        self._close_rotate()
        self._close_delete()
        self.error = ""
        return self._reload()

    def _reload(self) -> EventSpec | None:
        with self._unit_of_work() as work:
            self._read(work.session, work.user)
        if not work.done:
            self.rows = []
            return work.redirect
        self.loaded = True
        return None

    def _read(self, session: Session, user: User) -> None:
        usage = service.credential_usage(session=session, user_id=user.id)
        self.rows = [
            _row(reference, usage.get(reference.arn, []))
            for reference in service.list_secrets(session=session, user_id=user.id)
        ]

    # --- create -----------------------------------------------------------------

    def open_create(self) -> None:
        self.set_create_open(True)

    def set_create_open(self, is_open: bool) -> None:
        self.create_open = is_open
        self.create_error = ""

    def create(self, form_data: dict[str, Any]) -> EventSpec | None:
        """Store the submitted value and save the reference; the value is not kept."""
        self.create_error = ""
        name = _text(form_data, "name")
        try:
            with self._unit_of_work(
                error_var="create_error", message=refusal_sentence, user_first=True
            ) as work:
                reference = service.create_secret(
                    session=work.session,
                    user_id=work.user.id,
                    store=process_secret_store(),
                    name=name,
                    value=_text(form_data, "value"),
                    description=_text(form_data, "description").strip() or None,
                    redactor=REDACTOR,
                )
                created = reference.name
        except SecretStoreError as error:
            logger.error("creating a credential failed in the secret store: %s", error)
            self.create_error = STORE_FAILED
            return None
        if not work.done:
            return work.redirect
        self.create_open = False
        return self._reload() or rx.toast.success(f"Credential {created!r} saved")

    # --- rotate -----------------------------------------------------------------

    def start_rotate(self, secret_id: str) -> None:
        row = next((row for row in self.rows if row.id == secret_id), None)
        if row is not None:
            self.rotate_id, self.rotate_name, self.rotate_error = row.id, row.name, ""

    def _close_rotate(self) -> None:
        self.rotate_id = self.rotate_name = self.rotate_error = ""

    def set_rotate_open(self, is_open: bool) -> None:
        if not is_open:
            self._close_rotate()

    def rotate(self, form_data: dict[str, Any]) -> EventSpec | None:
        """Replace the value of the credential being rotated; the value is not kept."""
        self.rotate_error = ""
        try:
            with self._unit_of_work(
                error_var="rotate_error", message=refusal_sentence, user_first=True
            ) as work:
                reference = service.rotate_secret(
                    session=work.session,
                    user_id=work.user.id,
                    store=process_secret_store(),
                    secret_id=self.rotate_id,
                    value=_text(form_data, "value"),
                    redactor=REDACTOR,
                )
                rotated = reference.name
        except SecretStoreError as error:
            logger.error("rotating credential %s failed: %s", self.rotate_id, error)
            self.rotate_error = STORE_FAILED
            return None
        if not work.done:
            return work.redirect
        self._close_rotate()
        return rx.toast.success(
            f"Credential {rotated!r} rotated: runs that start from now on use the new value"
        )

    # --- delete -----------------------------------------------------------------

    def confirm_delete(self, secret_id: str) -> EventSpec | None:
        """Open the confirmation, naming the workflows that use it (read afresh)."""
        self.error = ""
        with self._unit_of_work(error_var="error", message=refusal_sentence) as work:
            reference = service.get_secret(
                session=work.session, user_id=work.user.id, secret_id=secret_id
            )
            uses = service.workflows_using(
                session=work.session, user_id=work.user.id, secret_id=secret_id
            )
            self.delete_id, self.delete_name = reference.id, reference.name
        if not work.done:
            return work.redirect or self._reload()
        self.delete_used_by = [use.workflow_name for use in uses]
        self.delete_error = ""
        return None

    def _close_delete(self) -> None:
        self.delete_id = self.delete_name = self.delete_error = ""
        self.delete_used_by = []

    def set_delete_open(self, is_open: bool) -> None:
        if not is_open:
            self._close_delete()

    def delete(self) -> EventSpec | None:
        with self._unit_of_work(
            error_var="delete_error", message=refusal_sentence, user_first=True
        ) as work:
            service.delete_secret(
                session=work.session,
                user_id=work.user.id,
                store=process_secret_store(),
                secret_id=self.delete_id,
            )
        if not work.done:
            return work.redirect
        deleted = self.delete_name
        self._close_delete()
        return self._reload() or rx.toast.success(f"Credential {deleted!r} deleted")
