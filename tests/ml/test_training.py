"""Training on datasets loaded through the import: metrics beat the baseline, the version says
how to repeat it, and every bad request is a clear 4xx that registers nothing."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import Engine, text

from bi_agent.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from bi_agent.ml import registry, training
from tests.catalog.conftest import Importer
from tests.ml.conftest import BUCKET, Trainer, churn_csv, unique_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def registered(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        models = connection.execute(text("SELECT count(*) FROM bi.models")).scalar_one()
        versions = connection.execute(text("SELECT count(*) FROM bi.model_versions")).scalar_one()
    return models, versions


def test_classification_beats_its_baseline_and_says_how_to_repeat_it(
    trainer: Trainer, churn: str, engine: Engine, s3: S3Client
) -> None:
    name = unique_name("churn")
    version = trainer(name, churn, "churned", "classification")

    assert version.version == 1
    metrics = version.metrics
    assert set(metrics) == {"accuracy", "f1", "roc_auc", "baseline"}
    assert metrics["accuracy"] > metrics["baseline"]["accuracy"]
    assert metrics["roc_auc"] > 0.7 and metrics["baseline"]["roc_auc"] == 0.5
    assert metrics["f1"] > metrics["baseline"]["f1"]
    # PHI and the date column are left out of the default features; types come from the catalog.
    assert version.model_dump(mode="json")["features"] == [
        {"name": "age", "type": "number"},
        {"name": "monthly_charges", "type": "number"},
        {"name": "plan", "type": "text"},
        {"name": "autopay", "type": "boolean"},
    ]
    assert version.training["features_skipped"] == ["signed_up"]
    assert version.classes == ["no", "yes"]
    assert version.params["split_seed"] == training.SPLIT_SEED and version.params["test_size"] == 0.2
    assert version.params["stratify"] is True and version.params["learning_rate"] == 0.1
    assert version.training["rows_train"] + version.training["rows_test"] == 300
    assert version.dataset == churn and version.data_version == 1 and version.algorithm == "hist_gradient_boosting"
    stored = s3.get_object(Bucket=BUCKET, Key=f"models/{name}/1.skops")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == version.artifact_sha256
    assert version.artifact_key == f"models/{name}/1.skops"


def test_regression_beats_its_baseline(trainer: Trainer, prices: str) -> None:
    version = trainer(unique_name("price"), prices, "price", "regression", algorithm="linear")

    metrics = version.metrics
    assert set(metrics) == {"rmse", "mae", "r2", "baseline"}
    assert metrics["r2"] > 0.9 and metrics["baseline"]["r2"] <= 0
    assert metrics["rmse"] < metrics["baseline"]["rmse"] / 3
    assert metrics["mae"] < metrics["baseline"]["mae"]
    assert version.classes is None and version.params["alpha"] == 1.0


@pytest.mark.parametrize("algorithm", ["hist_gradient_boosting", "random_forest", "linear", "logistic"])
def test_every_algorithm_learns(trainer: Trainer, churn: str, algorithm: Any) -> None:
    version = trainer(unique_name("churn"), churn, "churned", "classification", algorithm=algorithm)
    assert version.metrics["roc_auc"] > 0.7, version.metrics


def test_the_same_request_gives_the_same_model(trainer: Trainer, churn: str) -> None:
    name = unique_name("churn")
    first = trainer(name, churn, "churned", "classification", algorithm="random_forest", params={"n_estimators": 20})
    second = trainer(name, churn, "churned", "classification", algorithm="random_forest", params={"n_estimators": 20})
    assert (first.version, second.version) == (1, 2)
    assert first.metrics == second.metrics
    assert first.params == second.params and first.params["n_estimators"] == 20


def test_named_features_and_params(trainer: Trainer, churn: str) -> None:
    version = trainer(
        unique_name("churn"),
        churn,
        "churned",
        "classification",
        features=("plan", "monthly_charges"),
        params={"max_iter": 50, "learning_rate": 0.05},
        test_size=0.3,
    )
    assert [feature.name for feature in version.features] == ["plan", "monthly_charges"]
    assert version.params["max_iter"] == 50 and version.params["learning_rate"] == 0.05
    assert version.training["rows_test"] == 90


def test_phi_features_need_phi_read_and_a_name(trainer: Trainer, churn: str, engine: Engine) -> None:
    name = unique_name("churn")
    with pytest.raises(PermissionDeniedError, match=r"customer_name are PHI columns.*phi:read"):
        trainer(name, churn, "churned", "classification", features=("customer_name", "plan"))
    with pytest.raises(PermissionDeniedError, match="target customer_name is a PHI column"):
        trainer(name, churn, "customer_name", "classification", features=("plan",))
    version = trainer(name, churn, "churned", "classification", features=("customer_name", "plan"), may_read_phi=True)
    assert [feature.name for feature in version.features] == ["customer_name", "plan"]
    assert registered(engine) == (1, 1)


def test_rows_without_a_target_are_left_out_and_counted(trainer: Trainer, load: Importer) -> None:
    content = churn_csv().decode().splitlines()
    # Blank the target of every tenth row.
    blanked = [content[0]] + [
        line.rsplit(",", 1)[0] + "," if i % 10 == 0 else line for i, line in enumerate(content[1:])
    ]
    load("churn_gaps", "gaps.csv", ("\n".join(blanked) + "\n").encode())
    version = trainer(unique_name("churn"), "churn_gaps", "churned", "classification")
    assert version.training["rows_read"] == 300 and version.training["rows_without_target"] == 30
    assert version.training["rows_train"] + version.training["rows_test"] == 270


def small_csv(rows: int, target: str = "label") -> bytes:
    lines = [f"x,{target}"] + [f"{row},{row % 2}" for row in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_bad_requests_are_refused_and_register_nothing(
    trainer: Trainer, churn: str, load: Importer, engine: Engine
) -> None:
    def check(error: type[Exception], match: str, **request: Any) -> None:
        full = {"model": unique_name("bad"), "dataset": churn, "task": "classification", **request}
        with pytest.raises(error, match=match):
            trainer(**full)

    check(NotFoundError, "no dataset named 'nowhere'", dataset="nowhere", target="churned")
    check(InvalidInputError, "dataset churn has no column nothing [(]the target[)]", target="nothing")
    check(
        InvalidInputError,
        "has no column height, width [(]features[)]",
        target="churned",
        features=("height", "plan", "width"),
    )
    check(InvalidInputError, "signed_up [(]date[)] are dates", target="churned", features=("signed_up",))
    check(
        InvalidInputError, "target churned is text; a regression predicts a number", target="churned", task="regression"
    )
    check(InvalidInputError, "the target churned cannot also be a feature", target="churned", features=("churned",))
    check(InvalidInputError, "features named more than once: plan", target="churned", features=("plan", "plan"))
    check(
        InvalidInputError,
        "params depth are not settable.*settable: l2_regularization",
        target="churned",
        params={"depth": 3},
    )
    check(
        InvalidInputError,
        "params.max_iter must be an integer from 1 to 2000, not 1000000",
        target="churned",
        params={"max_iter": 1_000_000},
    )
    check(InvalidInputError, "algorithm logistic classifies", target="age", task="regression", algorithm="logistic")
    check(InvalidInputError, "test_size must be from 0.05 to 0.5", target="churned", test_size=0.9)
    check(InvalidInputError, "model name 'Bad Name' is not a plain identifier", target="churned", model="Bad Name")
    check(InvalidInputError, "target monthly_charges holds fractional", target="monthly_charges")

    load("one_class", "one.csv", ("x,label\n" + "".join(f"{row},no\n" for row in range(50))).encode())
    check(InvalidInputError, "target label has one class in its 50 rows", dataset="one_class", target="label")
    load("few", "few.csv", small_csv(12))
    check(
        InvalidInputError, "too few rows to split: dataset few has 12 rows with a target", dataset="few", target="label"
    )
    load("small", "small.csv", small_csv(40))
    check(
        InvalidInputError,
        "40 rows at test_size 0.05 leave 2 for testing",
        dataset="small",
        target="label",
        test_size=0.05,
    )
    load("ids", "ids.csv", ("x,customer_id\n" + "".join(f"{row % 7},{row}\n" for row in range(300))).encode())
    check(
        InvalidInputError,
        "target customer_id has 300 classes; classification takes at most 100",
        dataset="ids",
        target="customer_id",
    )
    with engine.begin() as connection:
        connection.execute(text("UPDATE analytics.churn SET monthly_charges = 'Infinity' WHERE age < 25"))
    check(InvalidInputError, "feature monthly_charges of dataset churn holds [0-9]+ infinite values", target="churned")

    assert registered(engine) == (0, 0)


def test_a_model_keeps_its_task_and_target(trainer: Trainer, churn: str) -> None:
    name = unique_name("churn")
    trainer(name, churn, "churned", "classification")
    with pytest.raises(ConflictError, match=f"model {name} is a classification of churned"):
        trainer(name, churn, "age", "regression")


def test_a_failed_registration_leaves_neither_row_nor_file(
    trainer: Trainer, churn: str, engine: Engine, s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name("churn")

    def failing_read(*arguments: Any) -> Any:
        raise RuntimeError("registry read failed")

    # The file is written and the row inserted; the read that follows, before the commit, fails.
    monkeypatch.setattr(registry, "get_version", failing_read)
    with pytest.raises(RuntimeError, match="registry read failed"):
        trainer(name, churn, "churned", "classification")
    assert registered(engine) == (0, 0)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"models/{name}/").get("KeyCount", 0) == 0


def test_a_failed_upload_registers_nothing(churn: str, engine: Engine, s3: S3Client) -> None:
    request = training.TrainingRequest(
        model=unique_name("churn"), dataset=churn, target="churned", task="classification"
    )
    with pytest.raises(ClientError, match="InvalidBucketName"):
        training.train(engine, s3, "Not_A_Bucket", request)
    assert registered(engine) == (0, 0)
