"""A raw Socket.IO client for Reflex's event socket (``/_event``), for tests.

It sends exactly the headers a test gives it (an ``Origin``, a ``Cookie``, a browser's
``User-Agent`` or none of them), over either Engine.IO transport, so a test can play
a hostile page's browser: open the socket, join Reflex's namespace and send one
state event, as the Reflex frontend does. Engine.IO 4 / Socket.IO 5 text packets
only; enough for one event and its answers, not a general client.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

import httpx
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

NAMESPACE = "/_event"
PATH = "/_event/"
RECORD_SEPARATOR = "\x1e"  #: between packets in one polling body
Transport = Literal["websocket", "polling"]


class Refused(Exception):
    """The server refused the handshake: ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"handshake refused: {status} {body[:200]}")
        self.status = status
        self.body = body


class _Connection(Protocol):
    def send(self, packet: str) -> None: ...
    def receive(self, timeout: float) -> list[str]: ...


class _WebSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def send(self, packet: str) -> None:
        self.connection.send(packet)

    def receive(self, timeout: float) -> list[str]:
        try:
            message = self.connection.recv(timeout=timeout)
        except TimeoutError:
            return []
        return [message if isinstance(message, str) else message.decode()]


class _Polling:
    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client, self.url = client, url

    def send(self, packet: str) -> None:
        response = self.client.post(self.url, content=packet.encode())
        if response.status_code != 200:
            raise Refused(response.status_code, response.text)

    def receive(self, timeout: float) -> list[str]:
        try:
            response = self.client.get(self.url, timeout=timeout)
        except httpx.TimeoutException:
            return []
        if response.status_code != 200:
            raise Refused(response.status_code, response.text)
        return response.text.split(RECORD_SEPARATOR)


class EventSocket:
    """An open Engine.IO connection to the event socket (not yet in the namespace)."""

    def __init__(self, connection: _Connection, open_packet: str) -> None:
        self._connection = connection
        self.open_packet = open_packet

    def join(self, timeout: float = 10) -> str:
        """Join Reflex's namespace; returns the server's answer packet (``40...`` when
        accepted, ``44...`` when its connect handler refused)."""
        self._connection.send(f"40{NAMESPACE},{{}}")
        for packet in self._packets(timeout):
            if packet.startswith((f"40{NAMESPACE}", f"44{NAMESPACE}")):
                return packet
        raise TimeoutError("no answer to the namespace connect")

    def emit_event(self, name: str, payload: dict[str, Any], pathname: str) -> None:
        """Send one Reflex state event, as the frontend does for a click or a submit."""
        event = {
            "name": name,
            "payload": payload,
            "router_data": {"pathname": pathname, "query": {}, "asPath": pathname},
        }
        self._connection.send(f"42{NAMESPACE}," + json.dumps(["event", event]))

    def answer(self, timeout: float) -> str | None:
        """The server's first event packet (a handler's state update) within ``timeout``
        seconds, or ``None``."""
        for packet in self._packets(timeout):
            if packet.startswith(f"42{NAMESPACE}"):
                return packet
        return None

    def _packets(self, timeout: float) -> Iterator[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for packet in self._connection.receive(min(left, 2.0)):
                if packet == "2":  # the server's ping
                    self._connection.send("3")
                    continue
                yield packet


@contextlib.contextmanager
def open_event_socket(
    base_url: str,
    *,
    transport: Transport,
    origin: str | None,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    address: tuple[str, int] | None = None,
    timeout: float = 10,
) -> Iterator[EventSocket]:
    """The Engine.IO handshake with these headers (and only these, plus the client
    library's ``User-Agent`` unless ``headers`` names one). ``address``: connect there
    instead of to the URL's host, which still goes into the ``Host`` header, as after
    a DNS rebinding (websocket only; for polling send a ``Host`` header). Raises
    :class:`Refused` when the server answers with an error status or without
    Engine.IO's open packet."""
    sent = dict(headers or {})
    if origin is not None:
        sent["Origin"] = origin
    if cookie is not None:
        sent["Cookie"] = cookie
    query = urlencode({"EIO": "4", "transport": transport, "token": str(uuid.uuid4())})
    if transport == "websocket":
        ws_url = base_url.replace("http://", "ws://", 1) + f"{PATH}?{query}"
        options: dict[str, Any] = {"additional_headers": sent, "open_timeout": timeout}
        if "User-Agent" in sent:
            options["user_agent_header"] = sent.pop("User-Agent")
        if address is not None:
            options["sock"] = socket.create_connection(address, timeout=timeout)
        try:
            connection = connect(ws_url, **options)
        except InvalidStatus as error:
            raise Refused(error.response.status_code, error.response.body.decode()) from None
        except InvalidHandshake as error:
            raise Refused(0, str(error)) from None
        with connection:
            websocket = _WebSocket(connection)
            opened = websocket.receive(timeout)
            if not opened or not opened[0].startswith("0{"):
                raise Refused(101, "no Engine.IO open packet")
            yield EventSocket(websocket, opened[0])
        return
    with httpx.Client(headers=sent, timeout=timeout) as client:
        response = client.get(f"{base_url}{PATH}?{query}")
        packets = response.text.split(RECORD_SEPARATOR)
        if response.status_code != 200 or not packets[0].startswith("0{"):
            raise Refused(response.status_code, response.text)
        sid = json.loads(packets[0][1:])["sid"]
        polling = _Polling(client, f"{base_url}{PATH}?{query}&{urlencode({'sid': sid})}")
        yield EventSocket(polling, packets[0])
