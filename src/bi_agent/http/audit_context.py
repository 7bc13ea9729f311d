"""What an audit record needs to know about the HTTP request: its id, the client and the purpose.

The request id is the caller's `X-Request-ID` when it is a plain token (letters,
digits and `._:-`, at most 128), else one made here; it is kept on the request, so
every record of one request carries the same id. The purpose of use comes from
`X-Purpose` (a code such as TREAT, PAYMENT, OPERATIONS, or a ticket number: never
patient details); the domain strips control characters and cuts it to 200
characters. The client address is the peer's address as uvicorn saw it; only a peer
listed in FORWARDED_ALLOW_IPS (the web, a reverse proxy) may name another one in
`X-Forwarded-For`, because `bi-agent up` and compose start uvicorn with
`--forwarded-allow-ips` from that setting (or `--no-proxy-headers` when it is empty).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Request

from bi_agent.security.audit import RequestInfo

REQUEST_ID_HEADER = "X-Request-ID"
PURPOSE_HEADER = "X-Purpose"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATE_KEY = "audit_request_info"


def request_info(request: Request) -> RequestInfo:
    """The request's id, client address and declared purpose, the same on every call."""
    known: RequestInfo | None = getattr(request.state, _STATE_KEY, None)
    if known is not None:
        return known
    sent_id = request.headers.get(REQUEST_ID_HEADER, "")
    info = RequestInfo(
        request_id=sent_id if _REQUEST_ID.fullmatch(sent_id) else uuid.uuid4().hex,
        client_address=request.client.host if request.client else None,
        purpose=request.headers.get(PURPOSE_HEADER) or None,
    )
    setattr(request.state, _STATE_KEY, info)
    return info


async def get_request_info(request: Request) -> RequestInfo:
    return request_info(request)


RequestInfoDep = Annotated[RequestInfo, Depends(get_request_info)]
