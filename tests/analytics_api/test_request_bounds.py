"""Bounded requests against a real uvicorn: bodies over their route's limit get 413 before they
are read, slow clients are cut off (a stalled body, and one that trickles in), and a gzip or
Parquet bomb is refused at its limit in bounded memory."""

from __future__ import annotations

import os
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bench.servers import http_service

from bi_agent.settings import Settings
from tests.analytics_api.conftest import Api, bearer
from tests.conftest import EmbeddedStack

TIMEOUT_SECONDS = 2
# A body has TIMEOUT_SECONDS, and 1/10 s more for each byte it sends.
MIN_BYTES_PER_SECOND = 10
UPLOAD_LIMIT_MB = 16
UNCOMPRESSED_LIMIT_MB = 64
# The most the API's memory may grow by during an upload.
MEMORY_BOUND_BYTES = 256 << 20


def service_env(home: Path, settings: Settings) -> dict[str, str]:
    """The environment of an API with a home of its own on the servers and credentials of `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "REDIS_", "MINIO_"))}
    access_key, secret_key = settings.s3_credentials()
    env.update(
        BI_AGENT_HOME=str(home),
        DATABASE_URL=str(settings.database_url),
        REDIS_URL=settings.redis_address(),
        MINIO_ENDPOINT=settings.s3_endpoint(),
        MINIO_ROOT_USER=access_key,
        MINIO_ROOT_PASSWORD=secret_key,
        JWT_SECRET=settings.signing_secret(),
        HTTP_HEADER_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        HTTP_BODY_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        HTTP_BODY_MIN_BYTES_PER_SECOND=str(MIN_BYTES_PER_SECOND),
        IMPORT_MAX_UPLOAD_MB=str(UPLOAD_LIMIT_MB),
        IMPORT_MAX_UNCOMPRESSED_MB=str(UNCOMPRESSED_LIMIT_MB),
    )
    return env


@pytest.fixture
def server(embedded: EmbeddedStack, tmp_path: Path) -> Iterator[tuple[str, psutil.Process]]:
    """The Analytics API on the embedded stack: the refusals here come before any database work."""
    env = service_env(tmp_path, embedded.settings())
    with (
        (tmp_path / "api.log").open("wb") as log,
        http_service("bi_agent.analytics_api.app:create_app", "API", log, env) as running,
    ):
        yield running


def exchange(base: str, request: bytes, *, wait: float = 10) -> tuple[bytes, float]:
    """Send `request` (and nothing more), and read until the server closes: the reply and the seconds taken."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(request)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    return reply, time.monotonic() - started


def test_an_upload_over_the_limit_is_refused_from_its_content_length(server: tuple[str, psutil.Process]) -> None:
    base, _ = server
    size = (UPLOAD_LIMIT_MB + 2) << 20
    head = (
        f"POST /api/v1/datasets HTTP/1.1\r\nHost: api\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    reply, _ = exchange(base, head)  # the body is never sent
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert b"application/problem+json" in reply
    assert b"POST /api/v1/datasets: the body is larger than the 17 MB this route takes (IMPORT_MAX_UPLOAD_MB)" in reply


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server: tuple[str, psutil.Process]) -> None:
    base, _ = server

    def chunks() -> Iterator[bytes]:
        for _ in range(2 * 1024):
            yield b"x" * 1024

    reply = httpx.post(f"{base}/api/v1/query", content=chunks(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413, reply.text
    assert reply.json()["detail"] == (
        "POST /api/v1/query: the body is larger than the 1 MB this route takes (HTTP_MAX_JSON_BODY_KB)"
    )


def test_a_2_mb_json_query_is_413(server: tuple[str, psutil.Process]) -> None:
    base, _ = server
    body = b'{"metric": "' + b"m" * (2 << 20) + b'"}'
    reply = httpx.post(f"{base}/api/v1/query", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert "1 MB" in reply.json()["detail"]


def test_slow_headers_and_a_stalled_body_are_cut_off(server: tuple[str, psutil.Process]) -> None:
    base, _ = server
    reply, seconds = exchange(base, b"GET /health HTTP/1.1\r\nHost: api\r\nX-Slow: ")
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"HTTP_HEADER_TIMEOUT_SECONDS" in reply
    assert TIMEOUT_SECONDS - 0.5 < seconds < TIMEOUT_SECONDS + 3

    stalled = (
        b"POST /api/v1/query HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    reply, seconds = exchange(base, stalled)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"no part of the body arrived for 2 s after 1 bytes (HTTP_BODY_TIMEOUT_SECONDS)" in reply
    assert TIMEOUT_SECONDS - 0.5 < seconds < TIMEOUT_SECONDS + 3


def test_a_body_that_trickles_in_is_cut_off_at_its_pace(server: tuple[str, psutil.Process]) -> None:
    # A byte every half second: never a stall as long as the body timeout, but 2 bytes a second
    # against the 10 asked, so the body's time (2 s and 0.1 s a byte) runs out after about 2.5 s.
    base, _ = server
    host, port = base.removeprefix("http://").split(":")
    head = b"POST /api/v1/query HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    started = time.monotonic()
    sent = 0
    reply = b""
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head)
        connection.settimeout(0.5)
        while time.monotonic() - started < 15:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                try:
                    connection.sendall(b" ")
                    sent += 1
                except OSError:
                    break
                continue
            if not chunk:
                break
            reply += chunk
    seconds = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"the body came slower than 10 bytes a second on average" in reply, reply
    assert b"(HTTP_BODY_MIN_BYTES_PER_SECOND, after HTTP_BODY_TIMEOUT_SECONDS)" in reply
    assert sent >= 3, "the stall timeout, not the pace, would have cut it off"
    assert TIMEOUT_SECONDS < seconds < TIMEOUT_SECONDS + 3


def gzip_bomb(path: Path, size: int) -> None:
    """A CSV of one column, `size` bytes once decompressed, written a megabyte at a time."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    block = b"1\n" * (1 << 19)
    with path.open("wb") as target:
        target.write(compressor.compress(b"a\n"))
        for _ in range(size // len(block)):
            target.write(compressor.compress(block))
        target.write(compressor.flush())


def peak_rss(process: psutil.Process) -> int:
    """The process's highest resident memory so far (Linux's VmHWM)."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def parquet_bomb(path: Path, size: int) -> None:
    """A Parquet file of one text column, `size` bytes once decoded, from a few hundred bytes:
    one 200 KB value (under the field limit), dictionary-encoded, its indices run-length encoded,
    zstd-compressed. Written without the Arrow schema, the column reads back as plain text."""
    rows = size // 200_000
    column = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * 200_000]))
    pq.write_table(pa.table({"a": column}), path, compression="zstd", store_schema=False)


BOMBS = {
    "bomb.csv.gz": (gzip_bomb, "gzip data"),
    # Below what would endanger the machine running the tests on a build without the bound.
    "bomb.parquet": (parquet_bomb, "Parquet data"),
}


@pytest.mark.parametrize("postgres", ["postgres18"], indirect=True)
@pytest.mark.parametrize("redis_url", ["valkey"], indirect=True)
@pytest.mark.parametrize("filename", BOMBS)
def test_a_bomb_is_refused_at_the_limit_in_bounded_memory(
    postgres: object, redis_url: str, api: Api, tmp_path: Path, filename: str
) -> None:
    # One database and one Redis: the bound does not depend on which.
    make, data = BOMBS[filename]
    bomb = tmp_path / filename
    make(bomb, (UNCOMPRESSED_LIMIT_MB + 32) << 20)
    assert bomb.stat().st_size < 1 << 20
    env = service_env(tmp_path, api.settings)
    with (
        (tmp_path / "api.log").open("wb") as log,
        http_service("bi_agent.analytics_api.app:create_app", "API", log, env) as (base, process),
    ):
        before = process.memory_info().rss
        with bomb.open("rb") as content:
            reply = httpx.post(
                f"{base}/api/v1/datasets",
                headers=bearer(api.token(api.accounts["analyst"])),
                data={"name": "bomb"},
                files={"file": (filename, content, "application/octet-stream")},
                timeout=60,
            )
        growth = peak_rss(process) - before
    assert reply.status_code == 413, reply.text
    assert reply.json()["detail"] == (
        f"{filename}: the {data} expands to more than {UNCOMPRESSED_LIMIT_MB} MB, the most a file may hold "
        "uncompressed (IMPORT_MAX_UNCOMPRESSED_MB); split the file"
    )
    assert growth < MEMORY_BOUND_BYTES, f"the API grew by {growth >> 20} MB"
