"""The BI_AGENT_HOME folder: owner-only, holding the credentials the embedded mode invents.

No credential is written in the code or shared between installs. The first start of
`bi-agent up` (or of the embedded servers) in a home generates `secrets.json` there,
mode 0600: the JWT signing secret, the embedded Valkey's password, the embedded
S3's keys and the keys SeaweedFS's parts sign their internal requests with, each
random; the first admin's generated password goes to `initial-admin-password` beside
it (0600). Later starts, the platform's processes and every `bi-agent` command with the
same BI_AGENT_HOME read them from there; a variable set in the environment
(JWT_SECRET, MINIO_ROOT_USER...) wins over the file.

A home written before a credential was added lacks it: `read` gives None for it, and
`ensure` (what the servers' start calls) generates it into the file, keeping the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import stat
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from bi_agent.errors import ConfigurationError

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_FOLDER = 0o700
# A folder that a server running as another user must pass through (the embedded
# PostgreSQL runs as `pgserver` when root starts it): others may enter, but list nothing.
PASS_THROUGH_FOLDER = 0o711
# What a process of ours creates (files 0600, folders 0700), inherited by its children.
OWNER_ONLY_UMASK = 0o077
# Shorter ones were not made here: generated secrets are 48 characters and more.
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class HomeSecrets:
    """The credentials of one home folder, generated once."""

    jwt_secret: str
    redis_password: str
    s3_access_key: str
    s3_secret_key: str
    # Added later (None in an older home until `ensure` fills them): the keys of SeaweedFS's
    # security.toml, which sign the requests its parts make of one another over HTTP.
    seaweedfs_volume_write_key: str | None = None
    seaweedfs_volume_read_key: str | None = None
    seaweedfs_filer_write_key: str | None = None
    seaweedfs_filer_read_key: str | None = None

    @staticmethod
    def path(home: Path) -> Path:
        return home / "secrets.json"

    @classmethod
    def generate(cls) -> HomeSecrets:
        return cls(
            jwt_secret=secrets.token_urlsafe(48),
            # Hex: it goes into redis:// URLs and config files without quoting.
            redis_password=secrets.token_hex(24),
            s3_access_key=f"bi-agent-{secrets.token_hex(8)}",
            s3_secret_key=secrets.token_urlsafe(36),
            **{name: secrets.token_hex(32) for name in cls.later_fields()},
        )

    @classmethod
    def later_fields(cls) -> list[str]:
        """The credentials added after the first release, which an older home lacks."""
        return [field.name for field in fields(cls) if field.default is None]

    def missing(self) -> list[str]:
        return [name for name in self.later_fields() if getattr(self, name) is None]

    @classmethod
    def read(cls, home: Path) -> HomeSecrets | None:
        """The home's credentials, or None when it has none yet. A file someone else owns or
        could have written, or with short secrets, is refused: its secret would be known."""
        path = cls.path(home)
        try:
            status = path.stat()
            content = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise ConfigurationError(f"{path} cannot be read as JSON; restore it or remove it") from None
        if status.st_uid != os.geteuid() or status.st_mode & 0o077:
            raise ConfigurationError(
                f"{path} is not owned by this user with mode 0600 (it is {stat.S_IMODE(status.st_mode):o}); "
                "credentials others could read or have written are not used: remove it to generate new ones"
            )
        later = cls.later_fields()
        required = [field.name for field in fields(cls) if field.name not in later]
        if not isinstance(content, dict) or not all(isinstance(content.get(name), str) for name in required):
            raise ConfigurationError(f"{path} lacks some of {', '.join(required)}; restore it or remove it")
        if not all(isinstance(content.get(name), (str, type(None))) for name in later):
            raise ConfigurationError(f"{path} holds a credential that is not a string; restore it or remove it")
        short = [name for name in ("jwt_secret", "s3_secret_key") if len(content[name]) < MIN_SECRET_LENGTH]
        if short:
            raise ConfigurationError(f"{path}: {', '.join(short)} shorter than {MIN_SECRET_LENGTH}; remove the file")
        values: dict[str, Any] = {name: content.get(name) for name in [*required, *later]}
        return cls(**values)

    @classmethod
    def ensure(cls, home: Path) -> HomeSecrets:
        """The home's credentials, generated and written (0600) on the first call; those an
        older file lacks are added to it, the others kept."""
        existing = cls.read(home)
        if existing is not None:
            return existing if not existing.missing() else cls._complete(home)
        home.mkdir(mode=OWNER_ONLY_FOLDER, parents=True, exist_ok=True)
        path = cls.path(home)
        temporary = cls._write_temporary(path, asdict(cls.generate()))
        try:
            # A link fails when the file exists: of two first starts at once, one set wins.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
        found = cls.read(home)
        assert found is not None
        return found if not found.missing() else cls._complete(home)

    @classmethod
    def _complete(cls, home: Path) -> HomeSecrets:
        # Under a lock on the file, so that of two starts at once both keep the keys of the
        # one that adds them; the file is replaced whole, never left half written.
        path = cls.path(home)
        with path.open("rb") as locked:
            fcntl.flock(locked, fcntl.LOCK_EX)
            found = cls.read(home)
            assert found is not None
            if found.missing():
                generated = cls.generate()
                found = replace(found, **{name: getattr(generated, name) for name in found.missing()})
                content: dict[str, Any] = json.loads(path.read_text())
                content.update({name: getattr(found, name) for name in cls.later_fields()})
                os.replace(cls._write_temporary(path, content), path)
        return found

    @staticmethod
    def _write_temporary(path: Path, content: dict[str, Any]) -> Path:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        # A new file of ours, never one that is there already or a link placed in the way.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, OWNER_ONLY_FILE)
        with os.fdopen(descriptor, "w") as file:
            json.dump(content, file, indent=2)
        return temporary

    def seaweedfs_keys(self) -> dict[str, str]:
        """The SeaweedFS keys by their security.toml section; ConfigurationError when the home
        lacks them (it was read, not ensured)."""
        if self.missing():
            raise ConfigurationError(f"the home's secrets lack {', '.join(self.missing())}; start with `bi-agent up`")
        return {
            "jwt.signing": str(self.seaweedfs_volume_write_key),
            "jwt.signing.read": str(self.seaweedfs_volume_read_key),
            "jwt.filer_signing": str(self.seaweedfs_filer_write_key),
            "jwt.filer_signing.read": str(self.seaweedfs_filer_read_key),
        }


def keep_admin_password(home: Path, password: str) -> Path:
    """Keep the first admin's generated password (0600) beside the other credentials, for the
    owner who did not see the banner (a start under nohup, a closed terminal)."""
    path = home / "initial-admin-password"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, OWNER_ONLY_FILE)
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    return path


def lock_down(home: Path) -> None:
    """Make the home owner-only: nothing in it readable or writable by group or others.

    Files keep their owner's bits only. The home folder is 0700, or 0711 when a folder
    in it belongs to another user (a server that runs as its own user must reach its data).
    """
    home.mkdir(parents=True, exist_ok=True)
    owner = home.stat().st_uid
    foreign_owner = False
    for folder, subfolders, files in os.walk(home):
        for name in [*subfolders, *files]:
            path = Path(folder) / name
            with contextlib.suppress(OSError):
                status = path.lstat()
                if stat.S_ISLNK(status.st_mode) or stat.S_ISSOCK(status.st_mode):
                    continue
                if Path(folder) == home and stat.S_ISDIR(status.st_mode) and status.st_uid != owner:
                    foreign_owner = True
                if status.st_mode & 0o077:
                    path.chmod(stat.S_IMODE(status.st_mode) & ~0o077)
    home.chmod(PASS_THROUGH_FOLDER if foreign_owner else OWNER_ONLY_FOLDER)
