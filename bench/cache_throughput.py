"""Cache throughput: a cached query against the bare JSON route `/livez` of the same app.

Run: .venv/bin/python -m bench.cache_throughput [--seconds S] [--concurrency N] [--rounds N]
Needs `bi-agent up` running (embedded servers) or DATABASE_URL/REDIS_URL/MINIO_ENDPOINT.
Starts its own Analytics API (one uvicorn process, the command `bi-agent up` uses) on a
free loopback port, signs in a bench user with the analyst role, sends the query until
the cache holds it, then loads `/livez`, `/api/v1/me` (authentication alone, a breakdown)
and the query in turns with the same concurrent client. Every measured query reply must
say `X-Cache: HIT`. Prints the rates, the server's CPU per request and the ratio of the
query to `/livez`; the target is at least 0.5. The server is stopped on the way out,
also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from bench.import_speed import make_csv
from bench.servers import HOST, http_service
from sqlalchemy import text

from bi_agent.catalog.imports import import_local_file
from bi_agent.catalog.metrics import MetricDefinition, create_metric, delete_metric
from bi_agent.catalog.rollups import refresh_stale
from bi_agent.errors import ConflictError
from bi_agent.infra.connections import Connections
from bi_agent.infra.objects import ensure_buckets
from bi_agent.security import users
from bi_agent.security.passwords import generate_password
from bi_agent.settings import Settings

DATASET = "bench_cache"
ROWS = 100_000  # 73 days of make_csv's visits: the query below answers 44 rows
USERNAME = "bench_cache"
METRICS = [
    MetricDefinition(
        name="bench_c_visits", dataset=DATASET, aggregation="count", time_column="visit_time", dimensions=["region"]
    ),
    MetricDefinition(
        name="bench_c_charges",
        dataset=DATASET,
        aggregation="sum",
        column="charges",
        time_column="visit_time",
        dimensions=["region"],
    ),
]
# A dashboard tile: two metrics by week and region over a quarter.
QUERY = {
    "metrics": [definition.name for definition in METRICS],
    "grain": "week",
    "start": "2024-01-01",
    "end": "2024-04-01",
    "group_by": ["region"],
}
TARGET = 0.5


def prepare(settings: Settings) -> str:
    """The dataset, its metrics and rollup, and a bench analyst; returns the analyst's password."""
    connections = Connections.open(settings)
    ensure_buckets(connections.s3, settings.buckets)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "visits.csv"
        make_csv(path, ROWS)
        import_local_file(
            connections.engine,
            connections.s3,
            settings.minio_bucket_datasets,
            path,
            DATASET,
            "replace",
            max_field_bytes=settings.import_max_field_bytes,
            max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
            timezone=settings.reporting_timezone,
        )
    names = [definition.name for definition in METRICS]
    # A fresh password each run: it lives only in this process.
    password = generate_password()
    with connections.engine.begin() as connection:
        existing = connection.execute(text("SELECT name FROM bi.metrics WHERE name = ANY(:names)"), {"names": names})
        for name in list(existing.scalars()):
            delete_metric(connection, name, settings.reporting_timezone)
        for definition in METRICS:
            create_metric(connection, definition, None, settings.reporting_timezone, phi_allowed=True)
        try:
            users.create_user(connection, USERNAME, password, ["analyst"])
        except ConflictError:
            user_id = connection.execute(
                text("SELECT id FROM bi.users WHERE username = :username"), {"username": USERNAME}
            ).scalar_one()
            users.update_user(connection, user_id, acting_user_id=user_id, is_active=True, password=password)
            users.set_roles(connection, user_id, ["analyst"], acting_user_id=user_id)
    refresh_stale(connections.engine, DATASET)
    connections.close()
    return password


@dataclass(frozen=True)
class Load:
    """One route under load: replies per second, the server's CPU per reply, the client's share of a CPU."""

    rate: float
    server_cpu_us: float
    client_cpu_share: float


def request_bytes(method: str, path: str, token: str | None = None, body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Accept: application/json"]
    if token is not None:
        head.append(f"Authorization: Bearer {token}")
    if body:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _connection_loop(port: int, request: bytes, must_hit: bool, deadline: float) -> int:
    # A minimal keep-alive HTTP/1.1 client: httpx.AsyncClient spends several times more CPU
    # per request than /livez costs the server (measured: 16 httpx streams saturate a CPU at
    # about 330 requests/s), so it would measure itself and flatter the ratio.
    reader, writer = await asyncio.open_connection(HOST, port)
    replies = 0
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in head[1:] if line)
            body = await reader.readexactly(int(headers["content-length"]))
            status = head[0].split(" ", 2)[1]
            if status != "200":
                raise SystemExit(f"status {status}: {body[:300]!r}")
            if must_hit and headers.get("x-cache") != "hit":
                raise SystemExit(f"a measured query was not a cache hit (X-Cache: {headers.get('x-cache')})")
            replies += 1
    finally:
        writer.close()
        await writer.wait_closed()
    return replies


async def _load(port: int, request: bytes, must_hit: bool, concurrency: int, seconds: float) -> tuple[int, float]:
    started = time.perf_counter()
    loops = [_connection_loop(port, request, must_hit, started + seconds) for _ in range(concurrency)]
    replies = sum(await asyncio.gather(*loops))
    return replies, time.perf_counter() - started


def load(server: psutil.Process, port: int, request: bytes, must_hit: bool, concurrency: int, seconds: float) -> Load:
    asyncio.run(_load(port, request, must_hit, concurrency, min(seconds, 1.0)))  # warm-up, not counted
    server_before = server.cpu_times()
    client_before = time.process_time()
    replies, elapsed = asyncio.run(_load(port, request, must_hit, concurrency, seconds))
    server_after = server.cpu_times()
    server_cpu = (server_after.user + server_after.system) - (server_before.user + server_before.system)
    return Load(
        rate=replies / elapsed,
        server_cpu_us=server_cpu / replies * 1e6,
        client_cpu_share=(time.process_time() - client_before) / elapsed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (one connection each)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each route, alternating; medians compared")
    arguments = parser.parse_args()
    if not 1 <= arguments.concurrency <= 256 or not 0 < arguments.seconds <= 120:
        raise SystemExit("--concurrency must be 1..256 and --seconds 0..120")
    # `kill` (SIGTERM) unwinds like Ctrl-C does, so the server is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    settings = Settings()
    password = prepare(settings)
    with (
        tempfile.NamedTemporaryFile(prefix="bench-analytics-api-", suffix=".log", delete=False) as log,
        http_service("bi_agent.analytics_api.app:create_app", "Analytics API", log) as (base, server),
    ):
        reply = httpx.post(f"{base}/api/v1/auth/login", json={"username": USERNAME, "password": password})
        reply.raise_for_status()
        token = reply.json()["access_token"]
        body = json.dumps(QUERY).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for _ in range(2):  # the first may miss and fill the cache; the second must hit
            reply = httpx.post(f"{base}/api/v1/query", content=body, headers=headers)
            reply.raise_for_status()
        if reply.headers.get("x-cache") != "HIT":
            raise SystemExit(f"the query is not cached after two sends (X-Cache: {reply.headers.get('x-cache')})")
        answer = reply.json()
        port = int(base.rsplit(":", 1)[1])
        # /me costs what every signed-in route costs (token, user and roles); it splits the
        # gap between the bare route and the cached query in two, and is not part of the ratio.
        routes = {
            "GET /livez (bare)": (request_bytes("GET", "/livez"), False),
            "GET /api/v1/me (auth only)": (request_bytes("GET", "/api/v1/me", token), False),
            "POST /api/v1/query (HIT)": (request_bytes("POST", "/api/v1/query", token, body), True),
        }
        runs: dict[str, list[Load]] = {route: [] for route in routes}
        for _ in range(arguments.rounds):
            for route, (request, must_hit) in routes.items():
                runs[route].append(load(server, port, request, must_hit, arguments.concurrency, arguments.seconds))
    Path(log.name).unlink()
    print(
        f"\n{psutil.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}, this run included); one uvicorn worker; "
        f"{arguments.concurrency} connections from one asyncio client; {arguments.rounds} x "
        f"{arguments.seconds:g} s per route, medians"
    )
    print(f"cached query: {len(answer['rows'])} rows, {len(reply.content)} bytes of JSON, source {answer['source']}")
    rates = {}
    for route, measured in runs.items():
        rates[route] = statistics.median(run.rate for run in measured)
        cpu = statistics.median(run.server_cpu_us for run in measured)
        print(f"{route:28s} {rates[route]:7.0f} req/s   server CPU {cpu:5.0f} us/request")
    ratio = rates["POST /api/v1/query (HIT)"] / rates["GET /livez (bare)"]
    print(
        f"{'ratio cached/bare':28s} {ratio:7.2f}         (target >= {TARGET}) {'met' if ratio >= TARGET else 'MISSED'}"
    )
    client_share = max(run.client_cpu_share for measured in runs.values() for run in measured)
    print(
        f"note: the client used up to {client_share:.0%} of a CPU; on a machine with few cores it competes with "
        "the server, PostgreSQL and Redis for the CPUs, so the rates are lower bounds; the ratio is what counts"
    )


if __name__ == "__main__":
    main()
