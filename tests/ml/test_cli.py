"""`bi-agent models train|list|predict` against the test database and the embedded S3."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bi_agent.cli import app as cli
from bi_agent.errors import InvalidInputError
from tests.conftest import EmbeddedStack
from tests.ml.conftest import unique_name


def words(output: str) -> str:
    """The output with rich's wrapping undone: tables wrap at the test terminal's width."""
    return " ".join(output.split())


@pytest.fixture
def runner(embedded: EmbeddedStack, database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.setenv("BI_AGENT_HOME", str(embedded.home))
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("REDIS_URL", embedded.addresses["redis"])
    monkeypatch.setenv("MINIO_ENDPOINT", embedded.addresses["s3"])
    return CliRunner()


def test_train_list_and_predict(runner: CliRunner, churn: str, tmp_path: Path) -> None:
    name = unique_name("churn")
    trained = runner.invoke(
        cli,
        [
            *("models", "train", name, "-d", churn, "-t", "churned", "--task", "classification"),
            *("-f", "monthly_charges", "-f", "plan", "-f", "autopay", "--algorithm", "random_forest"),
            *("-p", "n_estimators=40", "-p", "max_depth=null"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    said = words(trained.output)
    assert f"{name} version 1: random_forest, classification of churned" in said
    assert "roc_auc" in said and "240 rows trained, 60 held out" in said

    listed = runner.invoke(cli, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert "1 models" in words(listed.output)

    records = tmp_path / "new.csv"
    records.write_text("plan,monthly_charges,autopay\nbasic,110,false\npro,,true\n,30.5,\n")
    shown = runner.invoke(cli, ["models", "predict", name, str(records)])
    assert shown.exit_code == 0, shown.output
    assert "probability_yes" in words(shown.output) and "3 predictions" in words(shown.output)
    written = tmp_path / "out.csv"
    saved = runner.invoke(cli, ["models", "predict", name, str(records), "--version", "1", "-o", str(written)])
    assert saved.exit_code == 0, saved.output
    with written.open() as source:
        rows = list(csv.reader(source))
    assert rows[0] == ["prediction", "probability_no", "probability_yes"] and len(rows) == 4

    lines = tmp_path / "new.jsonl"
    lines.write_text(
        "\n".join(json.dumps({"plan": "basic", "monthly_charges": 99, "autopay": False}) for _ in range(2))
    )
    assert runner.invoke(cli, ["models", "predict", name, str(lines)]).exit_code == 0

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("plan,monthly_charges\nbasic,110\n")
    refused = runner.invoke(cli, ["models", "predict", name, str(wrong)])
    assert isinstance(refused.exception, InvalidInputError)
    assert "missing features autopay" in str(refused.exception)
    assert (
        runner.invoke(
            cli, ["models", "train", name, "-d", churn, "-t", "churned", "--task", "classification", "-p", "oops"]
        ).exit_code
        == 2
    )
