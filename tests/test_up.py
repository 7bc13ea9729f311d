"""`bi-agent up` end to end: embedded start, health, a clean stop with no process left,
and a second start that finds the data of the first; a dead process started again and a
stopped Redis outlasted, with nothing else stopping. Also the refusals a newcomer meets."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore.exceptions
import httpx
import jwt
import psutil
import psycopg
import pytest
import redis
from psycopg import sql
from rich.console import Console
from sqlalchemy.engine import make_url

from bi_agent import supervisor
from bi_agent.errors import ProcessFailedError
from bi_agent.infra.home import HomeSecrets
from bi_agent.infra.objects import create_s3_client
from bi_agent.infra.ports import free_port
from bi_agent.infra.restarts import RestartPolicy
from bi_agent.infra.services import check_services
from bi_agent.settings import Settings
from bi_agent.task_queue import BEAT_TICK_KEY
from tests.conftest import EmbeddedStack, PostgresServer, make_settings

START_TIMEOUT = 150.0
# The development default earlier releases shipped in settings.py, .env.example and compose.
PUBLISHED_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production-0123456789"


@dataclass
class Up:
    home: Path
    api_port: int
    ml_port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self, *options: str) -> None:
        self.log.write_bytes(b"")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bi_agent", "up", *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.home.parent,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"bi-agent up exited early:\n{self.output()}"
            if "BI-Agent is up" in self.output():
                for port in (self.api_port, self.ml_port):
                    response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                    assert response.status_code == 200, response.text
                    assert {check["status"] for check in response.json()["checks"].values()} == {"ok"}
                return
            time.sleep(0.5)
        pytest.fail(f"bi-agent up not healthy after {START_TIMEOUT}s:\n{self.output()}")

    def our_processes(self) -> list[psutil.Process]:
        """The supervisor's descendants plus any process that names our home folder."""
        assert self.process is not None
        found = {}
        try:
            root = psutil.Process(self.process.pid)
            for child in root.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            pass
        for candidate in psutil.process_iter(["cmdline"]):
            if str(self.home) in " ".join(candidate.info["cmdline"] or []):
                found[candidate.pid] = candidate
        found.pop(self.process.pid, None)
        return list(found.values())

    def interrupt(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=90)


def alive(processes: list[psutil.Process]) -> list[str]:
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {' '.join(process.cmdline())}")
        except psutil.NoSuchProcess:
            pass
    return left


def wait_all_gone(processes: list[psutil.Process], timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(processes)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "REDIS_", "MINIO_"))}
    api_port, ml_port = free_port(), free_port()
    env.update(
        BI_AGENT_HOME=str(home),
        ANALYTICS_API_PORT=str(api_port),
        ML_SERVICE_PORT=str(ml_port),
        WEB_PORT=str(free_port()),
        CELERY_WORKER_CONCURRENCY="1",
    )
    instance = Up(home, api_port, ml_port, tmp_path / "up.log", env)
    yield instance
    if instance.process is not None and instance.process.poll() is None:
        instance.process.kill()
        instance.process.wait()
    for process in instance.our_processes():
        process.kill()


def test_start_stop_start_keeps_data(up: Up) -> None:
    up.start()
    up.wait_healthy()
    first_output = up.output()
    assert "seeded the demo dataset hospital_visits (60,000 rows)" in first_output
    assert "Admin login    admin / " in first_output
    assert "shown this once" in first_output
    # The generated password is kept for the owner alone, and works.
    kept = up.home / "initial-admin-password"
    assert (kept.stat().st_mode & 0o777) == 0o600
    login = httpx.post(
        f"http://127.0.0.1:{up.api_port}/api/v1/auth/login",
        json={"username": "admin", "password": kept.read_text().strip()},
        timeout=10,
    )
    assert login.status_code == 200, login.text

    health = subprocess.run(
        [sys.executable, "-m", "bi_agent", "health"],
        env=up.env,
        cwd=up.home.parent,
        capture_output=True,
        text=True,
    )
    assert health.returncode == 0, health.stdout + health.stderr
    for service in ("postgres", "redis", "s3", "analytics-api", "ml-service", "celery-worker", "celery-beat"):
        assert service in health.stdout
    assert "last tick" in health.stdout
    # Each process's output is also in a file of its own, for scripts/view-logs.sh.
    assert "Uvicorn running on" in (up.home / "logs" / "analytics-api.log").read_text()
    assert "ready." in (up.home / "logs" / "celery-worker.log").read_text()

    # Embedded Redis killed under the running platform: it comes back and health recovers.
    valkey = [process for process in up.our_processes() if process.name().startswith("valkey")]
    assert len(valkey) == 1
    valkey[0].kill()
    deadline = time.monotonic() + 30
    while "embedded redis had stopped; started it again" not in up.output():
        assert time.monotonic() < deadline, up.output()
        time.sleep(0.2)
    response = httpx.get(f"http://127.0.0.1:{up.api_port}/health", timeout=5)
    assert response.status_code == 200, response.text

    # Write to each store through the addresses `bi-agent up` recorded.
    settings = make_settings(bi_agent_home=up.home)
    conninfo = make_url(str(settings.postgres_url())).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False)) as connection:
        # The demo: its dashboard belongs to the first admin, and its KPIs are computed.
        owners = connection.execute(
            "SELECT u.username FROM bi.dashboards d JOIN bi.users u ON u.id = d.owner_id"
        ).fetchall()
        assert owners == [("admin",)]
        assert connection.execute("SELECT count(*) FROM bi.kpi_snapshots").fetchone() == (20,)
        connection.execute("CREATE TABLE analytics.canary (note text)")
        connection.execute("INSERT INTO analytics.canary VALUES ('kept')")
    create_s3_client(settings).put_object(Bucket="datasets", Key="canary.csv", Body=b"a,b\n1,2\n")
    cache = redis.Redis.from_url(settings.redis_address())
    cache.set("bi-agent:test:canary", "kept")
    cache.close()
    token_before_restart = assert_locked_down(up, settings)

    started = up.our_processes()
    assert len(started) >= 6, [process.cmdline() for process in started]
    assert up.interrupt() == 0, up.output()
    assert wait_all_gone(started) == [], up.output()
    assert not (up.home / "servers.json").exists()
    assert "stopped the embedded servers" in up.output()

    down = subprocess.run(
        [sys.executable, "-m", "bi_agent", "health"],
        env=up.env,
        cwd=up.home.parent,
        capture_output=True,
        text=True,
    )
    assert down.returncode == 1

    up.start()
    up.wait_healthy()
    second_output = up.output()
    assert "seeded the demo" not in second_output
    assert "shown this once" not in second_output
    assert "the password set at the first start" in second_output
    settings = make_settings(bi_agent_home=up.home)
    conninfo = make_url(str(settings.postgres_url())).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False)) as connection:
        assert connection.execute("SELECT note FROM analytics.canary").fetchall() == [("kept",)]
    body = create_s3_client(settings).get_object(Bucket="datasets", Key="canary.csv")["Body"].read()
    assert body == b"a,b\n1,2\n"
    cache = redis.Redis.from_url(settings.redis_address())
    assert cache.get("bi-agent:test:canary") == b"kept"
    cache.close()
    # The same generated secret after a restart: a token of the first run still opens /me.
    me = httpx.get(f"http://127.0.0.1:{up.api_port}/api/v1/me", headers=bearer(token_before_restart), timeout=5)
    assert me.status_code == 200, me.text

    started = up.our_processes()
    up.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert up.process.wait(timeout=90) == 0  # type: ignore[union-attr]
    assert wait_all_gone(started) == []


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_locked_down(up: Up, settings: Settings) -> str:
    """The home's own credentials guard every door and no file is readable by others; returns a
    token signed with the home's secret."""
    secrets = HomeSecrets.read(up.home)
    assert secrets is not None
    assert (HomeSecrets.path(up.home).stat().st_mode & 0o777) == 0o600
    assert (up.home.stat().st_mode & 0o777) in (0o700, 0o711)
    # Nobody else enters a folder of the home or reads a file in it (SeaweedFS writes a few
    # files 0644 of its own accord, inside its 0700 folder).
    for entry in up.home.iterdir():
        assert entry.lstat().st_mode & 0o077 == 0, f"{entry} is {oct(entry.lstat().st_mode)}"
    for folder, _, files in os.walk(up.home / "logs"):
        for name in files:
            assert (Path(folder) / name).stat().st_mode & 0o077 == 0, f"{folder}/{name}"
    # A token forged with the development default earlier releases shipped: refused by both.
    with psycopg.connect(
        make_url(str(settings.postgres_url())).set(drivername="postgresql").render_as_string(hide_password=False)
    ) as connection:
        row = connection.execute("SELECT id FROM bi.users WHERE username = 'admin'").fetchone()
    assert row is not None
    now = int(time.time())
    claims = {"sub": str(row[0]), "aud": "bi-agent", "iss": "bi-agent", "iat": now, "exp": now + 300}
    forged = jwt.encode({**claims, "sid": uuid.uuid4().hex, "ver": 0}, PUBLISHED_JWT_SECRET, algorithm="HS256")
    own = jwt.encode({**claims, "sid": uuid.uuid4().hex, "ver": 0}, secrets.jwt_secret, algorithm="HS256")
    for port, path in ((up.api_port, "/api/v1/users"), (up.ml_port, "/api/v1/models")):
        assert httpx.get(f"http://127.0.0.1:{port}{path}", headers=bearer(forged), timeout=5).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}{path}", headers=bearer(own), timeout=5).status_code == 200
    # Valkey without its password, and S3 with MinIO's default keys, are refused.
    address = make_url(settings.redis_address().replace("redis://", "postgresql://", 1))
    anonymous = redis.Redis(host=address.host or "127.0.0.1", port=address.port or 6379, socket_connect_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        anonymous.get("bi-agent:test:canary")
    anonymous.close()
    s3_with_default_keys = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint(),
        aws_access_key_id="minioadmin",
        aws_secret_access_key="minioadmin",
        region_name="us-east-1",
    )
    with pytest.raises(botocore.exceptions.ClientError):
        s3_with_default_keys.list_buckets()
    return own


def test_port_in_use_names_port_and_variable(up: Up) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", up.api_port))
        taken.listen()
        up.start("--no-demo")
        assert up.process is not None
        assert up.process.wait(timeout=30) == 1
    output = up.output()
    assert f"port {up.api_port} on 127.0.0.1 is already in use" in output
    assert "ANALYTICS_API_PORT" in output
    assert "Traceback" not in output
    # It refused before starting any server.
    assert not (up.home / "postgres").exists()


def run_cli(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment}
    return subprocess.run(
        [sys.executable, "-m", "bi_agent", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_malformed_database_url_is_one_line() -> None:
    result = run_cli("migrate", DATABASE_URL="postgres//user:hunter2@nowhere")
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_database_is_one_line() -> None:
    result = run_cli("migrate", DATABASE_URL=f"postgresql://bi:hunter2@127.0.0.1:{free_port()}/analytics_db")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "cannot connect to PostgreSQL" in output
    assert "DATABASE_URL" in output
    assert "Traceback" not in output
    assert "hunter2" not in output


@pytest.fixture
def postgres_password_server(embedded: EmbeddedStack) -> Iterator[str]:
    """The embedded server, asking one role for a password (it trusts everyone else)."""
    url = make_url(embedded.addresses["postgres"])
    socket_dir = str(url.query["host"])
    hba = embedded.home / "postgres" / "pg_hba.conf"
    original = hba.read_text()
    admin = f"postgresql://postgres@/postgres?host={socket_dir}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute("DROP ROLE IF EXISTS bi_password_test")
        connection.execute("CREATE ROLE bi_password_test LOGIN PASSWORD 'right-pass'")
        hba.write_text("local all bi_password_test scram-sha-256\n" + original)
        connection.execute("SELECT pg_reload_conf()")
    try:
        yield f"postgresql://bi_password_test:wrong-pass@/postgres?host={socket_dir}"
    finally:
        hba.write_text(original)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("SELECT pg_reload_conf()")
            connection.execute("DROP ROLE bi_password_test")


def test_wrong_password_is_one_line(postgres_password_server: str) -> None:
    result = run_cli("migrate", DATABASE_URL=postgres_password_server)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "password authentication failed" in output or "no password supplied" in output, output
    assert "Traceback" not in output
    assert "wrong-pass" not in output


def test_configured_servers_are_used_not_embedded(
    up: Up, embedded: EmbeddedStack, postgres: PostgresServer, redis_url: str
) -> None:
    name = f"bi_up_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres.admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        up.env.update(
            DATABASE_URL=postgres.sqlalchemy_url(name),
            REDIS_URL=redis_url,
            MINIO_ENDPOINT=embedded.addresses["s3"],
            MINIO_ROOT_USER=embedded.secrets.s3_access_key,
            MINIO_ROOT_PASSWORD=embedded.secrets.s3_secret_key,
        )
        up.start("--no-demo")
        up.wait_healthy()
        assert "embedded" not in up.output().split("BI-Agent is up")[0]
        assert "seeded the demo" not in up.output()
        assert not (up.home / "postgres").exists()
        assert not (up.home / "servers.json").exists()
        assert up.interrupt() == 0
    finally:
        with psycopg.connect(postgres.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_each_process_output_goes_to_a_file_that_rolls_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "CHILD_LOG_BYTES", 1000)
    terminal = io.StringIO()
    up = supervisor.Supervisor(make_settings(bi_agent_home=tmp_path), Console(file=terminal, width=200))
    lines = [f"request {number} answered with 200 (100%)" for number in range(100)]
    output = io.BytesIO("".join(f"{line}\n" for line in lines).encode())
    up._relay(supervisor.ProcessSpec("analytics-api", [], "green"), output)
    # On the terminal with the process's name, in the file as they came (a % is not a format).
    assert "analytics-api | request 99 answered with 200 (100%)" in terminal.getvalue()
    folder = tmp_path / "logs"
    current = (folder / "analytics-api.log").read_text().splitlines()
    assert current[-1] == lines[-1] and current == lines[-len(current) :]
    # Older lines rolled over into three files at most, none past the limit, none lost but the oldest.
    assert sorted(path.name for path in folder.iterdir()) == [
        f"analytics-api.log{suffix}" for suffix in ("", ".1", ".2", ".3")
    ]
    assert all(path.stat().st_size <= 1000 for path in folder.iterdir())
    kept = [
        line
        for suffix in (".3", ".2", ".1", "")
        for line in (folder / f"analytics-api.log{suffix}").read_text().splitlines()
    ]
    assert kept == lines[-len(kept) :]
    assert output.closed


def platform_process(up: Up, marker: str) -> psutil.Process | None:
    """The supervisor's child whose command line holds `marker`, if one runs."""
    assert up.process is not None
    for child in psutil.Process(up.process.pid).children():
        try:
            if marker in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.NoSuchProcess:
            pass
    return None


def wait_for_restart(up: Up, marker: str, killed: psutil.Process, timeout: float = 60) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while True:
        assert up.process is not None and up.process.poll() is None, up.output()
        found = platform_process(up, marker)
        if found is not None and found.pid != killed.pid:
            return found
        assert time.monotonic() < deadline, f"{marker} not started again within {timeout}s:\n{up.output()}"
        time.sleep(0.1)


ML_SERVICE = "bi_agent.ml_service.app:create_app"
BEAT = "bi_agent.worker.app beat"
# Beat ticks this often, so it is inside a tick while Valkey is stopped; its lock lives five
# ticks (50 s), longer than the stop.
BEAT_INTERVAL_SECONDS = 10
VALKEY_STOP_SECONDS = 20


def test_a_dead_process_is_started_again_and_a_stopped_redis_stops_nothing(up: Up) -> None:
    up.env["CELERY_BEAT_INTERVAL_SECONDS"] = str(BEAT_INTERVAL_SECONDS)
    up.start("--no-demo")
    up.wait_healthy()
    api, ml = f"http://127.0.0.1:{up.api_port}", f"http://127.0.0.1:{up.ml_port}"
    settings = make_settings(bi_agent_home=up.home, analytics_api_port=up.api_port, ml_service_port=up.ml_port)
    client = httpx.Client(timeout=10)
    password = (up.home / "initial-admin-password").read_text().strip()
    login = client.post(f"{api}/api/v1/auth/login", json={"username": "admin", "password": password})
    token = login.json()["access_token"]

    # The ML service killed: `bi-agent health` names it alone, and it comes back while the API answers.
    ml_service = platform_process(up, ML_SERVICE)
    assert ml_service is not None
    ml_service.kill()
    down = {status.name for status in check_services(settings) if not status.ok}
    assert "ml-service" in down and not down & {"postgres", "redis", "s3", "analytics-api"}, down
    restarted = wait_for_restart(up, ML_SERVICE, ml_service)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert client.get(f"{api}/livez").status_code == 200
        try:
            if client.get(f"{ml}/health").status_code == 200:
                break
        except httpx.ConnectError:
            pass
        assert time.monotonic() < deadline, up.output()
        time.sleep(0.2)
    assert "ml-service was killed by SIGKILL after" in up.output()
    assert platform_process(up, ML_SERVICE) == restarted

    # Valkey stopped (not dead: its connections hang) while beat is in a tick: no process exits,
    # and the API answers all along, 503 only from the readiness check that asks Redis.
    valkey = [process for process in up.our_processes() if process.name().startswith("valkey")]
    assert len(valkey) == 1
    assert up.process is not None
    children = {child.pid for child in psutil.Process(up.process.pid).children()}
    restarts_before = up.output().count("starting it again")
    valkey[0].suspend()
    stopped_at = time.monotonic()
    try:
        while time.monotonic() - stopped_at < VALKEY_STOP_SECONDS:
            assert client.get(f"{api}/livez").status_code == 200
            me = client.get(f"{api}/api/v1/me", headers=bearer(token))
            assert me.status_code == 200, me.text
            health = client.get(f"{api}/health")
            assert health.status_code in (200, 503), health.text
            if health.status_code == 503:
                assert health.json()["failing"] == ["redis"], health.text
            time.sleep(0.5)
    finally:
        valkey[0].resume()
    resumed = datetime.now(UTC)
    # Beat finishes the tick it was in, and ticks on; the worker answers a ping again.
    cache = redis.Redis.from_url(settings.redis_address(), decode_responses=True)
    deadline = time.monotonic() + 3 * BEAT_INTERVAL_SECONDS
    while True:
        last_tick = cache.get(BEAT_TICK_KEY)
        if isinstance(last_tick, str) and datetime.fromisoformat(last_tick) >= resumed:
            break
        assert time.monotonic() < deadline, up.output()
        time.sleep(0.2)
    cache.close()
    statuses = check_services(settings)
    assert all(status.ok for status in statuses), statuses
    assert {child.pid for child in psutil.Process(up.process.pid).children()} == children, up.output()
    assert up.output().count("starting it again") == restarts_before, up.output()

    # Beat killed outright: it comes back (and waits for its old lock to lapse before it ticks).
    beat = platform_process(up, BEAT)
    assert beat is not None
    beat.kill()
    wait_for_restart(up, BEAT, beat)
    deadline = time.monotonic() + START_TIMEOUT
    while (up.home / "logs" / "celery-beat.log").read_text().count("beat: Starting...") < 2:
        assert time.monotonic() < deadline, up.output()
        time.sleep(0.2)
    client.close()
    assert up.interrupt() == 0, up.output()


def test_a_process_that_keeps_failing_at_once_is_given_up_by_name(tmp_path: Path) -> None:
    terminal = io.StringIO()
    policy = RestartPolicy(first_delay=0.01, max_delay=0.05, quick_seconds=60.0, give_up_after=3)
    up = supervisor.Supervisor(
        make_settings(bi_agent_home=tmp_path), Console(file=terminal, width=200), restart_policy=policy
    )
    failing = "import sys; print('cannot start: no license file'); sys.exit(3)"
    up._start_child(supervisor.ProcessSpec("licensed", [sys.executable, "-c", failing], "red"), dict(os.environ))
    try:
        with pytest.raises(ProcessFailedError) as raised:
            up._watch()
    finally:
        up._stop_all()
    message = str(raised.value)
    assert message.startswith("licensed exited with code 3, 3 times in a row within 60s of its start"), message
    assert f"from {tmp_path / 'logs' / 'licensed.log'}:\ncannot start: no license file" in message
    assert terminal.getvalue().count("started licensed") == 3
    assert "licensed exited with code 3 after" in terminal.getvalue()


def test_health_names_each_service_that_is_down(tmp_path: Path) -> None:
    # Nothing runs: each service is down for a reason of its own, none blamed on another.
    api_port, ml_port = free_port(), free_port()
    statuses = check_services(
        make_settings(bi_agent_home=tmp_path, analytics_api_port=api_port, ml_service_port=ml_port)
    )
    assert [status.name for status in statuses] == [
        "postgres",
        "redis",
        "s3",
        "analytics-api",
        "ml-service",
        "celery-worker",
        "celery-beat",
    ]
    assert not any(status.ok for status in statuses)
    details = {status.name: status.detail for status in statuses}
    assert "no embedded postgres is running" in details["postgres"]
    assert "no embedded redis is running" in details["redis"]
    assert "MINIO_ENDPOINT" in details["s3"]
    assert f":{api_port}/health" in details["analytics-api"]
    assert f":{ml_port}/health" in details["ml-service"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers on them: a frozen (SIGSTOPped) server."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield listener.getsockname()[1]
    listener.close()


def test_health_reports_a_server_that_never_answers_as_down(tmp_path: Path, silent_server: int) -> None:
    # Redis, PostgreSQL, S3 and the Analytics API all at an address that accepts and is silent
    # (the kernel completes the handshake of a stopped process's socket): each is down within
    # its own timeout, the ML service (a closed port) reported as usual, nothing waits for ever.
    address = f"127.0.0.1:{silent_server}"
    settings = make_settings(
        bi_agent_home=tmp_path,
        redis_url=f"redis://{address}/0",
        database_url=f"postgresql://bi:secret@{address}/analytics_db",
        minio_endpoint=f"http://{address}",
        minio_root_user="health-probe",
        minio_root_password="health-probe-secret",
        analytics_api_port=silent_server,
        ml_service_port=free_port(),
    )
    started = time.monotonic()
    statuses = check_services(settings)
    assert time.monotonic() - started < 8
    assert not any(status.ok for status in statuses)
    details = {status.name: status.detail for status in statuses}
    assert set(details) == {"postgres", "redis", "s3", "analytics-api", "ml-service", "celery-worker", "celery-beat"}
    for name in ("redis", "celery-worker", "celery-beat"):
        assert "Timeout" in details[name], details
    assert "timeout" in details["postgres"] and "ReadTimeoutError" in details["s3"], details
    assert "ReadTimeout" in details["analytics-api"] and "ConnectError" in details["ml-service"], details
    assert "secret" not in str(details)
