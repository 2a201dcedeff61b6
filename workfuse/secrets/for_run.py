"""The credential values one execution reads: those it names that its user owns.

Used by the engine when a run starts and by the services that run a node for a person
(test prompts, magic input); the engine reads it here rather than through
``workfuse.services``, which sits above the engine.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from workfuse.models import SecretReference
from workfuse.secrets.base import SecretStore
from workfuse.secrets.redaction import Redactor


def values_for_run(
    *,
    session: Session,
    store: SecretStore,
    user_id: str,
    arns: Iterable[str],
    redactors: Iterable[Redactor] = (),
) -> dict[str, str]:
    """The values of the credentials a run names by ARN, only those the user owns.

    An ARN the user does not own (or that is gone) is left out: the node that needs it
    fails with a clear "credential not available" error. Each value is registered with
    every redactor before it is returned. Raises ``SecretStoreError`` if the store fails.
    """
    wanted = list(arns)
    if not wanted:
        return {}
    references = session.exec(
        select(SecretReference).where(
            SecretReference.user_id == user_id, col(SecretReference.arn).in_(wanted)
        )
    ).all()
    values = {reference.arn: store.get_secret_value(reference.arn) for reference in references}
    for redactor in redactors:
        for value in values.values():
            redactor.register(value)
    return values
