"""Webhook calls: ``/hooks/{token}`` becomes a stored, enqueued execution.

:func:`receive_webhook` looks up the active workflow by its token, applies the
trigger's options (accepted methods, HMAC signature, idempotency header), turns the
request into the trigger payload and starts an execution (stored and committed before
it is enqueued, so a broker outage loses nothing; the calls of this process that
arrive while another is being stored are stored together, see
:mod:`workfuse.group_commit`). :func:`wait_for_result` is the synchronous mode: it
waits for the execution to end and reads the output of the last node that succeeded.

The trigger payload that templates see as ``trigger``::

    {"source": "webhook", "method": "POST", "data": <body>, "headers": {...},
     "query": {...}}

- ``data``: a JSON body parsed; a form body (``application/x-www-form-urlencoded``)
  as an object; ``text/*`` as a string; anything else as
  ``{"contentType": ..., "base64": ...}``; no body at all as ``null``.
- ``headers``: lowercase names; a repeated header joined with ``", "``. Left out:
  ``Authorization``, ``Cookie``, ``Proxy-Authorization``, the signature header and
  every header whose name contains ``token``, ``secret``, ``key``, ``signature``,
  ``auth``, ``password`` or ``credential``.
- ``query`` (and form fields): a repeated name becomes a list of its values.

A signature is accepted once (replays are refused with :class:`SignatureReplayed`,
409): the signatures of stored calls are kept in ``webhook_signatures``, claimed in the
transaction that stores the call's execution, so two app processes that get the same
call at once store it once, and a call that stored nothing used up nothing. A
signature with a timestamp is kept until the timestamp leaves the tolerance window
(then the timestamp check refuses it anyway); a signature over the body alone never
expires, so it is kept as long as runs are (``WORKFUSE_RETENTION_DAYS``; for ever with
0). Expired ones are pruned by the retention job. A repeated signature is refused
even when its idempotency key names a stored run.

Limits: the signing key is read from the secret store on every signed call (no cache,
so a rotated key applies at once; with AWS Secrets Manager that is a network round
trip). One signature per header (schemes that send several, such as Stripe's
``t=...,v1=...``, are not understood).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from workfuse.caching import BoundedCache
from workfuse.db import get_engine, session_scope, statement_scope
from workfuse.db_types import MAX_JSON_DEPTH, json_too_deep, new_id, utcnow
from workfuse.engine.plan import load_plan
from workfuse.engine.state import TERMINAL
from workfuse.group_commit import GroupCommit
from workfuse.logs import REDACTOR
from workfuse.models import (
    Execution,
    ExecutionStatus,
    NodeRunStatus,
    SecretReference,
    WebhookSignature,
    Workflow,
)
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.trigger import TriggerNodeConfig, WebhookHmac
from workfuse.secrets import SecretNotFound, process_secret_store
from workfuse.services.errors import (
    UNSTORABLE_TEXT,
    BadRequest,
    Conflict,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    ServiceError,
    Unauthorized,
    reject_unstorable_text,
)
from workfuse.services.executions import execution_by_idempotency_key, node_runs, send
from workfuse.services.workflows import ensure_runnable
from workfuse.settings import get_settings

log = logging.getLogger(__name__)

SYNC_POLL_S = 0.02  #: seconds between two looks at a synchronous call's execution
MAX_TOKEN_LENGTH = 64  #: characters; a longer token cannot exist
MAX_IDEMPOTENCY_KEY = 200  #: characters (the column's size)
MAX_CACHED_TARGETS = 4096  #: webhook URLs whose workflow details are kept
MAX_BATCH = 64  #: executions stored by one statement (10 parameters each)
HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
NO_ACTIVE_WORKFLOW = "no active workflow has this webhook URL"
HIDDEN_HEADER_WORDS = ("token", "secret", "key", "signature", "auth", "password", "credential")

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}", re.ASCII)
_V = TypeVar("_V")


class SignatureReplayed(Conflict):
    """A signed call whose signature was already accepted: a replay (409)."""

    code = "WEBHOOK_REPLAYED"

    def __init__(self) -> None:
        super().__init__(
            "this signature was already used: a signed call is accepted once; sign the "
            "call again (with a new timestamp) to send it again"
        )


@dataclass(frozen=True)
class SignatureClaim:
    """A signed call's claim on its signature: ``digest`` (SHA-256 of the algorithm and
    the HMAC) is not accepted again for the workflow until ``expires_at`` (None: never)."""

    digest: str
    expires_at: datetime | None


@dataclass(frozen=True)
class WebhookResult:
    """An accepted call: the execution's id and, once it has ended, status and output.

    ``wait_seconds`` is the trigger's synchronous mode (None: answer at once).
    """

    execution_id: str
    status: ExecutionStatus
    output: Any = None
    wait_seconds: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


# --- the call -----------------------------------------------------------------------


def receive_webhook(
    *,
    session: Session,
    token: str,
    method: str,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
    body: bytes,
    content_type: str | None,
) -> WebhookResult:
    """Check the call against the workflow's trigger and start an execution.

    ``session`` is only read from: the execution is stored and committed through a
    connection of its own, with the executions of concurrent calls. So a caller must
    not hold uncommitted writes in ``session`` (on SQLite the store would wait for them);
    its read transaction is ended (committed) before the store, so the call holds one
    database connection at a time.

    Under overload a database error (``sqlalchemy.exc.TimeoutError`` from a used-up
    pool, ``OperationalError``) is raised, and then nothing was stored for this call
    (the API answers 503); a call that returns has its execution stored.

    Raises :class:`NotFound` (unknown token or inactive workflow),
    :class:`MethodNotAllowed`, :class:`Unauthorized` (signature missing, wrong or
    stale) and :class:`BadRequest` (a body that is not what it claims to be). A
    refused call stores nothing. A repeated idempotency key returns the first
    execution and starts nothing.

    The workflow's webhook details are cached per token; the INSERT itself checks that
    the workflow is still active at that version, so a cached entry never starts a run
    the database would refuse (a changed workflow is read again and the call
    re-checked against it, as is a call refused on the strength of a cached entry).
    """
    method = method.upper()
    header_map = _joined(headers)
    for cached in (True, False):
        target, was_cached = _webhook_target(session, token, cached=cached)
        config = target.config
        try:
            idempotency_key, claim = _check_call(session, target, method, header_map, body)
        except ServiceError:
            if not was_cached:
                raise
            _targets.discard(token)  # refused by what the app knew: read the workflow again
            continue
        if idempotency_key is not None:
            existing = execution_by_idempotency_key(session, target.workflow_id, idempotency_key)
            if existing is not None:
                if claim is not None and _signature_used(session, target.workflow_id, claim):
                    raise SignatureReplayed()  # a replay learns nothing of the first run
                wait = config.sync_timeout_seconds
                return WebhookResult(existing.id, existing.status, wait_seconds=wait)
        payload = {
            "source": "webhook",
            "method": method,
            "data": parse_body(body, content_type),
            "headers": public_headers(header_map, config),
            "query": _checked(_multi_dict(query), "the query string"),
        }
        _release_connection(session)  # the store below takes a connection of its own
        execution_id = _store_execution(target, payload, idempotency_key, claim)
        if execution_id is not None:
            send(execution_id)
            wait = config.sync_timeout_seconds
            return WebhookResult(execution_id, ExecutionStatus.PENDING, wait_seconds=wait)
        _targets.discard(token)  # the workflow changed since it was cached: read it again
    raise NotFound(NO_ACTIVE_WORKFLOW)  # changed again meanwhile: treat as gone


def _release_connection(session: Session) -> None:
    """End ``session``'s read transaction, so its connection goes back to the pool before
    the call waits for another one (the group commit's, the secret store's). A call
    never holds one connection while it waits for a second: under a burst, calls that
    each held one and waited for another used up the pool and waited on each other
    until the pool timed out."""
    session.commit()


def _check_call(
    session: Session,
    target: WebhookTarget,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[str | None, SignatureClaim | None]:
    """Refuse a call the trigger does not accept (method, signature); its idempotency
    key, if the trigger reads one, and its claim on its signature, if it is signed."""
    config = target.config
    if method not in config.methods:
        raise MethodNotAllowed(
            f"this webhook accepts {', '.join(config.methods)}, not {method}",
            list(config.methods),
        )
    claim = None
    if config.hmac is not None:
        key = _signing_key(session, target, config.hmac)
        now = time.time()
        signature = verify_signature(config.hmac, key=key, headers=headers, body=body, now=now)
        claim = signature_claim(config.hmac, signature, headers=headers, now=now)
    return _idempotency_key(config, headers), claim


@dataclass(frozen=True)
class WebhookTarget:
    """What a call needs of the workflow behind a webhook URL, as of one saved version."""

    token: str
    workflow_id: str
    user_id: str
    version: int
    config: TriggerNodeConfig


_targets: BoundedCache[str, WebhookTarget] = BoundedCache(MAX_CACHED_TARGETS)


def _webhook_target(session: Session, token: str, *, cached: bool) -> tuple[WebhookTarget, bool]:
    """The workflow behind ``token`` (from the cache if ``cached`` and there) and whether
    it came from the cache. :class:`NotFound` for an unknown token or inactive workflow."""
    target = _targets.get(token) if cached else None
    if target is not None:
        return target, True
    workflow = None
    # A token PostgreSQL cannot even compare (NUL) cannot exist either.
    if token and len(token) <= MAX_TOKEN_LENGTH and not UNSTORABLE_TEXT.search(token):
        workflow = session.exec(select(Workflow).where(Workflow.webhook_token == token)).first()
    if workflow is None or not workflow.is_active:
        # The same answer for both, so a token cannot be probed for existence.
        raise NotFound(NO_ACTIVE_WORKFLOW)
    ensure_runnable(workflow)
    target = WebhookTarget(
        token=token,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        version=workflow.version,
        config=trigger_config(workflow),
    )
    return _targets.put(token, target), False


def trigger_config(workflow: Workflow) -> TriggerNodeConfig:
    """The trigger node's config of this version of ``workflow``."""
    trigger = REGISTRY.trigger_node(workflow.graph.get("nodes") or [])
    raw = ((trigger or {}).get("data") or {}).get("config") or {}
    return TriggerNodeConfig.model_validate(raw)


def _store_execution(
    target: WebhookTarget,
    payload: dict[str, Any],
    idempotency_key: str | None,
    claim: SignatureClaim | None = None,
) -> str | None:
    """Store a PENDING execution if the workflow is still active at ``target.version``
    (committed with the rows of concurrent calls, see :func:`_insert_executions`); its
    id, or None when the workflow changed (nothing stored). A key taken by a concurrent
    call returns that call's execution id; a signature already used (``claim``) is
    :class:`SignatureReplayed`."""
    return _intake.submit(_execution_row(target, payload, idempotency_key, claim))


#: The key of a row's signature claim (not a column of ``executions``).
CLAIM = "signature_claim"


def _execution_row(
    target: WebhookTarget,
    payload: dict[str, Any],
    idempotency_key: str | None,
    claim: SignatureClaim | None = None,
) -> dict[str, Any]:
    """A new PENDING execution's row for :func:`_insert_executions` (plus the token its
    workflow must still have, and the call's signature claim)."""
    return {
        "id": new_id(),
        "status": ExecutionStatus.PENDING,
        "trigger_data": payload,
        "node_results": {},
        "started_at": utcnow(),
        "workflow_version": target.version,
        "idempotency_key": idempotency_key,
        "workflow_id": target.workflow_id,
        "user_id": target.user_id,
        "current_token": target.token,
        CLAIM: claim,
    }


def _insert_executions(rows: Sequence[dict[str, Any]]) -> list[str | Exception | None]:
    """Insert the calls' executions with one statement (autocommit on PostgreSQL, one
    transaction on SQLite); per row its id, or None if its workflow changed. A row
    whose idempotency key is taken (by an earlier call or another row of the batch)
    fails the statement; the rows are then inserted one by one: that row gets the id
    of the execution that has its key, and a row that fails on its own gets its error
    (for its caller only).

    A batch with signed rows is one transaction on PostgreSQL too: the stored signed
    rows claim their signatures in it, and one whose signature is taken (by an earlier
    call, a concurrent one, or an earlier row of the batch) gets
    :class:`SignatureReplayed`, its execution deleted again before the commit. A row
    that is not stored (its workflow changed or is gone) claims nothing."""
    results: list[str | Exception | None] = [None] * len(rows)
    seen: set[tuple[str, str]] = set()
    for index, row in enumerate(rows):  # a signature twice in one batch: the first wins
        claim: SignatureClaim | None = row.get(CLAIM)
        if claim is not None:
            if (row["workflow_id"], claim.digest) in seen:
                results[index] = SignatureReplayed()
            seen.add((row["workflow_id"], claim.digest))
    candidates = [index for index in range(len(rows)) if results[index] is None]
    writing = [rows[index] for index in candidates]
    signed = any(row.get(CLAIM) is not None for row in writing)
    replayed: set[str] = set()
    try:
        with _write_scope(transaction=signed) as connection:
            result = connection.execute(_insert_if_unchanged(len(writing)), _parameters(writing))
            stored: set[str] = set(result.scalars())
            if signed:
                replayed = _keep_first_signatures(connection, writing, stored)
    except IntegrityError as error:
        if len(candidates) > 1:
            for index in candidates:
                results[index] = _insert_alone(rows[index])
            return results
        existing = _execution_with_key(rows[candidates[0]])
        results[candidates[0]] = error if existing is None else existing
        return results
    for index in candidates:
        if rows[index]["id"] in replayed:
            results[index] = SignatureReplayed()
        elif rows[index]["id"] in stored:
            results[index] = rows[index]["id"]
    return results


def _keep_first_signatures(
    connection: sa.Connection, rows: Sequence[dict[str, Any]], stored: set[str]
) -> set[str]:
    """Claim the signatures of the signed ``rows`` that were ``stored``; delete the
    executions whose signature was taken and return their ids."""
    signed = [row for row in rows if row.get(CLAIM) is not None and row["id"] in stored]
    granted = _claim_signatures(connection, signed)
    refused = [
        row["id"] for row in signed if (row["workflow_id"], row[CLAIM].digest) not in granted
    ]
    if refused:
        executions: sa.Table = Execution.__table__  # type: ignore[attr-defined]
        connection.execute(sa.delete(executions).where(executions.c.id.in_(refused)))
    return set(refused)


def _parameters(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of :func:`_insert_if_unchanged` for ``rows``."""
    return {
        f"{name}_{index}": value
        for index, row in enumerate(rows)
        for name, value in row.items()
        if name != CLAIM
    }


@contextmanager
def _write_scope(*, transaction: bool) -> Iterator[sa.Connection]:
    """:func:`statement_scope`, or with ``transaction`` one transaction on PostgreSQL too
    (signature claims and executions land together)."""
    if transaction:
        with get_engine().begin() as connection:
            yield connection
    else:
        with statement_scope() as connection:
            yield connection


def _insert_alone(row: dict[str, Any]) -> str | Exception | None:
    """One row of a batch that failed, inserted on its own: its result, or the error
    (a pool timeout, a database gone) for its caller only, since the rows before it
    are stored already and their callers must get their ids."""
    try:
        return _insert_executions([row])[0]
    except Exception as error:
        return error


def _execution_with_key(row: dict[str, Any]) -> str | None:
    """The id of the execution of ``row``'s workflow that has ``row``'s idempotency key."""
    if row["idempotency_key"] is None:
        return None
    with session_scope() as session:
        existing = execution_by_idempotency_key(session, row["workflow_id"], row["idempotency_key"])
    return existing.id if existing is not None else None


_intake: GroupCommit[dict[str, Any], str | None] = GroupCommit(
    _insert_executions, max_batch=MAX_BATCH
)


@lru_cache(maxsize=MAX_BATCH)
def _insert_if_unchanged(count: int) -> sa.Insert:
    """``INSERT INTO executions ... SELECT <row 0> FROM workflows WHERE <unchanged>
    UNION ALL SELECT <row 1> ... RETURNING id`` for ``count`` rows: a row's SELECT
    gives nothing unless its workflow is still active at its version with its token,
    so an id back means that row was stored. Row ``i``'s parameters are named
    ``<name>_<i>``."""
    executions: sa.Table = Execution.__table__  # type: ignore[attr-defined]
    workflows: sa.Table = Workflow.__table__  # type: ignore[attr-defined]
    names = [
        "id",
        "status",
        "trigger_data",
        "node_results",
        "started_at",
        "workflow_version",
        "idempotency_key",
        "workflow_id",
        "user_id",
    ]

    def row(index: int) -> sa.Select[Any]:
        def parameter(name: str) -> sa.BindParameter[Any]:
            type_ = executions.c[name].type if name in executions.c else sa.String()
            return sa.bindparam(f"{name}_{index}", type_=type_)

        return sa.select(*(parameter(name).label(name) for name in names)).where(
            workflows.c.id == parameter("workflow_id"),
            workflows.c.webhook_token == parameter("current_token"),
            workflows.c.version == parameter("workflow_version"),
            workflows.c.is_active.is_(True),
        )

    rows = sa.union_all(*(row(index) for index in range(count))) if count > 1 else row(0)
    return sa.insert(executions).from_select(names, rows).returning(executions.c.id)


# --- signature ----------------------------------------------------------------------


def _signing_key(session: Session, target: WebhookTarget, config: WebhookHmac) -> str:
    """The value of the credential ``config.secretArn``, if the workflow's owner has it."""
    reference = session.exec(
        select(SecretReference).where(
            SecretReference.user_id == target.user_id, SecretReference.arn == config.secret_arn
        )
    ).first()
    missing = Unauthorized(
        "the signature cannot be checked: the workflow's signing credential is missing"
    )
    if reference is None:
        log.warning(
            "workflow %s: its webhook signing credential does not exist", target.workflow_id
        )
        raise missing
    arn = reference.arn
    _release_connection(session)  # the local store reads through a connection of its own
    try:
        value = process_secret_store().get_secret_value(arn)
    except SecretNotFound:
        log.warning("workflow %s: its webhook signing credential has no value", target.workflow_id)
        raise missing from None
    REDACTOR.register(value)
    return value


def verify_signature(
    config: WebhookHmac, *, key: str, headers: Mapping[str, str], body: bytes, now: float
) -> str:
    """Refuse (:class:`Unauthorized`) unless ``headers`` carry a valid, fresh signature;
    the signature (the lowercase hex HMAC, however the caller wrote it).

    ``headers`` has lowercase names. The expected value is the lowercase hex HMAC of
    the body (``<timestamp>.<body>`` with a timestamp header), keyed with ``key`` as
    UTF-8; an ``<algorithm>=`` prefix is allowed. No message quotes the key or the
    expected signature.
    """
    sent = headers.get(config.header.lower(), "").strip()
    if not sent:
        raise Unauthorized(f"this webhook needs a signature in the {config.header} header")
    message = body
    if config.timestamp_header is not None:
        stamp = headers.get(config.timestamp_header.lower(), "").strip()
        if not stamp:
            raise Unauthorized(
                f"this webhook needs the signing time in the {config.timestamp_header} header"
            )
        if not _UNIX_SECONDS.fullmatch(stamp):
            raise Unauthorized(
                f"the {config.timestamp_header} header must be a Unix time in whole seconds"
            )
        if abs(now - int(stamp)) > config.tolerance_seconds:
            raise Unauthorized(
                f"the signing time is more than {config.tolerance_seconds} seconds away from "
                "the server's clock; sign the call again"
            )
        message = stamp.encode("ascii") + b"." + body
    prefix = f"{config.algorithm}="
    if sent[: len(prefix)].lower() == prefix:
        sent = sent[len(prefix) :]
    expected = hmac.new(key.encode("utf-8"), message, config.algorithm).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), sent.lower().encode("utf-8")):
        raise Unauthorized(
            f"the signature in the {config.header} header does not match the body "
            f"(expected the hex HMAC-{config.algorithm.upper()} of "
            f"{'<timestamp>.<body>' if config.timestamp_header else 'the raw body'})"
        )
    return expected


def signature_claim(
    config: WebhookHmac, signature: str, *, headers: Mapping[str, str], now: float
) -> SignatureClaim:
    """The claim of a call whose (verified) ``signature`` is the hex HMAC: with a
    timestamp, until the timestamp leaves the tolerance window; without one, for as
    long as runs are kept (``WORKFUSE_RETENTION_DAYS``; None, for ever, with 0)."""
    digest = hashlib.sha256(f"{config.algorithm}={signature}".encode("ascii")).hexdigest()
    if config.timestamp_header is not None:
        stamp = int(headers[config.timestamp_header.lower()].strip())
        # One second more: the window check compares whole seconds with a float clock.
        until = stamp + config.tolerance_seconds + 1
        return SignatureClaim(digest, datetime.fromtimestamp(until, UTC))
    days = get_settings().retention_days
    expires = datetime.fromtimestamp(now, UTC) + timedelta(days=days) if days else None
    return SignatureClaim(digest, expires)


def _claim_signatures(
    connection: sa.Connection, rows: Sequence[dict[str, Any]]
) -> set[tuple[str, str]]:
    """Claim the signatures of ``rows`` (distinct ones): insert each, or take over an
    expired row; the ``(workflow_id, digest)`` pairs claimed. A pair that is missing
    was taken. A concurrent claim of the same pair (another transaction, another app
    process) waits for it, then finds it taken, or free again if it rolled back."""
    if not rows:
        return set()
    table: sa.Table = WebhookSignature.__table__  # type: ignore[attr-defined]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    values = [
        {
            "workflow_id": row["workflow_id"],
            "digest": row[CLAIM].digest,
            "expires_at": row[CLAIM].expires_at,
        }
        for row in rows
    ]
    insert = dialect.insert(table).values(values)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.workflow_id, table.c.digest],
        set_={"expires_at": insert.excluded.expires_at},
        where=table.c.expires_at <= datetime.now(UTC),  # NULL (never expires) stays taken
    ).returning(table.c.workflow_id, table.c.digest)
    return {(str(row[0]), str(row[1])) for row in connection.execute(statement)}


def _signature_used(session: Session, workflow_id: str, claim: SignatureClaim) -> bool:
    """Whether a stored call of the workflow has this signature (and it has not expired)."""
    table: sa.Table = WebhookSignature.__table__  # type: ignore[attr-defined]
    found = session.execute(
        sa.select(table.c.expires_at).where(
            table.c.workflow_id == workflow_id, table.c.digest == claim.digest
        )
    ).first()
    return found is not None and (found[0] is None or found[0] > datetime.now(UTC))


def sign(key: str, body: bytes, *, algorithm: str = "sha256", timestamp: str | None = None) -> str:
    """The signature a caller sends (``<algorithm>=<hex>``): for tests and examples."""
    message = body if timestamp is None else timestamp.encode("ascii") + b"." + body
    return f"{algorithm}=" + hmac.new(key.encode("utf-8"), message, algorithm).hexdigest()


# --- payload ------------------------------------------------------------------------


def parse_body(body: bytes, content_type: str | None) -> Any:
    """The body as the trigger's ``data`` (see the module docstring)."""
    if not body:
        return None
    media, params = _media_type(content_type)
    if media == "application/json" or media.endswith("+json"):
        try:
            data = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float)
            # Fewer brackets than the limit cannot nest deeper (a count in C, no walk).
            brackets = body.count(b"[") + body.count(b"{")
            too_deep = brackets > MAX_JSON_DEPTH and json_too_deep(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"the body is not valid JSON: {error}") from None
        except RecursionError:  # the decoder's own limit, about 1,000 levels
            too_deep = True
        if too_deep:
            raise BadRequest(
                f"the body is JSON nested more than {MAX_JSON_DEPTH} levels deep, "
                "more than a run can hold"
            )
        # NUL and lone surrogates can come only from escapes or non-ASCII bytes.
        return data if body.isascii() and b"\\u" not in body else _checked(data, "the body")
    if media == "application/x-www-form-urlencoded":
        try:
            text = body.decode(params.get("charset", "utf-8"))
        except (LookupError, UnicodeDecodeError):
            raise BadRequest("the form body is not text in its declared charset") from None
        return _checked(_multi_dict(parse_qsl(text, keep_blank_values=True)), "the form body")
    if media.startswith("text/"):
        decoded: str | None
        try:
            decoded = body.decode(params.get("charset", "utf-8"))
        except (LookupError, UnicodeDecodeError):
            decoded = None  # not text after all: kept as bytes below
        if decoded is not None and not UNSTORABLE_TEXT.search(decoded):
            return decoded
    return {
        "contentType": content_type or "application/octet-stream",
        "base64": base64.b64encode(body).decode("ascii"),
    }


def public_headers(headers: Mapping[str, str], config: TriggerNodeConfig) -> dict[str, str]:
    """``headers`` without credentials: what the workflow (and its stored run) keeps."""
    hidden = HIDDEN_HEADERS
    if config.hmac is not None:
        hidden = hidden | {config.hmac.header.lower()}
    kept = {
        name: value
        for name, value in headers.items()
        if name not in hidden and not any(word in name for word in HIDDEN_HEADER_WORDS)
    }
    return _checked(kept, "a header")


def _idempotency_key(config: TriggerNodeConfig, headers: Mapping[str, str]) -> str | None:
    if config.idempotency_header is None:
        return None
    key = headers.get(config.idempotency_header.lower(), "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest(
            f"the {config.idempotency_header} header is longer than {MAX_IDEMPOTENCY_KEY} "
            "characters"
        )
    return _checked(key, f"the {config.idempotency_header} header") or None


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``("application/json", {"charset": "utf-8"})`` from a Content-Type header."""
    media, _, rest = (content_type or "").partition(";")
    params = {}
    for part in rest.split(";"):
        name, _, value = part.partition("=")
        if value:
            params[name.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lowercase names; a repeated header's values joined with ``", "`` (RFC 9110)."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        name = name.lower()
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def _multi_dict(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """One value per name as a string, a repeated name as the list of its values."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name not in result:
            result[name] = value
        elif isinstance(result[name], list):
            result[name].append(value)
        else:
            result[name] = [result[name], value]
    return result


def _checked(value: _V, what: str) -> _V:
    """Refuse text that PostgreSQL cannot store (NUL, lone surrogates), on both databases."""
    try:
        reject_unstorable_text(value, what)
    except InvalidInput as problem:
        raise BadRequest(str(problem)) from None
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


# --- synchronous mode ---------------------------------------------------------------


async def wait_for_result(*, execution_id: str, timeout_seconds: float) -> WebhookResult:
    """Wait (polling the database every ``SYNC_POLL_S``) up to ``timeout_seconds`` for the
    execution to end; its status and the output of the last node, in execution order,
    that succeeded. Not finished in time: the last status seen (``finished`` False).
    The database failing meanwhile (busy pool, down) ends the wait the same way: the
    execution is stored already, so the call is answered as accepted, not refused."""
    deadline = time.monotonic() + timeout_seconds
    result = WebhookResult(execution_id=execution_id, status=ExecutionStatus.PENDING)
    while True:
        try:
            result = await anyio.to_thread.run_sync(_current_result, execution_id)
        except (sa.exc.TimeoutError, sa.exc.OperationalError) as error:
            log.warning(
                "execution %s: stopped waiting for its result (%s)",
                execution_id,
                type(error).__name__,
            )
            return result
        remaining = deadline - time.monotonic()
        if result.finished or remaining <= 0:
            return result
        await asyncio.sleep(min(SYNC_POLL_S, remaining))


def _current_result(execution_id: str) -> WebhookResult:
    with session_scope() as session:
        execution = session.get(Execution, execution_id)
        if execution is None:  # deleted meanwhile, with its workflow
            raise NotFound(f"execution {execution_id} no longer exists")
        if execution.status not in TERMINAL:
            return WebhookResult(execution_id=execution_id, status=execution.status)
        return WebhookResult(
            execution_id=execution_id,
            status=execution.status,
            output=_final_output(session, execution),
        )


def _final_output(session: Session, execution: Execution) -> Any:
    runs = {
        run.node_id: run
        for run in node_runs(session=session, execution=execution)
        if run.status == NodeRunStatus.SUCCEEDED
    }
    if not runs:
        return None
    order = load_plan(session, execution.workflow_id, execution.workflow_version).order
    for node_id in reversed(order):
        if node_id in runs:
            return runs[node_id].output
    return None
