"""Child processes that stop when we say so, and die with us when we cannot say so.

Each child gets its own session (process group): Ctrl-C in the terminal reaches only
`bi-agent up`, which then stops the children in order, each with its whole group
(Celery's pool processes included). If `bi-agent up` is killed outright, the kernel
sends each direct child SIGTERM (PR_SET_PDEATHSIG), so nothing is left behind.
Children create their files owner-only (umask 077): data, logs and sockets of the
embedded servers and the platform are nobody else's to read.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from bi_agent.infra.home import OWNER_ONLY_UMASK

_PR_SET_PDEATHSIG = 1


def _prepare_child() -> None:
    os.umask(OWNER_ONLY_UMASK)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: Sequence[str],
    *,
    stdout: int | IO[bytes],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a session of its own, its stderr merged into `stdout`."""
    return subprocess.Popen(
        list(argv),
        stdout=stdout,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_prepare_child,  # noqa: PLW1509 - only sets a signal and the umask; no locks are taken
    )


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    """SIGTERM the child's group, wait, then SIGKILL what is left. Returns the exit code."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Grandchildren (a Celery pool) may outlive a leader that exited first.
    _signal_group(process.pid, signal.SIGKILL)
    return process.returncode


def describe_exit(returncode: int) -> str:
    """How a child ended, as a phrase: "exited with code 3", "was killed by SIGKILL"."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def last_lines(log: Path, count: int = 15) -> str:
    """The end of a child's log, to show with the error that ends it."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-count:])
    except OSError:
        return "(no log)"


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
