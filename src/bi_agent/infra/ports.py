"""Free ports for the embedded servers, and a clear word when a port is taken."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from pathlib import Path

from bi_agent.errors import PortInUseError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ensure_port_free(host: str, port: int, variable: str) -> None:
    """Refuse to start when `port` is taken, naming the variable that moves it."""
    if not is_port_free(host, port):
        raise PortInUseError(
            f"port {port} on {host} is already in use; stop what listens there or set {variable} to another port"
        )


def is_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def remembered_ports(record: Path, names: Iterable[str], host: str = "127.0.0.1") -> dict[str, int]:
    """Ports for a server's listeners, the same as last time where they are still free.

    Stable ports matter to SeaweedFS, whose filer remembers its peers by address, and
    help a person who pointed a client at the embedded Valkey once.
    """
    try:
        earlier = {str(name): int(port) for name, port in json.loads(record.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        earlier = {}
    chosen: dict[str, int] = {}
    for name in names:
        port = earlier.get(name)
        if port is None or port in chosen.values() or not is_port_free(host, port):
            port = free_port(host)
        chosen[name] = port
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(chosen, indent=2))
    return chosen
