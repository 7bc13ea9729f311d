"""Where the embedded servers of one BI_AGENT_HOME listen.

`bi-agent up` writes `servers.json` once its servers answer and removes it when they
stop; any other process (a `bi-agent` command, the tests) reads it to find them.
The file holds addresses only, never a secret: credentials in an address are left
out on writing, and readers add them from the home's secrets (infra/home.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import psutil


class ServerRegistry:
    """The `servers.json` file of one home folder."""

    def __init__(self, home: Path) -> None:
        self.path = home / "servers.json"

    def write(self, owner_pid: int, addresses: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        public = {name: without_password(address) for name, address in addresses.items()}
        temporary.write_text(json.dumps({"owner_pid": owner_pid, "addresses": public}, indent=2))
        # A reader never sees a half-written file.
        os.replace(temporary, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def address(self, server: str) -> str | None:
        """The address of a running embedded server, or None when it is not running."""
        try:
            content = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        # A file left by a killed `bi-agent up` points at servers that are gone.
        owner_pid = content.get("owner_pid")
        if not isinstance(owner_pid, int) or owner_pid <= 0 or not psutil.pid_exists(owner_pid):
            return None
        address = content.get("addresses", {}).get(server)
        return str(address) if address else None


def without_password(address: str) -> str:
    """`scheme://user:password@host/...` without its password (and without `:password@`
    when there is no user); other addresses as they are."""
    # A password given as a query parameter (redis://host/0?password=...) goes too.
    address = re.sub(r"([?&])password=[^&]*&?", r"\1", address).rstrip("?&")
    scheme, separator, rest = address.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not separator or not at or ":" not in userinfo:
        return address
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user + '@' if user else ''}{host}{slash}{path}"
