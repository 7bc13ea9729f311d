"""Predictions: a batch of records through a model version, in one call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from bi_agent.errors import InvalidInputError, PayloadTooLargeError
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.request_bounds import BodyLimit
from bi_agent.ml import predictions
from bi_agent.security.permissions import Permission, Principal

# 50,000 records of a few dozen features fit well within this.
MAX_BODY_BYTES = 64 << 20
PREDICT_BODY_LIMIT = BodyLimit("POST", "/api/v1/models/{name}/predict", MAX_BODY_BYTES, "a prediction batch's limit")


@asynccontextmanager
async def _model_cache(app: FastAPI) -> AsyncIterator[None]:
    app.state.model_cache = predictions.ModelCache()
    yield


router = APIRouter(prefix="/models", tags=["predictions"], lifespan=_model_cache)

CanPredict = Annotated[Principal, require(Permission.MODELS_PREDICT)]

_RECORD = {"type": "object", "additionalProperties": {"type": ["number", "string", "boolean", "null"]}}
_BODY_SCHEMA = {
    "type": "object",
    "properties": {
        "records": {"type": "array", "items": _RECORD, "maxItems": predictions.MAX_RECORDS},
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}, "maxItems": predictions.MAX_RECORDS},
            },
            "required": ["columns", "data"],
        },
        "version": {"type": "integer", "minimum": 1},
        "alias": {"type": "string"},
    },
    "example": {"records": [{"age": 42, "plan": "basic"}], "alias": "production"},
}


@router.post(
    "/{name}/predict",
    summary="Predict a batch",
    # Declared for the spec; the reply is encoded from the arrays (Prediction.as_json), not validated.
    response_model=predictions.PredictionReply,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}},
)
async def predict(request: Request, principal: CanPredict, connections: ConnectionsDep, name: str) -> Response:
    """`{"records": [{feature: value}]}` or `{"dataframe_split": {"columns", "data"}}`, with an
    optional `version` or `alias` (default: `production`, else the latest version). Replies
    `{"model", "version", "predictions"}`, and for a classifier `classes` and per record its
    `probabilities` in that order. At most 50,000 records (413 beyond); every record carries
    exactly the model's features (422 listing what is missing, extra or mistyped, and NaN or
    infinite values); `null` is a missing value, filled in as in training."""
    # Read by hand, not through a pydantic model: a 10,000-record batch would spend longer
    # being validated field by field than being predicted. The checks are per column, and
    # orjson decodes and encodes in a fifth of the time of the json module (measured in
    # bench/predict_speed.py), which is most of what a batch costs besides the model.
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"the body has {int(declared):,} bytes; at most {MAX_BODY_BYTES:,} are taken")
    raw = await _read_body(request)
    cache: predictions.ModelCache = request.app.state.model_cache
    bucket = connections.settings.minio_bucket_models

    def answer() -> bytes:
        batch = predictions.read_input(_decode(raw))
        return predictions.predict(connections.engine, connections.s3, bucket, cache, name, batch).as_json()

    return Response(await run_in_threadpool(answer), media_type="application/json")


async def _read_body(request: Request) -> bytes:
    """The body, refused once it passes the limit (a chunked body declares no length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLargeError(f"the body is larger than the {MAX_BODY_BYTES:,} bytes a request may carry")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses NaN and Infinity, which Python's json reads: then the checks of the
    # batch can name the feature and the records that hold them. Anything else is reported
    # with json's line and column.
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f" at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        raise InvalidInputError(f"the body is not valid JSON{where}: {getattr(error, 'msg', error)}") from None
