"""One of the platform's HTTP services in a child process, for the benches that load it over HTTP
(and the tests that need it as a real server).

Started with the command `bi-agent up` uses (one uvicorn process) on a free loopback port,
and stopped on the way out whatever happened.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import httpx
import psutil

from bi_agent.infra.ports import free_port
from bi_agent.supervisor import UVICORN_BOUNDS, forwarded_options

HOST = "127.0.0.1"


@contextmanager
def http_service(
    factory: str, label: str, log: IO[bytes], env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, psutil.Process]]:
    """`factory` is the app factory (`bi_agent.ml_service.app:create_app`); yields its base URL and
    process. `env` replaces this process's environment for it; its FORWARDED_ALLOW_IPS becomes
    uvicorn's options as `bi-agent up` makes them."""
    port = free_port(HOST)
    environment = dict(env) if env is not None else os.environ.copy()
    command = [
        sys.executable,
        *("-m", "uvicorn", "--factory", "--no-server-header", *UVICORN_BOUNDS),
        *forwarded_options(environment.get("FORWARDED_ALLOW_IPS", "")),
        factory,
        *("--host", HOST, "--port", str(port)),
    ]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the {label} exited with code {server.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the {label} did not answer /livez within 60 s; see {log.name}")
            time.sleep(0.2)
        yield base, psutil.Process(server.pid)
    finally:
        stop_server(server)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it is still there 15 s later."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
