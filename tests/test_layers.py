"""The layers keep their direction: the domain imports no framework and no door, and
`infra/` imports neither the domain nor a door (docs/ARCHITECTURE.md, Layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "bi_agent"
DOORS = ("bi_agent.analytics_api", "bi_agent.ml_service", "bi_agent.worker", "bi_agent.cli", "bi_agent.http")
FRAMEWORKS = ("fastapi", "starlette", "celery", "kombu", "redbeat", "typer", "bi_agent.task_queue")
DOMAIN = ("bi_agent.catalog", "bi_agent.ml", "bi_agent.security")
REFUSED = {
    "catalog": DOORS + FRAMEWORKS,
    "ml": DOORS + FRAMEWORKS,
    "security": DOORS + FRAMEWORKS,
    "infra": DOORS + DOMAIN + ("bi_agent.supervisor",),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module the file imports, with its line: `from x import y` names x and x.y."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


@pytest.mark.parametrize("layer", sorted(REFUSED))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    crossings = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for line, module in imported_modules(path)
        if any(is_within(module, refused) for refused in REFUSED[layer])
    ]
    assert crossings == []
