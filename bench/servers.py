"""One of the platform's HTTP services in a child process, for the benches that load it over HTTP.

Started with the command `bi-agent up` uses (one uvicorn process) on a free loopback port,
and stopped on the way out whatever happened.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx
import psutil

from bi_agent.infra.ports import free_port

HOST = "127.0.0.1"


@contextmanager
def http_service(factory: str, label: str, log: IO[bytes]) -> Iterator[tuple[str, psutil.Process]]:
    """`factory` is the app factory (`bi_agent.ml_service.app:create_app`); yields its base URL and process."""
    port = free_port(HOST)
    command = [
        sys.executable,
        *("-m", "uvicorn", "--factory", "--no-server-header", factory),
        *("--host", HOST, "--port", str(port)),
    ]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
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
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
