"""Read-your-writes for the caches that trust the catalog epoch.

A request that changed the catalog (or saw a job that did finish) marks itself; before
its reply goes out, this process reads the epoch instead of waiting for the NOTIFY, so
the caller's next request cannot be answered from a cache entry older than the change.
A pure ASGI middleware: the cached query passes through it on every hit.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bi_agent.infra.catalog_epoch import CatalogEpoch

_FLAG = "catalog_changed"


def mark_catalog_changed(request: Request) -> None:
    setattr(request.state, _FLAG, True)


class CatalogCatchUp:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_after_catching_up(message: Message) -> None:
            state: dict[str, Any] = scope.get("state", {})
            if message["type"] == "http.response.start" and state.pop(_FLAG, False):
                epoch: CatalogEpoch | None = getattr(scope["app"].state, "catalog_epoch", None)
                if epoch is not None:
                    await run_in_threadpool(epoch.catch_up)
            await send(message)

        await self.app(scope, receive, send_after_catching_up)


def install_catalog_catch_up(app: FastAPI) -> None:
    app.add_middleware(CatalogCatchUp)
