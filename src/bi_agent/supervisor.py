"""`bi-agent up`: the embedded servers, then the platform's processes, then a clean stop.

Order of start: embedded servers (only those not configured), migrations, the admin
user and the buckets, then analytics-api, ml-service, the Celery worker and beat, and
the web (the built Next.js server, when Node.js is present), each its own process with
its output prefixed and coloured, and appended to $BI_AGENT_HOME/logs/<name>.log (what
scripts/view-logs.sh follows; a terminal scrolls away), rolled over at 10 MB. Ctrl-C or
SIGTERM stops them in reverse order and the embedded servers last. A process that dies,
embedded server or not, is started again while the rest keep running, after a delay that
grows while it keeps dying soon after its start (infra/restarts.py); one that cannot stay
up is given up: the platform stops, saying which process ended how, with its last lines.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING

import httpx
from rich.console import Console
from rich.text import Text

from bi_agent import prestart
from bi_agent.catalog.demo import seed_demo
from bi_agent.errors import BIAgentError, DependencyUnavailableError, EmbeddedServerError, ProcessFailedError
from bi_agent.infra import processes
from bi_agent.infra.cache import create_redis_client
from bi_agent.infra.db import create_database_engine
from bi_agent.infra.embedded import EmbeddedServers
from bi_agent.infra.home import OWNER_ONLY_UMASK, HomeSecrets, keep_admin_password, lock_down
from bi_agent.infra.objects import create_s3_client, ensure_buckets
from bi_agent.infra.ports import ensure_port_free
from bi_agent.infra.registry import without_password
from bi_agent.infra.restarts import DEFAULT_RESTART_POLICY, RestartPolicy, Restarts
from bi_agent.security.users import AdminBootstrap
from bi_agent.settings import Settings
from bi_agent.task_queue import QUEUES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HEALTH_TIMEOUT_SECONDS = 90.0
# Each process's output file under $BI_AGENT_HOME/logs: 10 MB, then three older ones.
CHILD_LOG_BYTES = 10 * 1024 * 1024
CHILD_LOG_BACKUPS = 3
# Next.js 16 needs Node.js 20.9 or newer.
NODE_MINIMUM = (20, 9)
REPOSITORY_WEB_DIR = Path(__file__).resolve().parents[2] / "web"
# Both HTTP services: headers must arrive within HTTP_HEADER_TIMEOUT_SECONDS (the protocol's
# timer; uvicorn has none before a first response), an idle kept-alive connection closes after 5 s.
UVICORN_BOUNDS = ["--http", "bi_agent.http.protocol:BoundedHttpToolsProtocol", "--timeout-keep-alive", "5"]


class StopRequested(Exception):  # noqa: N818 - a signal, not a failure
    """SIGINT or SIGTERM arrived."""


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    colour: str
    health_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Child:
    """A platform process as it runs now (a restart replaces `process` and `relay`), and its restarts."""

    spec: ProcessSpec
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    relay: threading.Thread
    restarts: Restarts


def process_specs(settings: Settings) -> list[ProcessSpec]:
    """The platform's processes, with the commands compose gives them too."""
    python = sys.executable
    api = f"http://{settings.analytics_api_host}:{settings.analytics_api_port}"
    ml = f"http://{settings.ml_service_host}:{settings.ml_service_port}"
    uvicorn = [
        python,
        "-m",
        "uvicorn",
        "--factory",
        "--no-server-header",
        *UVICORN_BOUNDS,
        *forwarded_options(settings.forwarded_allow_ips),
    ]
    celery = [python, "-m", "celery", "-A", "bi_agent.worker.app"]
    return [
        ProcessSpec(
            "analytics-api",
            [
                *uvicorn,
                "bi_agent.analytics_api.app:create_app",
                "--host",
                settings.analytics_api_host,
                "--port",
                str(settings.analytics_api_port),
            ],
            "cyan",
            f"{api}/health",
        ),
        ProcessSpec(
            "ml-service",
            [
                *uvicorn,
                "bi_agent.ml_service.app:create_app",
                "--host",
                settings.ml_service_host,
                "--port",
                str(settings.ml_service_port),
            ],
            "magenta",
            f"{ml}/health",
        ),
        ProcessSpec(
            "celery-worker",
            [
                *celery,
                "worker",
                "--queues",
                ",".join(QUEUES),
                "--concurrency",
                str(settings.celery_worker_concurrency),
                "--hostname",
                "worker@%h",
                "--loglevel",
                settings.log_level,
            ],
            "green",
        ),
        ProcessSpec("celery-beat", [*celery, "beat", "--loglevel", settings.log_level], "yellow"),
    ]


def forwarded_options(allowed_ips: str) -> list[str]:
    """uvicorn's options for X-Forwarded-For: believed only from these peers (FORWARDED_ALLOW_IPS).
    Always given, since uvicorn left to itself believes the loopback."""
    if not allowed_ips:
        return ["--no-proxy-headers"]
    return ["--forwarded-allow-ips", allowed_ips]


@dataclass(frozen=True)
class WebPlan:
    """The web's process when it can start, else the one line that says how to get it."""

    spec: ProcessSpec | None
    reason: str | None = None


def web_url(settings: Settings) -> str:
    return f"http://{settings.web_host}:{settings.web_port}"


def _node_version(node: str) -> tuple[int, int] | None:
    try:
        output = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.(\d+)", output.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def web_plan(settings: Settings, node: str | None = None) -> WebPlan:
    """The Next.js standalone server from `make web`, run by Node.js 20.9+; without either, why not."""
    web_dir = (settings.web_dir or REPOSITORY_WEB_DIR).expanduser().resolve()
    get_it = f"install Node.js {NODE_MINIMUM[0]}.{NODE_MINIMUM[1]}+ and run `make web`, then start again"
    node = node or shutil.which("node")
    if node is None:
        return WebPlan(None, f"web not started: Node.js is not installed; {get_it}")
    version = _node_version(node)
    if version is None or version < NODE_MINIMUM:
        found = "an unknown version" if version is None else f"{version[0]}.{version[1]}"
        return WebPlan(None, f"web not started: Node.js is {found}; {get_it}")
    server = web_dir / ".next" / "standalone" / "server.js"
    if not server.is_file():
        return WebPlan(None, f"web not started: {web_dir} is not built; run `make web` (needs Node.js 20.9+)")
    api = f"http://{settings.analytics_api_host}:{settings.analytics_api_port}"
    ml = f"http://{settings.ml_service_host}:{settings.ml_service_port}"
    env = {
        "PORT": str(settings.web_port),
        "HOSTNAME": settings.web_host,
        "NODE_ENV": "production",
        "NEXT_TELEMETRY_DISABLED": "1",
        "ANALYTICS_API_URL": api,
        "ML_SERVICE_URL": ml,
    }
    links = {
        "GRAFANA_URL": settings.grafana_url,
        "JAEGER_URL": settings.jaeger_url,
        "PROMETHEUS_URL": settings.prometheus_url,
        "MINIO_CONSOLE_URL": settings.minio_console_url,
    }
    env.update({name: value for name, value in links.items() if value})
    spec = ProcessSpec("web", [node, str(server)], "blue", f"{web_url(settings)}/api/health", env)
    return WebPlan(spec)


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        console: Console,
        *,
        demo: bool = True,
        restart_policy: RestartPolicy = DEFAULT_RESTART_POLICY,
    ) -> None:
        # Where the home's credentials are made: what the environment does not set (the JWT
        # secret, the embedded Valkey's password and S3 keys) is generated once and kept there.
        settings.fill_from_home(HomeSecrets.ensure(settings.home))
        self.settings = settings
        self.demo = demo
        self.console = console
        self.restart_policy = restart_policy
        self.embedded = EmbeddedServers(settings, restart_policy)
        self.children: list[Child] = []
        self._stopping = False
        self.web = web_plan(settings)
        self.admin_password_file: Path | None = None

    def say(self, message: str, style: str = "bold") -> None:
        self.console.print(
            Text("bi-agent".ljust(14) + "| ", style="bold white") + Text(message, style=style), soft_wrap=True
        )

    def run(self) -> int:
        """Start everything, wait for a signal or a dead process, stop everything. Returns the exit code."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        # Everything this process and its children write in the home is owner-only.
        previous_umask = os.umask(OWNER_ONLY_UMASK)
        try:
            with self._home_lock():
                lock_down(self.settings.home)
                self._check_ports()
                return self._run_started()
        except StopRequested:
            return 0
        finally:
            self._stop_all()
            os.umask(previous_umask)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run_started(self) -> int:
        addresses = self.embedded.start()
        for name, address in addresses.items():
            self.say(f"embedded {name} ready at {without_password(address)}", "green")
        bootstrap = self._prepare_data_stores()
        env = self._child_environment(addresses)
        for spec in process_specs(self.settings):
            self._start_child(spec, env)
        if self.web.spec is not None:
            self._start_child(self.web.spec, env)
        self._wait_healthy()
        self._print_banner(bootstrap)
        return self._watch()

    @contextmanager
    def _home_lock(self) -> Iterator[None]:
        home = self.settings.home
        home.mkdir(parents=True, exist_ok=True)
        lock_path = home / "up.lock"
        with lock_path.open("a+") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.seek(0)
                owner = lock_file.read().strip() or "unknown"
                raise EmbeddedServerError(
                    f"another `bi-agent up` (pid {owner}) runs for BI_AGENT_HOME={home}; stop it first"
                ) from None
            lock_file.seek(0)
            lock_file.truncate()
            lock_file.write(str(os.getpid()))
            lock_file.flush()
            yield

    def _check_ports(self) -> None:
        ensure_port_free(self.settings.analytics_api_host, self.settings.analytics_api_port, "ANALYTICS_API_PORT")
        ensure_port_free(self.settings.ml_service_host, self.settings.ml_service_port, "ML_SERVICE_PORT")
        if self.web.spec is not None:
            ensure_port_free(self.settings.web_host, self.settings.web_port, "WEB_PORT")
        if self.settings.worker_metrics_port:
            ensure_port_free(
                self.settings.worker_metrics_host, self.settings.worker_metrics_port, "WORKER_METRICS_PORT"
            )

    def _prepare_data_stores(self) -> AdminBootstrap:
        self.say("migrating the database")
        bootstrap = prestart.run(self.settings)
        if bootstrap.generated_password is not None:
            self.admin_password_file = keep_admin_password(self.settings.home, bootstrap.generated_password)
        s3 = create_s3_client(self.settings)
        created = ensure_buckets(s3, self.settings.buckets)
        if created:
            self.say(f"created buckets {', '.join(created)}")
        if self.demo:
            self._seed_demo(s3, bootstrap.username)
        redis = create_redis_client(self.settings)
        try:
            redis.ping()
        except Exception as error:
            raise DependencyUnavailableError(
                f"cannot reach Redis (check REDIS_URL or REDIS_HOST): {type(error).__name__}: {error}"
            ) from None
        finally:
            redis.close()
        return bootstrap

    def _seed_demo(self, s3: S3Client, owner: str) -> None:
        engine = create_database_engine(self.settings)
        try:
            outcome = seed_demo(
                engine,
                s3,
                self.settings.minio_bucket_datasets,
                self.settings.import_max_field_bytes,
                timezone=self.settings.reporting_timezone,
                owner=owner,
            )
        finally:
            engine.dispose()
        if outcome is not None:
            self.say(f"seeded the demo dataset {outcome.dataset} ({outcome.rows_imported:,} rows); --no-demo skips it")

    def _child_environment(self, addresses: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["BI_AGENT_HOME"] = str(self.settings.home)
        # Children get explicit addresses: they never depend on the registry file.
        if "postgres" in addresses:
            env["DATABASE_URL"] = addresses["postgres"]
        if "redis" in addresses:
            env["REDIS_URL"] = addresses["redis"]
        if "s3" in addresses:
            env["MINIO_ENDPOINT"] = addresses["s3"]
        return env

    def _start_child(self, spec: ProcessSpec, env: dict[str, str]) -> None:
        process, relay = self._spawn(spec, env)
        self.children.append(Child(spec, env, process, relay, Restarts(self.restart_policy, time.monotonic())))

    def _spawn(self, spec: ProcessSpec, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], threading.Thread]:
        self._raise_if_stopping()
        process = processes.spawn(spec.argv, stdout=subprocess.PIPE, env={**env, **spec.env}, cwd=Path.cwd())
        assert process.stdout is not None
        relay = threading.Thread(
            target=self._relay, args=(spec, process.stdout), name=f"relay-{spec.name}", daemon=True
        )
        relay.start()
        self.say(f"started {spec.name} (pid {process.pid})")
        return process, relay

    def _log_path(self, spec: ProcessSpec) -> Path:
        return self.settings.home / "logs" / f"{spec.name}.log"

    def _relay(self, spec: ProcessSpec, stream: IO[bytes]) -> None:
        prefix = Text(spec.name.ljust(14) + "| ", style=f"bold {spec.colour}")
        path = self._log_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Each line is in the file as soon as it is on the terminal; the file rolls over to
        # <name>.log.1 (and .2, .3) at CHILD_LOG_BYTES, so a platform left running fills no disk.
        log = RotatingFileHandler(path, maxBytes=CHILD_LOG_BYTES, backupCount=CHILD_LOG_BACKUPS, encoding="utf-8")
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip()
                self.console.print(prefix + Text(line), soft_wrap=True, highlight=False)
                log.handle(logging.makeLogRecord({"msg": line}))
        finally:
            log.close()
            stream.close()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        pending = {child.spec.name: child.spec.health_url for child in self.children if child.spec.health_url}
        while pending:
            self._raise_if_stopping()
            self._tend_children()
            for name, url in list(pending.items()):
                try:
                    if httpx.get(url, timeout=3.0).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise ProcessFailedError(
                    f"{', '.join(pending)} not healthy after {HEALTH_TIMEOUT_SECONDS:.0f}s; see the log above"
                )
            time.sleep(0.3)

    def _print_banner(self, bootstrap: AdminBootstrap) -> None:
        settings = self.settings
        api = f"http://{settings.analytics_api_host}:{settings.analytics_api_port}"
        ml = f"http://{settings.ml_service_host}:{settings.ml_service_port}"
        self.say("BI-Agent is up", "bold green")
        self.say(f"  Analytics API  {api}   (docs {api}/docs, health {api}/health)", "green")
        self.say(f"  ML service     {ml}   (docs {ml}/docs, health {ml}/health)", "green")
        if self.web.spec is not None:
            self.say(f"  Web            {web_url(settings)}", "green")
        else:
            self.say(f"  Web            {self.web.reason}", "yellow")
        self.say(f"  Data folder    {settings.home}", "green")
        if bootstrap.generated_password is not None:
            self.say(
                f"  Admin login    {bootstrap.username} / {bootstrap.generated_password}   "
                f"(shown this once, and kept in {self.admin_password_file} for you alone: "
                "delete it once you have changed the password)",
                "bold yellow",
            )
        elif bootstrap.created:
            self.say(f"  Admin login    {bootstrap.username} / the password in BI_AGENT_ADMIN_PASSWORD", "green")
        else:
            self.say(f"  Admin login    {bootstrap.username} / the password set at the first start", "green")
        self.say("Press Ctrl-C to stop everything.", "dim")

    def _watch(self) -> int:
        while True:
            self._tend_children()
            for name in self.embedded.revive():
                self.say(f"embedded {name} had stopped; started it again", "bold yellow")
            time.sleep(0.3)

    def _tend_children(self) -> None:
        """Start again each dead process whose delay is over; note the newly dead, or give one up."""
        for child in self.children:
            now = time.monotonic()
            if child.restarts.waiting:
                if child.restarts.due(now):
                    child.process, child.relay = self._spawn(child.spec, child.env)
                    child.restarts.started(time.monotonic())
                continue
            code = child.process.poll()
            if code is None:
                continue
            # Its pool or other children may outlive it, holding its output open and its port.
            processes.stop_process_group(child.process)
            child.relay.join(timeout=2)
            ended = processes.describe_exit(code)
            ran = now - child.restarts.started_at
            delay = child.restarts.died(now)
            if delay is None:
                raise ProcessFailedError(self._given_up(child.spec, ended))
            self.say(f"{child.spec.name} {ended} after {ran:.1f}s; starting it again in {delay:.1f}s", "bold yellow")

    def _given_up(self, spec: ProcessSpec, ended: str) -> str:
        policy = self.restart_policy
        log = self._log_path(spec)
        return (
            f"{spec.name} {ended}, {policy.give_up_after} times in a row within {policy.quick_seconds:.0f}s "
            f"of its start: giving up, and stopping the platform. Its last lines, from {log}:\n"
            f"{processes.last_lines(log)}"
        )

    def _raise_if_stopping(self) -> None:
        if self._stopping:
            raise StopRequested

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.say(f"{signal.Signals(signum).name} received, stopping", "bold yellow")
        raise StopRequested

    def _stop_all(self) -> None:
        # A second Ctrl-C must not cut the orderly stop short.
        self._stopping = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        for child in reversed(self.children):
            code = processes.stop_process_group(child.process)
            self.say(f"stopped {child.spec.name} (exit code {code})", "dim")
        for child in self.children:
            child.relay.join(timeout=2)
        if self.embedded.started:
            self.embedded.stop()
            self.say("stopped the embedded servers", "dim")


def run_up(settings: Settings, console: Console, *, demo: bool = True) -> int:
    try:
        return Supervisor(settings, console, demo=demo).run()
    except BIAgentError as error:
        console.print(Text("error: ", style="bold red") + Text(str(error)), soft_wrap=True)
        return 1
