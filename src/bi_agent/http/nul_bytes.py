"""NUL bytes (U+0000) refused wherever a request carries text to a route: its path and query
parameters, and every string of its JSON or form body (a file's name too, not its content).

PostgreSQL stores no NUL in text, so one would reach it as an error of whatever statement first
binds the value: a 500, or a 503 had it looked like an outage. Refused here, once for every route
of both services (a dependency of the app, run after FastAPI parsed the body), it is the 422 of
any invalid field, naming where it was. Headers never get here with one: the HTTP parser refuses
a control character in a header. A route that reads its body itself (a prediction batch) has no
body field and is left to its own reading; the model gets its values, PostgreSQL does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import Request, params
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

NUL = "\x00"
MESSAGE = "NUL bytes (U+0000) are not allowed in text"

Location = tuple[str | int, ...]


async def refuse_nul_bytes(request: Request) -> None:
    found: list[Location] = [("path", name) for name, value in request.path_params.items() if NUL in str(value)]
    found += [("query", name) for name, value in request.query_params.multi_items() if NUL in name + value]
    found += [location async for location in _in_body(request)]
    if found:
        raise RequestValidationError(
            [{"type": "string_nul", "loc": location, "msg": MESSAGE, "input": None} for location in found]
        )


async def _in_body(request: Request) -> AsyncIterator[Location]:
    """The places of the body that hold a NUL, as FastAPI read it (Starlette keeps what was read)."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None:
        return
    if isinstance(body_field.field_info, params.Form):
        for name, value in (await request.form()).multi_items():
            text = (value.filename or "") if isinstance(value, UploadFile) else value
            if NUL in name + text:
                yield ("body", name, "filename") if isinstance(value, UploadFile) else ("body", name)
        return
    if not await request.body():
        return
    try:
        body = await request.json()
    except ValueError:
        # Not JSON: FastAPI refuses the body itself, as the wrong type.
        return
    for location in _in_json(body, ("body",)):
        yield location


def _in_json(value: Any, at: Location) -> Iterator[Location]:
    if isinstance(value, str):
        if NUL in value:
            yield at
    elif isinstance(value, dict):
        for key, item in value.items():
            # A key with a NUL is named by where it stands, never by itself.
            yield from [at] if NUL in key else _in_json(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _in_json(item, (*at, index))
