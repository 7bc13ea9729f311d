"""The web end to end: `bi-agent up` starts the platform with the web on free ports, then the
Playwright specs in web/e2e run in a headless Chromium (Debian's, never a downloaded one),
at desktop (1280 px) and phone (390 px) widths. Screenshots are kept in web/test-results/."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bi_agent.infra.ports import free_port
from tests.conftest import unavailable
from tests.test_up import Up
from tests.web.conftest import WEB_DIR

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SERVER = WEB_DIR / ".next" / "standalone" / "server.js"
# The HIPAA spec runs against a platform in HIPAA mode; every other one against the plain platform.
HIPAA_SPEC = "hipaa.spec.ts"
SPECS = sorted(path.name for path in (WEB_DIR / "e2e").glob("*.spec.ts") if path.name != HIPAA_SPEC)
RESULTS = WEB_DIR / "test-results"
SPEC_TIMEOUT = 600


@dataclass
class Stack:
    up: Up
    web_url: str
    admin_password: str
    extra_env: dict[str, str]


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not on PATH"
    return path


def _wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {timeout:.0f}s")


def _start_web(port: int, api_port: int | None, ml_port: int | None, log: Path) -> subprocess.Popen[bytes]:
    """A second web server, one service pointed at a closed port: what a user sees when it is down."""
    env = {
        **os.environ,
        "PORT": str(port),
        "HOSTNAME": "127.0.0.1",
        "NEXT_TELEMETRY_DISABLED": "1",
        "ANALYTICS_API_URL": f"http://127.0.0.1:{api_port or free_port()}",
        "ML_SERVICE_URL": f"http://127.0.0.1:{ml_port or free_port()}",
    }
    with log.open("wb") as output:
        return subprocess.Popen([_tool("node"), str(SERVER)], stdout=output, stderr=subprocess.STDOUT, env=env)


def _check_tools() -> None:
    if shutil.which("node") is None:
        unavailable("Node.js is not installed; install Node.js 20.9+ (`.ci/run` does)")
    if not SERVER.is_file():
        unavailable(f"the web is not built ({SERVER} is missing); run `make web`")
    if not Path(CHROMIUM).is_file():
        unavailable(f"no Chromium at {CHROMIUM}; `apt-get install chromium` (`.ci/run` does)")


@contextmanager
def _platform(tmp: Path, **settings: str) -> Iterator[tuple[Up, str, str]]:
    """`bi-agent up` with the web, on free ports in a home of its own: (up, web URL, admin password)."""
    home = tmp / "home"
    password = secrets.token_urlsafe(16)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "REDIS_", "MINIO_"))}
    api_port, ml_port, web_port = free_port(), free_port(), free_port()
    env.update(
        BI_AGENT_HOME=str(home),
        ANALYTICS_API_PORT=str(api_port),
        ML_SERVICE_PORT=str(ml_port),
        WEB_PORT=str(web_port),
        WEB_DIR=str(WEB_DIR),
        WORKER_METRICS_PORT="0",
        CELERY_WORKER_CONCURRENCY="1",
        BI_AGENT_ADMIN_PASSWORD=password,
        **settings,
    )
    up = Up(home, api_port, ml_port, tmp / "up.log", env)
    try:
        up.start()
        up.wait_healthy()
        web_url = f"http://127.0.0.1:{web_port}"
        assert f"Web            {web_url}" in up.output(), up.output()
        _wait_for(f"{web_url}/api/health")
        yield up, web_url, password
    finally:
        if up.process is not None and up.process.poll() is None:
            up.interrupt()
        for process in up.our_processes():
            process.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _check_tools()
    # Screenshots of an earlier run must not stand in for this one's.
    shutil.rmtree(RESULTS / "screenshots", ignore_errors=True)
    tmp = tmp_path_factory.mktemp("web")
    others: list[subprocess.Popen[bytes]] = []
    with _platform(tmp) as (up, web_url, password):
        try:
            ml_down_port, analytics_down_port = free_port(), free_port()
            others.append(_start_web(ml_down_port, up.api_port, None, tmp / "web-ml-down.log"))
            others.append(_start_web(analytics_down_port, None, up.ml_port, tmp / "web-analytics-down.log"))
            for port in (ml_down_port, analytics_down_port):
                _wait_for(f"http://127.0.0.1:{port}/api/health")
            extra = {
                "E2E_ML_DOWN_BASE_URL": f"http://127.0.0.1:{ml_down_port}",
                "E2E_ANALYTICS_DOWN_BASE_URL": f"http://127.0.0.1:{analytics_down_port}",
            }
            yield Stack(up, web_url, password, extra)
        finally:
            for web in others:
                web.terminate()
                web.wait(timeout=10)


@pytest.fixture(scope="module")
def hipaa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The platform in HIPAA mode, with the demo's PHI-bearing dataset."""
    _check_tools()
    with _platform(tmp_path_factory.mktemp("web-hipaa"), HIPAA_MODE="true") as (up, web_url, password):
        yield Stack(up, web_url, password, {})


def _run_spec(stack: Stack, spec: str) -> None:
    env = {
        **os.environ,
        **stack.extra_env,
        "BASE_URL": stack.web_url,
        "ANALYTICS_API_URL": f"http://127.0.0.1:{stack.up.api_port}",
        "ML_SERVICE_URL": f"http://127.0.0.1:{stack.up.ml_port}",
        "E2E_ADMIN_USER": "admin",
        "E2E_ADMIN_PASSWORD": stack.admin_password,
        "CHROMIUM_PATH": CHROMIUM,
    }
    result = subprocess.run(
        [_tool("npx"), "playwright", "test", f"e2e/{spec}", "--reporter=line"],
        cwd=WEB_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SPEC_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{spec} failed:\n{output[-8000:]}\n--- bi-agent up ---\n{stack.up.output()[-4000:]}"
    assert " skipped" not in output, f"{spec} skipped tests:\n{output[-4000:]}"


@pytest.mark.parametrize("spec", SPECS)
def test_spec(stack: Stack, spec: str) -> None:
    _run_spec(stack, spec)


def test_screenshots_of_each_main_page(stack: Stack) -> None:
    """Runs last (by name order within the module): every main page was captured at both widths."""
    kept = {path.name for path in (RESULTS / "screenshots").glob("*.png")}
    pages = (
        *("login", "home", "dashboard", "dashboard-editor", "explore"),
        *("datasets-list", "dataset-detail", "datasets-upload", "datasets-upload-broken"),
        *("models-list", "model-detail", "model-predict-422", "models-train", "models-forecast"),
        *("jobs", "admin-users", "admin-roles", "admin-audit", "viewer-forbidden"),
    )
    for page in pages:
        for width in ("desktop", "phone"):
            assert f"{page}-{width}.png" in kept, sorted(kept)


def test_hipaa_mode_asks_the_purpose_of_use(hipaa_stack: Stack) -> None:
    _run_spec(hipaa_stack, HIPAA_SPEC)
