"""PostgreSQL restarted under load: while it is down the API answers 503 with Retry-After, never
500, and it answers 200 again by itself once PostgreSQL is back (its pool drops the dead
connections and checks each one it hands out).

The server restarted is one of the test's own, in its temporary folder: never the session's.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bi_agent.infra.embedded import EmbeddedPostgres
from tests.analytics_api.conftest import open_api
from tests.conftest import EmbeddedStack

CLIENTS = 3
DOWN_SECONDS = 1.5
RECOVERY_SECONDS = 20


def test_a_postgresql_restart_answers_503_while_down_then_200(embedded: EmbeddedStack, tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path, "bi_restart")
    database = server.start()
    try:
        with open_api(embedded, database, embedded.addresses["redis"]) as api:
            headers = api.headers("analyst")
            replies: list[tuple[float, int, str | None, dict[str, object]]] = []
            stop = threading.Event()

            def load() -> None:
                while not stop.is_set():
                    reply = api.client.get("/api/v1/metrics", headers=headers)
                    replies.append(
                        (time.monotonic(), reply.status_code, reply.headers.get("retry-after"), reply.json())
                    )

            clients = [threading.Thread(target=load) for _ in range(CLIENTS)]
            for client in clients:
                client.start()
            try:
                time.sleep(0.5)
                server.stop()
                time.sleep(DOWN_SECONDS)
                server.start()
                back = time.monotonic()
                deadline = back + RECOVERY_SECONDS
                while (
                    time.monotonic() < deadline
                    and sum(1 for at, status, *_ in replies if at > back and status == 200) < 10
                ):
                    time.sleep(0.1)
            finally:
                stop.set()
                for client in clients:
                    client.join()
    finally:
        server.stop()
    statuses = {status for _, status, _, _ in replies}
    assert statuses == {200, 503}, [(status, body) for _, status, _, body in replies if status not in (200, 503)][:3]
    for _, status, retry_after, body in replies:
        if status == 503:
            assert retry_after is not None and int(retry_after) > 0
            assert body["title"] == "Service unavailable" and "PostgreSQL is unavailable" in str(body["detail"]), body
    # Recovered by itself: the last replies of every client are answers again.
    assert [status for _, status, _, _ in replies[-CLIENTS:]] == [200] * CLIENTS
