"""Retraining on real PostgreSQL and S3: unchanged data is skipped, a new version replaces
production only when it scores no worse on the same held-out rows, the decision stays on the
version, and a model that cannot be retrained is skipped or failed without stopping the others."""

from __future__ import annotations

import csv
import io
import random
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import Engine

from bi_agent.catalog import datasets
from bi_agent.infra import jobs
from bi_agent.ml import evaluation, registry, retraining
from bi_agent.ml.registry import ModelVersion
from bi_agent.ml.retraining import Outcome
from bi_agent.security import audit
from tests.analytics_api.conftest import Api
from tests.catalog.conftest import Importer
from tests.ml.conftest import BUCKET, Trainer, churn_csv, unique_name
from tests.ml_service.conftest import ml, ml_worker, wait_for_job  # noqa: F401 (fixtures used by the tests here)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def shuffled_target(content: bytes, seed: int) -> bytes:
    """The rows with their last column (the target) shuffled among them: a target no feature explains."""
    rows = list(csv.reader(io.StringIO(content.decode())))
    header, body = rows[0], rows[1:]
    targets = [row[-1] for row in body]
    random.Random(seed).shuffle(targets)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([*row[:-1], target] for row, target in zip(body, targets, strict=True))
    return out.getvalue().encode()


def retrain(engine: Engine, s3: S3Client) -> dict[str, Outcome]:
    return {outcome.model: outcome for outcome in retraining.retrain_all(engine, s3, BUCKET)}


def model(engine: Engine, name: str) -> tuple[dict[str, int], list[ModelVersion]]:
    with engine.connect() as connection:
        summary, versions = registry.get_model(connection, name)
    return summary.aliases, versions


def promote(engine: Engine, name: str, version: int) -> None:
    with engine.begin() as connection:
        registry.set_alias(connection, name, "production", version, None)


def test_unchanged_data_is_skipped(trainer: Trainer, churn: str, engine: Engine, s3: S3Client) -> None:
    name = unique_name("churn")
    trainer(name, churn, "churned", "classification")
    promote(engine, name, 1)

    outcome = retrain(engine, s3)[name]

    assert outcome == Outcome(
        name, "skipped", f"data unchanged: version 1 (production) was trained on data_version 1 of {churn}"
    )
    assert [version.version for version in model(engine, name)[1]] == [1]


def test_appended_data_promotes_a_version_no_worse_and_the_registry_shows_why(
    ml: Api,  # noqa: F811 (the fixture imported above)
    trainer: Trainer,
    load: Importer,
    engine: Engine,
    s3: S3Client,
) -> None:
    # Version 1 learns from labels no feature explains; the appended rows carry the real signal.
    load("churn", "noise.csv", shuffled_target(churn_csv(300, seed=7), seed=1))
    name = unique_name("churn")
    first = trainer(name, "churn", "churned", "classification", algorithm="logistic")
    promote(engine, name, 1)
    load("churn", "more.csv", churn_csv(600, seed=8), mode="append")

    outcome = retrain(engine, s3)[name]

    assert outcome.action == "promoted" and outcome.version == 2, outcome
    aliases, (second, _) = model(engine, name)
    assert aliases == {"production": 2}
    decision = second.decision
    assert decision is not None
    assert decision | {"decided_at": None} == {
        "action": "promoted",
        "reason": outcome.reason,
        "metric": "roc_auc",
        "new": second.metrics["roc_auc"],
        "production": decision["production"],
        "production_version": 1,
        "held_out_rows": 180,
        "decided_at": None,
    }
    assert decision["new"] >= decision["production"]
    assert outcome.reason.startswith("promoted: no worse than production (roc_auc ")
    assert "on the same 180 held-out rows of data_version 2" in outcome.reason
    # The same request again, on the current rows: what a replay means.
    assert second.data_version == 2 and second.training["rows_read"] == 900 and second.created_by is None
    assert second.algorithm == "logistic" and second.params == first.params | {"stratify": second.params["stratify"]}
    assert [feature.name for feature in second.features] == [feature.name for feature in first.features]

    shown = ml.client.get(f"/api/v1/models/{name}", headers=ml.headers("viewer")).json()
    assert shown["aliases"] == {"production": 2}
    assert shown["versions"][0]["decision"] == decision and shown["versions"][1]["decision"] is None

    # Nothing changed since: nothing to do.
    assert retrain(engine, s3)[name].action == "skipped"
    assert len(model(engine, name)[1]) == 2


def test_an_alias_moved_while_the_new_version_trained_stays_where_it_was_moved(
    trainer: Trainer, load: Importer, engine: Engine, s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    load("churn", "noise.csv", shuffled_target(churn_csv(300, seed=7), seed=1))
    name = unique_name("churn")
    trainer(name, "churn", "churned", "classification", algorithm="logistic")
    trainer(name, "churn", "churned", "classification", algorithm="logistic", features=("plan",))
    promote(engine, name, 1)
    load("churn", "more.csv", churn_csv(600, seed=8), mode="append")
    decide = retraining._decide

    def moved_meanwhile(*arguments: Any) -> Any:
        # Someone points production at version 2 by hand while version 3 is being trained.
        promote(engine, name, 2)
        return decide(*arguments)

    monkeypatch.setattr(retraining, "_decide", moved_meanwhile)
    outcome = retrain(engine, s3)[name]

    assert outcome.action == "failed" and outcome.version is None
    assert outcome.reason == (
        f"alias production of model {name} no longer names version 1, which version 3 was compared against: "
        "it moved while version 3 trained; nothing was registered"
    )
    aliases, versions = model(engine, name)
    assert aliases == {"production": 2} and [version.version for version in versions] == [2, 1]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"models/{name}/3").get("KeyCount", 0) == 0


def test_a_worse_version_keeps_production(
    trainer: Trainer, churn: str, load: Importer, engine: Engine, s3: S3Client
) -> None:
    name = unique_name("churn")
    trainer(name, churn, "churned", "classification")
    promote(engine, name, 1)
    # Rows whose target no feature explains, three times as many as the real ones: the new
    # version learns their noise, which production never saw.
    load("churn", "noise.csv", shuffled_target(churn_csv(900, seed=9), seed=2), mode="append")

    outcome = retrain(engine, s3)[name]

    assert outcome.action == "kept" and outcome.version == 2, outcome
    aliases, (second, _) = model(engine, name)
    assert aliases == {"production": 1}
    decision = second.decision
    assert decision is not None and decision["action"] == "kept" and decision["metric"] == "roc_auc"
    assert decision["new"] < decision["production"] and decision["production_version"] == 1
    assert outcome.reason == (
        f"kept production: the new version is worse than it (roc_auc {decision['new']:g} against "
        f"{decision['production']:g} for version 1, on the same 240 held-out rows of data_version 2)"
    )
    # Kept, the new version is not trained again until the data changes again.
    again = retrain(engine, s3)[name]
    assert again.action == "skipped" and "data unchanged since version 2" in again.reason
    assert len(model(engine, name)[1]) == 2


def test_without_a_production_alias_the_new_version_is_the_latest(
    trainer: Trainer, churn: str, load: Importer, engine: Engine, s3: S3Client
) -> None:
    name = unique_name("price")
    trainer(name, churn, "monthly_charges", "regression", features=("plan", "autopay", "age"), algorithm="linear")
    load("churn", "more.csv", churn_csv(200, seed=8), mode="append")

    outcome = retrain(engine, s3)[name]

    assert outcome.action == "latest" and outcome.version == 2, outcome
    aliases, (second, _) = model(engine, name)
    assert aliases == {}
    decision = second.decision
    assert decision is not None and decision["metric"] == "rmse"
    assert decision["production"] is None and decision["production_version"] is None
    assert decision["previous_version"] == 1 and isinstance(decision["previous"], float)
    assert outcome.reason.startswith("no production alias, so predictions use the latest version, now this one")


def test_in_hipaa_mode_a_retraining_on_phi_is_audited(
    trainer: Trainer, churn: str, load: Importer, engine: Engine, s3: S3Client
) -> None:
    # customer_name is flagged PHI (the fixture); whoever trained the model had phi:read.
    name = unique_name("churn")
    trainer(name, churn, "churned", "classification", features=("customer_name", "plan"), may_read_phi=True)
    load("churn", "more.csv", churn_csv(100, seed=8), mode="append")

    (outcome,) = retraining.retrain_all(engine, s3, BUCKET, job_id="job-1", hipaa_mode=True)

    assert outcome.action == "latest" and outcome.version == 2
    with engine.connect() as connection:
        (record,) = audit.list_records(connection, audit.AuditFilter(action="model.retrain"), 10, 0).items
    assert (record.dataset, record.columns, record.phi, record.purpose) == (
        churn,
        ("customer_name",),
        True,
        "OPERATIONS",
    )
    assert record.user_id is None and record.request_id == "job-1"
    assert record.details == {"model": name, "from_version": 1}


def test_a_dataset_that_lost_or_retyped_a_feature_or_is_gone_is_skipped(
    trainer: Trainer, churn: str, load: Importer, engine: Engine, s3: S3Client
) -> None:
    name = unique_name("churn")
    trainer(name, churn, "churned", "classification", features=("age", "plan", "autopay"))
    promote(engine, name, 1)
    rows = list(csv.reader(io.StringIO(churn_csv().decode())))

    def replace(keep: list[str], plan_as_number: bool = False) -> None:
        positions = [rows[0].index(column) for column in keep]
        out = io.StringIO()
        writer = csv.writer(out)
        for number, row in enumerate(rows):
            values = [row[position] for position in positions]
            if plan_as_number and number:
                values[keep.index("plan")] = str(number % 3)
            writer.writerow(values)
        load("churn", "changed.csv", out.getvalue().encode())

    replace(["age", "monthly_charges", "churned"])
    assert retrain(engine, s3)[name] == Outcome(
        name,
        "skipped",
        f"dataset {churn} no longer has the features plan, autopay; version 1 (production) stays: "
        "train the model again by hand",
    )
    replace(["age", "plan", "autopay", "churned"], plan_as_number=True)
    assert "dataset churn has features of another type: plan (text, now bigint)" in retrain(engine, s3)[name].reason
    with engine.begin() as connection:
        datasets.delete_dataset(connection, churn)
    assert retrain(engine, s3)[name].reason == (
        f"dataset {churn}, which version 1 (production) was trained on, no longer exists"
    )
    assert len(model(engine, name)[1]) == 1


def test_one_failing_model_does_not_stop_another(
    trainer: Trainer, churn: str, load: Importer, engine: Engine, s3: S3Client
) -> None:
    failing, working = unique_name("a_label"), unique_name("b_churn")
    load("labels", "labels.csv", ("x,label\n" + "".join(f"{row},{row % 2}\n" for row in range(60))).encode())
    trainer(failing, "labels", "label", "classification")
    trainer(working, churn, "churned", "classification")
    # The new rows leave the label one class: the failing model cannot be trained on them.
    load("labels", "one.csv", ("x,label\n" + "".join(f"{row},0\n" for row in range(60))).encode())
    load("churn", "more.csv", churn_csv(100, seed=8), mode="append")

    outcomes = retrain(engine, s3)

    assert outcomes[failing] == Outcome(
        failing, "failed", "target label has one class in its 60 rows; classification needs at least two"
    )
    assert outcomes[working].action == "latest" and outcomes[working].version == 2
    assert len(model(engine, failing)[1]) == 1


def test_the_daily_task_runs_in_the_worker(
    ml: Api,  # noqa: F811 (the fixture imported above)
    ml_worker: None,  # noqa: F811 (as above)
    trainer: Trainer,
    churn: str,
    load: Importer,
    engine: Engine,
) -> None:
    name = unique_name("churn")
    trainer(name, churn, "churned", "classification")
    promote(engine, name, 1)
    load("churn", "more.csv", churn_csv(100, seed=8), mode="append")

    with ml.engine.begin() as connection:
        job_id = jobs.submit(ml.app.state.connections.celery, connection, "update_ml_models", [], {}, None)
    job = wait_for_job(ml, job_id)

    assert job["state"] == "SUCCESS", job
    result: dict[str, Any] = job["result"]
    ((outcome),) = result["models"]
    assert outcome["model"] == name and outcome["version"] == 2 and outcome["action"] in ("promoted", "kept")
    assert outcome["reason"].startswith(("promoted: no worse than production", "kept production"))
    assert model(engine, name)[1][0].job_id == job_id


def test_production_is_scored_on_the_new_versions_classes() -> None:
    # Production knew classes a, b and d; the new version's held-out rows hold a, b and c.
    x = pd.DataFrame({"x": [0.0, 1.0, 2.0, 0.1, 1.1, 2.1]})
    production = LogisticRegression().fit(x, np.array(["a", "b", "d", "a", "b", "d"]))
    held_out = pd.DataFrame({"x": [0.0, 1.0, 2.0, 1.5]})
    labels = np.array(["a", "b", "c", "c"])

    scores = evaluation.score("classification", production, held_out, labels, classes=["a", "b", "c"])

    # c is never predicted (production gives it probability 0), so it counts against production.
    assert set(scores) == {"accuracy", "f1", "roc_auc"} and scores["accuracy"] <= 0.5
    assert evaluation.primary_metric("classification", 3, scores) == "f1"
    assert evaluation.primary_metric("classification", 2, scores, {"f1": 0.5}) == "f1"
    assert evaluation.primary_metric("regression", 0) == "rmse"
    assert evaluation.not_worse("roc_auc", 0.8, 0.8) and not evaluation.not_worse("rmse", 2.0, 1.0)
