"""`bi-agent up` and the web: started with Node.js 20.9+ and a build, else one line saying how to get it."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from bi_agent.supervisor import web_plan
from tests.conftest import make_settings


def fake_node(folder: Path, version: str) -> str:
    node = folder / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(node.stat().st_mode | stat.S_IEXEC)
    return str(node)


def built_web(folder: Path) -> Path:
    web = folder / "web"
    (web / ".next" / "standalone").mkdir(parents=True)
    (web / ".next" / "standalone" / "server.js").write_text("")
    return web


def test_a_built_web_starts_with_the_apis_addresses(tmp_path: Path) -> None:
    settings = make_settings(
        web_dir=built_web(tmp_path),
        web_port=4123,
        analytics_api_port=4100,
        ml_service_port=4200,
        grafana_url="http://grafana.example:3002",
    )
    plan = web_plan(settings, fake_node(tmp_path, "v20.20.2"))
    assert plan.reason is None
    assert plan.spec is not None
    assert plan.spec.argv[1] == str(tmp_path / "web" / ".next" / "standalone" / "server.js")
    assert plan.spec.health_url == "http://127.0.0.1:4123/api/health"
    assert plan.spec.env["PORT"] == "4123"
    assert plan.spec.env["ANALYTICS_API_URL"] == "http://127.0.0.1:4100"
    assert plan.spec.env["ML_SERVICE_URL"] == "http://127.0.0.1:4200"
    assert plan.spec.env["GRAFANA_URL"] == "http://grafana.example:3002"
    assert "JAEGER_URL" not in plan.spec.env


def test_an_old_node_says_what_is_needed(tmp_path: Path) -> None:
    plan = web_plan(make_settings(web_dir=built_web(tmp_path)), fake_node(tmp_path, "v18.19.0"))
    assert plan.spec is None
    assert plan.reason == (
        "web not started: Node.js is 18.19; install Node.js 20.9+ and run `make web`, then start again"
    )


def test_an_unbuilt_web_says_make_web(tmp_path: Path) -> None:
    plan = web_plan(make_settings(web_dir=tmp_path / "web"), fake_node(tmp_path, "v22.1.0"))
    assert plan.spec is None
    assert plan.reason is not None
    assert "is not built; run `make web`" in plan.reason


def test_no_node_says_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    plan = web_plan(make_settings(web_dir=built_web(tmp_path)))
    assert plan.spec is None
    assert plan.reason == (
        "web not started: Node.js is not installed; install Node.js 20.9+ and run `make web`, then start again"
    )
