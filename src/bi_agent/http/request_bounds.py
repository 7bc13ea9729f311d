"""Bounds on what a request may send: its body's size, per route, the wait for each chunk, and its pace.

A body over its route's limit is refused with 413 as soon as its Content-Length says so,
before any of it is read, or as soon as the bytes streamed in pass the limit (a chunked
body declares no length). A client that stops sending in the middle of a body gets 408
after HTTP_BODY_TIMEOUT_SECONDS, and so does one that sends too slowly on average: a body
has HTTP_BODY_TIMEOUT_SECONDS from when the application first reads it, and each byte it
sends buys 1 / HTTP_BODY_MIN_BYTES_PER_SECOND seconds more (judged as each part arrives), so
a trickle cannot hold a connection, and an upload's slot, for ever. Each refusal closes the
connection, so the rest of the body is never read. Every route takes HTTP_MAX_JSON_BODY_KB
unless the service gives it a BodyLimit of its own (an upload, a prediction batch). The wait for the headers is bounded
by the HTTP protocol (`bi_agent.http.protocol`): the application never sees them before.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bi_agent.http.problems import problem

CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class BodyLimit:
    """`max_bytes` for the bodies of `method` on the routes `template` (`/models/{name}/predict`)
    matches; `source` names where the limit comes from (a setting), for the refusal."""

    method: str
    template: str
    max_bytes: int
    source: str

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and _pattern(self.template).fullmatch(path) is not None


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)))


def describe_size(size: int) -> str:
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20} MB"
    if size >= 1 << 10 and size % (1 << 10) == 0:
        return f"{size >> 10} KB"
    return f"{size:,} bytes"


class RequestBounds:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default: BodyLimit,
        limits: Sequence[BodyLimit],
        body_timeout_seconds: float,
        body_min_bytes_per_second: int = 0,
    ) -> None:
        """`body_min_bytes_per_second` 0 sets no pace, only the wait for each chunk."""
        self.app = app
        self.default = default
        self.limits = tuple(limits)
        self.body_timeout_seconds = body_timeout_seconds
        self.body_min_bytes_per_second = body_min_bytes_per_second

    def limit_for(self, method: str, path: str) -> BodyLimit:
        return next((limit for limit in self.limits if limit.matches(method, path)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = f"{scope['method']} {scope['path']}"
        limit = self.limit_for(scope["method"], scope["path"])
        too_large = (
            f"{where}: the body is larger than the {describe_size(limit.max_bytes)} this route takes ({limit.source})"
        )
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit.max_bytes:
            # Answered before a byte of the body is read.
            response = problem(413, HTTPStatus.REQUEST_ENTITY_TOO_LARGE.phrase, too_large)
            response.headers.update(CLOSE)
            await response(scope, receive, send)
            return
        received = 0
        body_complete = False
        loop = asyncio.get_running_loop()
        started: float | None = None

        async def bounded_receive() -> Message:
            nonlocal received, body_complete, started
            if body_complete:
                # Only the disconnect is left to wait for, however long the response takes.
                return await receive()
            if started is None:
                started = loop.time()
            try:
                async with asyncio.timeout(self.body_timeout_seconds):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"{where}: no part of the body arrived for {self.body_timeout_seconds:g} s "
                    f"after {received:,} bytes (HTTP_BODY_TIMEOUT_SECONDS); the connection is closed",
                    headers=CLOSE,
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    raise HTTPException(413, too_large, headers=CLOSE)
                body_complete = not message.get("more_body", False)
                elapsed = loop.time() - started
                if not body_complete and self._too_slow(elapsed, received):
                    raise HTTPException(
                        408,
                        f"{where}: the body came slower than {self.body_min_bytes_per_second:,} bytes a second "
                        f"on average, {received:,} bytes in {elapsed:.0f} s "
                        "(HTTP_BODY_MIN_BYTES_PER_SECOND, after HTTP_BODY_TIMEOUT_SECONDS); the connection is closed",
                        headers=CLOSE,
                    )
            return message

        await self.app(scope, bounded_receive, send)

    def _too_slow(self, elapsed: float, received: int) -> bool:
        """Whether a body `elapsed` seconds along with `received` bytes has fallen below the pace:
        it has HTTP_BODY_TIMEOUT_SECONDS, and 1/HTTP_BODY_MIN_BYTES_PER_SECOND more for each byte.
        Judged as each part arrives: a stall in between is cut off by the wait for each part."""
        rate = self.body_min_bytes_per_second
        return rate > 0 and elapsed > self.body_timeout_seconds + received / rate
