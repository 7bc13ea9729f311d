"""The registry: versions listed with what made them, aliases that move, and deletes that
never leave an alias dangling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from bi_agent.errors import ConflictError, InvalidInputError, NotFoundError
from bi_agent.ml import registry
from tests.ml.conftest import BUCKET, Trainer, unique_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_list_and_read_models(trainer: Trainer, churn: str, prices: str, engine: Engine) -> None:
    churn_model, price_model = unique_name("a_churn"), unique_name("b_price")
    trainer(churn_model, churn, "churned", "classification")
    newest = trainer(churn_model, churn, "churned", "classification", features=("plan",))
    trainer(price_model, prices, "price", "regression")
    with engine.begin() as connection:
        registry.set_alias(connection, churn_model, "production", 1, None)

    with engine.connect() as connection:
        items, total = registry.list_models(connection, limit=10, offset=0)
        summary, versions = registry.get_model(connection, churn_model)
    assert total == 2 and [item.name for item in items] == [churn_model, price_model]
    listed = items[0].model_dump(mode="json")
    assert listed["task"] == "classification" and listed["latest_version"] == 2
    assert listed["aliases"] == {"production": 1} and listed["metrics"] == newest.metrics
    assert summary.aliases == {"production": 1}
    assert [version.version for version in versions] == [2, 1]
    assert versions[1].aliases == ("production",) and versions[0].aliases == ()
    shown = versions[0].model_dump(mode="json")
    assert shown["features"] == [{"name": "plan", "type": "text"}]
    assert set(shown["artifact"]) == {"key", "sha256", "size_bytes"}
    assert {"params", "metrics", "dataset", "data_version", "created_by", "created_at"} <= set(shown)


def test_a_version_an_alias_names_cannot_be_deleted(trainer: Trainer, churn: str, engine: Engine, s3: S3Client) -> None:
    name = unique_name("churn")
    first = trainer(name, churn, "churned", "classification")
    trainer(name, churn, "churned", "classification")
    with engine.begin() as connection:
        registry.set_alias(connection, name, "production", 1, None)
        registry.set_alias(connection, name, "staging", 1, None)
    with pytest.raises(ConflictError, match=f"version 1 of model {name} is what production, staging point"):
        registry.delete_version(engine, s3, BUCKET, name, 1)
    with engine.begin() as connection:
        registry.set_alias(connection, name, "production", 2, None)
        registry.delete_alias(connection, name, "staging")
    registry.delete_version(engine, s3, BUCKET, name, 1)

    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=first.artifact_key).get("KeyCount", 0) == 0
    with engine.connect() as connection, pytest.raises(NotFoundError, match=f"model {name} has no version 1"):
        registry.get_version(connection, name, 1)
    # A deleted number is never given again.
    assert trainer(name, churn, "churned", "classification").version == 3


def test_alias_mistakes(trainer: Trainer, churn: str, engine: Engine) -> None:
    name = unique_name("churn")
    trainer(name, churn, "churned", "classification")
    with engine.begin() as connection:
        with pytest.raises(NotFoundError, match=f"model {name} has no version 5"):
            registry.set_alias(connection, name, "production", 5, None)
        with pytest.raises(InvalidInputError, match="alias 'Prod!' is not a plain identifier"):
            registry.set_alias(connection, name, "Prod!", 1, None)
        with pytest.raises(NotFoundError, match="no model named 'ghost'"):
            registry.set_alias(connection, "ghost", "production", 1, None)
        with pytest.raises(NotFoundError, match=f"model {name} has no alias staging"):
            registry.delete_alias(connection, name, "staging")
