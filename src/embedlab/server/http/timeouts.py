"""Deadlines for slow clients: headers and body must arrive in time, or the connection is cut.

Why: uvicorn times out only idle keep-alive connections; a client that sends its headers or its
body a byte at a time holds a connection (and, for the body, a request's memory) forever, and a
few hundred such clients exhaust the server. Two parts:

- :class:`HeaderDeadlineProtocol`: uvicorn's HTTP protocol with a timer from connection (and from
  the end of each response) to the next request's complete headers; late headers close the
  connection. The ASGI app never sees those requests, so this lives at the protocol level.
- :class:`BodyDeadline`: ASGI middleware giving the whole body ``body_timeout_s`` from the
  app's first read; when it passes, the client gets 408 and the app a disconnect.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from embedlab.server.http.errors import ApiError, send_error


class HeaderDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's protocol (httptools or h11), closing connections whose headers come late.

    ``timeout_s`` is a class attribute because uvicorn builds the protocol itself; the app
    factory sets it from the server's config (one config per process).
    """

    timeout_s: float = 10.0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        handle = getattr(self, "_header_deadline", None)
        if handle is not None:
            handle.cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        handle = getattr(self, "_header_deadline", None)
        if handle is not None:
            handle.cancel()
        self._header_deadline = self.loop.call_later(self.timeout_s, self._headers_late, self.cycle)

    def _headers_late(self, cycle: Any) -> None:
        """No request has started since the timer was armed: the headers are late."""
        waiting = self.cycle is cycle and (cycle is None or cycle.response_complete)
        if waiting and not self.transport.is_closing():
            self.transport.close()


class BodyDeadline:
    """ASGI middleware: the request body must arrive within ``timeout_s`` of the first read."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        complete = False
        late = False
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline, complete, late
            if complete or late:
                return await receive()  # after the body: waiting for a disconnect is fine
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.timeout_s
            try:
                async with asyncio.timeout_at(deadline):  # no task per read, as wait_for makes
                    message = await receive()
            except TimeoutError:
                late = True
                if not started:
                    await send_error(send, _late(self.timeout_s))
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if late:
                return  # the 408 has been sent; the app's answer to the disconnect is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, timed_receive, guarded_send)


def _late(timeout_s: float) -> ApiError:
    return ApiError(
        408,
        f"the request body did not arrive within {timeout_s:g} s; send it at once",
        code="request_timeout",
        headers={"Connection": "close"},
    )


def uvicorn_options(config: Any) -> dict[str, Any]:
    """What ``uvicorn.Config`` needs for the deadlines: the protocol, set to ``config``'s
    header timeout."""
    HeaderDeadlineProtocol.timeout_s = config.header_timeout_s
    return {"http": HeaderDeadlineProtocol}
