"""The web's tests: the `web` marker selects them (`pytest -m web`)."""

from __future__ import annotations

from pathlib import Path

import pytest

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "web: the web frontend (Next.js), end to end in a headless Chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.web)
