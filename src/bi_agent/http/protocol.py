"""The HTTP/1.1 protocol both services run under uvicorn: httptools, with a timeout on headers.

uvicorn arms its keep-alive timer only after a response, and any byte received stops it,
so a client that opens a connection and sends its headers a byte at a time (slowloris)
keeps it for as long as it likes. Here a request's line and headers must be complete
within HTTP_HEADER_TIMEOUT_SECONDS of the connection's start (the first request) or of
the request's first byte (a later one on a kept-alive connection); else the client gets
408 and the connection is closed. uvicorn runs it with
`--http bi_agent.http.protocol:BoundedHttpToolsProtocol`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bi_agent.settings import get_settings


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Request Timeout",
            "status": 408,
            "detail": f"the request line and headers did not arrive within {seconds:g} s "
            "(HTTP_HEADER_TIMEOUT_SECONDS); the connection is closed",
            "errors": [],
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_seconds = get_settings().http_header_timeout_seconds
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        # Armed once per request: a byte a second must not push the deadline back.
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(self.header_timeout_seconds, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_timed_out(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_timeout_response(self.header_timeout_seconds))
        self.transport.close()
