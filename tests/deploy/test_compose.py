"""docker-compose.yml without a Docker engine: compose v1 accepts it, it holds the twelve
services as docs/ARCHITECTURE.md describes them, and the four Python services, started natively with
the command and environment compose gives them, become healthy by their own healthchecks.

The native run maps only what a container network provides: the service hostnames
(postgres, redis, minio, otel-collector) to servers on this machine, the container-only
paths to temporary ones, and the published ports to free ones. Everything else, every
argument and every other variable, is what `docker-compose config` resolves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
import yaml
from psycopg import sql
from sqlalchemy.engine import make_url

from bi_agent.infra import processes
from bi_agent.infra.objects import create_s3_client
from bi_agent.infra.ports import free_port
from bi_agent.supervisor import process_specs
from tests.conftest import SYSTEM_POSTGRES_URL, SYSTEM_REDIS_URL, EmbeddedStack, make_settings, unavailable

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
VENV_BIN = Path(sys.executable).parent

TWELVE = {
    "postgres",
    "redis",
    "minio",
    "analytics-api",
    "ml-service",
    "web",
    "celery-worker",
    "celery-beat",
    "otel-collector",
    "jaeger",
    "prometheus",
    "grafana",
}
ONE_SHOTS = {"migrate", "minio-init"}
PYTHON_SERVICES = ("analytics-api", "ml-service", "celery-worker", "celery-beat")
APP_SERVICES = {*PYTHON_SERVICES, *ONE_SHOTS, "web"}
DATA_STORES = ("postgres", "redis", "minio")
# Host port -> container port, as DOCKER_COMPOSE.md lists them (Grafana on 3002 of the host).
PORTS = {
    "postgres": {5432: 5432},
    "redis": {6379: 6379},
    "minio": {9000: 9000, 9001: 9001},
    "analytics-api": {3000: 3000},
    "ml-service": {8000: 8000},
    "web": {3001: 3001},
    "celery-worker": {},
    "celery-beat": {},
    "otel-collector": {port: port for port in (4317, 4318, 8888, 8889, 13133, 55679)},
    "jaeger": {16686: 16686},
    "prometheus": {9090: 9090},
    "grafana": {3002: 3000},
}
# What each healthcheck asks.
HEALTHCHECKS = {
    "postgres": "pg_isready",
    "redis": "redis-cli ping",
    "minio": "/minio/health/live",
    "analytics-api": "http://127.0.0.1:3000/health",
    "ml-service": "http://127.0.0.1:8000/health",
    "web": "http://127.0.0.1:3001/api/health",
    "celery-worker": "inspect ping",
    "celery-beat": "/tmp/bi-agent-beat.heartbeat",
    "otel-collector": "http://127.0.0.1:13133/",
    "jaeger": "http://127.0.0.1:16686/",
    "prometheus": "http://127.0.0.1:9090/-/healthy",
    "grafana": "http://127.0.0.1:3000/api/health",
}
VOLUMES = {"postgres_data", "redis_data", "minio_data", "prometheus_data", "grafana_data"}
# A private index of the machine's Redis: the session's tests use 15, the fault tests 7.
PARITY_REDIS_DB = 12
HEALTHY_WITHIN_SECONDS = 90


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        unavailable("docker-compose is not installed (apt-get install docker-compose; .ci/run does)")
    assert found is not None
    return found


def compose_config(env_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_compose(), "--env-file", str(env_file), "--file", str(COMPOSE_FILE), "config", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def env_example(*, commented: bool = False) -> dict[str, str]:
    """The variables .env.example sets; with `commented`, also those it shows commented out
    (optional ones, such as the web's links, that compose gives a value of its own)."""
    values = {}
    pattern = r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$" if commented else r"^([A-Z][A-Z0-9_]*)=(.*)$"
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(pattern, line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


# What scripts/setup-local-env.sh writes into a new .env: compose has no defaults for these.
CREDENTIALS = {
    "JWT_SECRET": "compose-test-jwt-secret-" + "j" * 24,
    "DB_PASSWORD": "composetestdb",
    "REDIS_PASSWORD": "composetestredis",
    "MINIO_ROOT_USER": "composetestuser",
    "MINIO_ROOT_PASSWORD": "composetestpassword",
    "GRAFANA_ADMIN_PASSWORD": "composetestgrafana",
}


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`.env.example` with the credentials filled in, as the setup script leaves it."""
    text = ENV_EXAMPLE.read_text()
    for name, value in CREDENTIALS.items():
        text = re.sub(rf"^{name}=.*$", f"{name}={value}", text, count=1, flags=re.MULTILINE)
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def resolved(env_file: Path) -> dict[str, Any]:
    """The file as compose resolves it with a filled `.env.example` as `.env`: anchors merged, variables set."""
    result = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return config


def test_compose_v1_accepts_the_file(env_file: Path) -> None:
    result = compose_config(env_file, "--quiet")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
def test_no_credential_has_a_default(env_file: Path, tmp_path: Path, credential: str) -> None:
    # .env.example leaves them empty; compose refuses each one that is missing, by its name.
    assert env_example()[credential] == ""
    lacking = tmp_path / ".env"
    lacking.write_text(re.sub(rf"^{credential}=.*$", f"{credential}=", env_file.read_text(), flags=re.MULTILINE))
    result = compose_config(lacking, "--quiet")
    assert result.returncode != 0
    assert f"set {credential} in .env (scripts/setup-local-env.sh makes one)" in result.stderr


def test_redis_requires_its_password_without_showing_it(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    redis_service = services["redis"]
    assert "$REDIS_PASSWORD" in " ".join(redis_service["command"])
    assert CREDENTIALS["REDIS_PASSWORD"] not in " ".join(redis_service["command"])
    assert redis_service["environment"]["REDISCLI_AUTH"] == CREDENTIALS["REDIS_PASSWORD"]
    for name in PYTHON_SERVICES:
        assert services[name]["environment"]["REDIS_URL"] == f"redis://:{CREDENTIALS['REDIS_PASSWORD']}@redis:6379/0"


def test_without_env_nothing_starts_and_the_message_says_why(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty, "--quiet")
    assert result.returncode != 0
    assert "in .env (cp .env.example .env)" in result.stderr


def test_the_twelve_services_and_the_one_shots(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == TWELVE | ONE_SHOTS


def test_every_service_has_a_healthcheck_that_asks_the_right_thing(resolved: dict[str, Any]) -> None:
    for name, expected in HEALTHCHECKS.items():
        test = resolved["services"][name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert expected in " ".join(test[1:]), f"{name}: {test}"


ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what the test checks compose is told)


def published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """Host port -> (host address, container port), from either form docker-compose prints."""
    mapped = {}
    for port in service.get("ports", []):
        if isinstance(port, dict):
            address, host, container = port.get("host_ip", ALL_INTERFACES), port["published"], port["target"]
        else:
            address, host, container = str(port).split("/")[0].rsplit(":", 2)
        mapped[int(host)] = (address, int(container))
    return mapped


def test_published_ports(resolved: dict[str, Any]) -> None:
    for name, expected in PORTS.items():
        ports = published(resolved["services"][name])
        assert {host: container for host, (_, container) in ports.items()} == expected, name
        # The loopback unless PUBLISH_ADDRESS says otherwise: the data stores' passwords alone guard them.
        assert {address for address, _ in ports.values()} <= {"127.0.0.1"}, name
    assert resolved["services"]["celery-worker"]["expose"] == ["9808"]


def test_publish_address_opens_the_ports_to_the_network_when_asked(env_file: Path, tmp_path: Path) -> None:
    opened = tmp_path / ".env"
    opened.write_text(env_file.read_text() + f"\nPUBLISH_ADDRESS={ALL_INTERFACES}\n")
    result = compose_config(opened)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {address for service in services.values() for address, _ in published(service).values()} == {ALL_INTERFACES}


def test_networks_and_volumes(resolved: dict[str, Any]) -> None:
    assert set(resolved["networks"]) == {"local-dev", "observability"}
    assert set(resolved["volumes"]) == VOLUMES
    for name, service in resolved["services"].items():
        networks = set(service["networks"])
        if name in APP_SERVICES:
            assert networks == {"local-dev", "observability"}, name
        elif name in DATA_STORES:
            assert networks == {"local-dev"}, name
        else:
            assert "observability" in networks, name


def test_bind_mounts_exist_in_the_repository(raw: dict[str, Any]) -> None:
    for name, service in raw["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not source.startswith("./logs/"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
    init = (ROOT / "scripts/init-pgvector.sql").read_text()
    for statement in ("CREATE EXTENSION IF NOT EXISTS vector", 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp"'):
        assert statement in init


def test_one_image_for_the_python_services(resolved: dict[str, Any]) -> None:
    python = [resolved["services"][name] for name in (*PYTHON_SERVICES, *ONE_SHOTS)]
    assert {service["image"] for service in python} == {f"bi-agent:{env_example()['BI_AGENT_VERSION']}"}
    assert {service["build"]["context"] for service in python} == {str(ROOT)}
    assert resolved["services"]["web"]["build"]["context"] == str(ROOT / "web")


def test_image_tags_are_pinned_in_env_example(raw: dict[str, Any]) -> None:
    defined = env_example()
    for name, service in raw["services"].items():
        # A built image names its bases in build args (the collector's), or in its Dockerfile.
        build = service.get("build")
        images = (
            [service["image"]]
            if build is None
            else list(build.get("args", {}).values())
            if isinstance(build, dict)
            else []
        )
        for image in images:
            match = re.fullmatch(r"\$\{([A-Z_]+_IMAGE):\?.+\}", image)
            assert match, f"{name}: the image tag must come from a variable in .env"
            tag = defined[match.group(1)]
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", tag) and not tag.endswith(":latest"), f"{name}: {tag}"


def test_collector_image_adds_only_a_static_probe_to_the_pinned_one(raw: dict[str, Any]) -> None:
    build = raw["services"]["otel-collector"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, flags=re.MULTILINE))
    # Built by hand (docker build observability -f …) it gives the same images as .env.
    assert defaults == {arg: env_example()[arg] for arg in build["args"]}
    assert defaults["BUSYBOX_IMAGE"].endswith("-musl")
    stages = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    assert stages == ["${BUSYBOX_IMAGE}", "${OTEL_COLLECTOR_IMAGE}"]
    assert "COPY --from=probe /bin/busybox /usr/local/bin/busybox" in dockerfile
    probe = raw["services"]["otel-collector"]["healthcheck"]["test"]
    assert probe[1] == "/usr/local/bin/busybox" and probe[-1] == "http://127.0.0.1:13133/"


def test_every_variable_is_in_env_example_with_the_same_default() -> None:
    defined = env_example(commented=True)
    for variable, operator, default in re.findall(r"\$\{([A-Z_]+)(:-|:\?)?([^}]*)\}", COMPOSE_FILE.read_text()):
        assert variable in defined, f"docker-compose.yml uses {variable}, which .env.example lacks"
        if operator == ":-":
            assert default == defined[variable], f"{variable}: compose says {default!r}, .env.example says so not"


def test_restart_policies_logging_and_memory(raw: dict[str, Any], resolved: dict[str, Any]) -> None:
    for name, service in raw["services"].items():
        assert service["restart"] == ("no" if name in ONE_SHOTS else "unless-stopped"), name
        # PyYAML resolves the alias to the anchor's own object: every service shares it.
        assert service["logging"] is raw["x-logging"], name
        assert service["mem_limit"], name
    assert raw["x-logging"]["driver"] == "json-file"
    assert set(raw["x-logging"]["options"]) == {"max-size", "max-file"}
    assert "--appendonly yes" in " ".join(resolved["services"]["redis"]["command"])


def test_start_order(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in PYTHON_SERVICES:
        depends = {key: value["condition"] for key, value in services[name]["depends_on"].items()}
        for store in DATA_STORES:
            assert depends[store] == "service_healthy", name
        # Telemetry never blocks start-up.
        assert depends["otel-collector"] == "service_started", name
        assert depends["migrate"] == "service_completed_successfully", name
    for name in ("analytics-api", "ml-service"):
        assert services[name]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"


def test_python_services_run_the_commands_of_bi_agent_up(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    environment = services["analytics-api"]["environment"] | services["ml-service"]["environment"]
    settings = make_settings(**{name.lower(): value for name, value in environment.items()})
    for spec in process_specs(settings):
        command = services[spec.name]["command"]
        assert command[0] == "python" and command[1:] == spec.argv[1:], spec.name
    assert services["migrate"]["command"] == ["bi-agent", "migrate", "--admin"]
    assert services["minio-init"]["command"] == ["bi-agent", "buckets"]
    for name in (*PYTHON_SERVICES, *ONE_SHOTS):
        assert services[name]["environment"]["OTEL_SERVICE_NAME"] == name
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"


def test_python_image_is_multi_stage_non_root_and_without_dev_or_embedded() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.MULTILINE)
    assert stages == ["builder", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    syncs = re.findall(r"^RUN uv sync (.*)$", dockerfile, flags=re.MULTILINE)
    assert syncs and all("--frozen --no-dev" in sync and "extra" not in sync for sync in syncs)
    runtime = dockerfile.split(" AS runtime", 1)[1]
    assert re.search(r"^USER app$", runtime, flags=re.MULTILINE)
    # The runtime copies the environment the builder made; it installs nothing itself.
    assert "HEALTHCHECK" in runtime and "uv sync" not in runtime and "pip install" not in runtime
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", ".env", ".bi-agent", "web", ".pytest_cache", ".mypy_cache"} <= ignored


# The native run.


@pytest.fixture
def parity_database() -> Iterator[str]:
    """A new database on the machine's PostgreSQL 15, as compose's pgvector/pgvector:pg15."""
    name = f"bi_compose_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(SYSTEM_POSTGRES_URL, autocommit=True, connect_timeout=3) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as error:
        unavailable(f"the machine's PostgreSQL at {SYSTEM_POSTGRES_URL} is unreachable: {error}")
    try:
        yield name
    finally:
        with psycopg.connect(SYSTEM_POSTGRES_URL, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def parity_redis() -> Iterator[str]:
    url = make_url(SYSTEM_REDIS_URL.replace("redis://", "postgresql://", 1))
    address = f"redis://{url.host}:{url.port or 6379}/{PARITY_REDIS_DB}"
    client = redis.Redis.from_url(address, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        unavailable(f"the machine's Redis at {address} is unreachable: {error}")
    try:
        yield address
    finally:
        client.flushdb()
        client.close()


class NativeStack:
    """The compose environment of each service, its hostnames, paths and ports mapped to this machine."""

    def __init__(
        self, resolved: dict[str, Any], database: str, redis_address: str, s3: EmbeddedStack, folder: Path
    ) -> None:
        self.services: dict[str, Any] = resolved["services"]
        self.folder = folder
        postgres = make_url(SYSTEM_POSTGRES_URL)
        self.ports = {3000: free_port(), 8000: free_port(), 9808: free_port()}
        self.heartbeat = folder / "beat.heartbeat"
        # What compose mounts from ./logs/<service>: one folder here, each service its own file.
        self.logs = folder / "logs"
        self.replacements = {
            "DB_HOST": postgres.host or "127.0.0.1",
            "DB_PORT": str(postgres.port or 5432),
            "DB_NAME": database,
            "DB_USER": postgres.username or "postgres",
            "REDIS_URL": redis_address,
            # The embedded S3 in place of MinIO, with its keys.
            "MINIO_ENDPOINT": s3.addresses["s3"],
            "MINIO_ROOT_USER": s3.secrets.s3_access_key,
            "MINIO_ROOT_PASSWORD": s3.secrets.s3_secret_key,
            # No collector here: a closed port, which must not keep anything from starting.
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
            "BI_AGENT_HOME": str(folder / "home"),
            "CELERY_BEAT_HEARTBEAT_FILE": str(self.heartbeat),
            "ANALYTICS_API_PORT": str(self.ports[3000]),
            "ML_SERVICE_PORT": str(self.ports[8000]),
            "WORKER_METRICS_PORT": str(self.ports[9808]),
            "LOG_DIR": str(self.logs),
        }
        if postgres.password:
            self.replacements["DB_PASSWORD"] = postgres.password
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def environment(self, name: str) -> dict[str, str]:
        compose = {key: str(value) for key, value in self.services[name]["environment"].items()}
        for key in compose.keys() & self.replacements.keys():
            compose[key] = self.replacements[key]
        # As in the image: the environment's bin first, so `python` and `bi-agent` are its own.
        # HOSTNAME is what a container sets; Celery's %h is the same name.
        return compose | {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOSTNAME": socket.gethostname()}

    def localise(self, word: str) -> str:
        for container, host in self.ports.items():
            word = word.replace(f"127.0.0.1:{container}/", f"127.0.0.1:{host}/")
        return word.replace("/tmp/bi-agent-beat.heartbeat", str(self.heartbeat))

    def command(self, name: str) -> list[str]:
        command = [str(word) for word in self.services[name]["command"]]
        for flag, port in (("--port", 3000), ("--port", 8000)):
            for index, word in enumerate(command[:-1]):
                if word == flag and command[index + 1] == str(port):
                    command[index + 1] = str(self.ports[port])
        return command

    def run_once(self, name: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(name),
            env=self.environment(name) | extra,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, name: str) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        process = processes.spawn(self.command(name), stdout=log, env=self.environment(name), cwd=self.folder)
        log.close()
        self.children.append((name, process))

    def healthy(self, name: str) -> bool:
        kind, *test = (str(word) for word in self.services[name]["healthcheck"]["test"])
        env = self.environment(name)
        if kind == "CMD-SHELL":
            # Compose hands the shell `$` where the file says `$$`.
            argv = ["sh", "-c", self.localise(" ".join(test).replace("$$", "$"))]
        else:
            argv = [self.localise(word) for word in test]
        result = subprocess.run(argv, env=env, cwd=self.folder, capture_output=True, timeout=30)
        return result.returncode == 0

    def log(self, name: str) -> str:
        return "\n".join((self.folder / f"{name}.log").read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        for _, process in reversed(self.children):
            processes.stop_process_group(process)


def test_python_services_start_natively_as_compose_starts_them(
    resolved: dict[str, Any],
    parity_database: str,
    parity_redis: str,
    embedded: EmbeddedStack,
    tmp_path: Path,
) -> None:
    stack = NativeStack(resolved, parity_database, parity_redis, embedded, tmp_path)
    # BI_AGENT_ADMIN_PASSWORD is empty in .env.example: the migrations run, but no password is
    # made up where it would end in `docker compose logs`; the admin waits for one.
    refused = stack.run_once("migrate")
    assert refused.returncode == 1 and "BI_AGENT_ADMIN_PASSWORD is empty" in refused.stderr, refused
    # The one-shots, twice each: a restarted stack runs them again, and changes nothing.
    password = "compose admin password 1"
    outputs = []
    for one_shot in ("migrate", "minio-init", "migrate", "minio-init"):
        result = stack.run_once(one_shot, BI_AGENT_ADMIN_PASSWORD=password)
        assert result.returncode == 0, f"{one_shot}: {result.stdout}{result.stderr}"
        assert password not in result.stdout + result.stderr
        outputs.append(result.stdout)
    assert "created admin admin with the password in BI_AGENT_ADMIN_PASSWORD" in outputs[0]
    assert "admin admin exists" in outputs[2] and "buckets exist" in outputs[3]
    s3 = create_s3_client(embedded.settings())
    buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"] if "Name" in bucket}
    assert {"models", "datasets", "logs"} <= buckets
    try:
        for name in PYTHON_SERVICES:
            stack.start(name)
        pending = set(PYTHON_SERVICES)
        deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
        while pending:
            for name, process in stack.children:
                assert process.poll() is None, f"{name} exited with {process.returncode}:\n{stack.log(name)}"
            pending = {name for name in pending if not stack.healthy(name)}
            if pending and time.monotonic() > deadline:
                logs = "\n".join(f"--- {name}\n{stack.log(name)}" for name in sorted(pending))
                pytest.fail(f"not healthy within {HEALTHY_WITHIN_SECONDS}s: {sorted(pending)}\n{logs}")
            time.sleep(0.5)
        # What Prometheus scrapes: each service's /metrics, the worker's from its main process.
        for address, series in (
            (f"http://127.0.0.1:{stack.ports[3000]}/metrics", "bi_agent_http_request_duration_seconds_count"),
            (f"http://127.0.0.1:{stack.ports[8000]}/metrics", "bi_agent_http_request_duration_seconds_count"),
            (f"http://127.0.0.1:{stack.ports[9808]}/metrics", "bi_agent_rows_imported_total"),
        ):
            reply = httpx.get(address, timeout=5)
            samples = {line.split("{")[0].split(" ")[0] for line in reply.text.splitlines() if line[:1].isalpha()}
            assert reply.status_code == 200 and series in samples, (address, reply.text[:500])
    finally:
        stack.stop()
    # The log folders compose mounts hold each long-running service's JSON lines.
    for name in PYTHON_SERVICES:
        lines = (stack.logs / f"{name}.log").read_text().splitlines()
        assert lines and {json.loads(line)["service"] for line in lines} == {name}, name
    # And the beat healthcheck does fail: a heartbeat older than three intervals is a stuck beat.
    stale = time.time() - 3 * int(stack.environment("celery-beat")["CELERY_BEAT_INTERVAL_SECONDS"]) - 5
    os.utime(stack.heartbeat, (stale, stale))
    assert not stack.healthy("celery-beat")
