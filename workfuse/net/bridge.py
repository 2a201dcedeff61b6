"""The guarded client for SDKs built on ``httpx2`` (the Anthropic SDK, pydantic-ai's
own code), which refuse an ``httpx`` client.

:func:`httpx2_async_client` returns an ``httpx2.AsyncClient`` whose transport hands
every request to a guarded ``httpx`` client (:func:`workfuse.net.async_client`), so the
egress guard, redirect checks and timeouts are the same as everywhere else. The
request body is read before sending (SDK requests are JSON documents); responses
stream, so server-sent events arrive as they are sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import httpx2

from workfuse.net.clients import async_client


class _ResponseStream(httpx2.AsyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()


class GuardedBridgeTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport that sends through a guarded ``httpx`` client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            outgoing = self._client.build_request(
                request.method,
                str(request.url),
                headers=list(request.headers.raw),
                content=await request.aread(),
            )
            response = await self._client.send(outgoing, stream=True)
        except httpx.TimeoutException as error:
            raise httpx2.TimeoutException(str(error), request=request) from error
        except httpx.TransportError as error:
            raise httpx2.ConnectError(str(error), request=request) from error
        return httpx2.Response(
            response.status_code,
            headers=list(response.headers.raw),
            stream=_ResponseStream(response),
            request=request,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def httpx2_async_client(*, timeout: float = 30.0) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` through the egress guard; ``timeout`` as for
    :func:`workfuse.net.async_client` (seconds, per phase, not a total deadline).
    Redirects are followed (and checked) by the guarded client underneath."""
    return httpx2.AsyncClient(
        transport=GuardedBridgeTransport(async_client(timeout=timeout)),
        timeout=timeout,
        trust_env=False,
    )
