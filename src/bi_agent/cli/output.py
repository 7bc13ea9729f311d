"""Where the commands write: the terminal's output, and its error stream for failures."""

from __future__ import annotations

from rich.console import Console

console = Console()
error_console = Console(stderr=True)
