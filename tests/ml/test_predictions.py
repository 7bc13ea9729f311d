"""Predictions: the input checks (each problem listed with where it is), one batch through the
model, and the cache of loaded models following an alias."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pytest
from sklearn.pipeline import Pipeline
from sqlalchemy import Engine

from bi_agent.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from bi_agent.ml import predictions, registry
from bi_agent.ml.features import Feature
from bi_agent.ml.predictions import ModelCache, PredictionInput, read_input, to_frame
from tests.ml.conftest import BUCKET, Trainer, unique_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FEATURES = (Feature("age", "number"), Feature("plan", "text"), Feature("autopay", "boolean"))
GOOD = {"age": 40, "plan": "pro", "autopay": True}


def frame_of(body: Any) -> Any:
    return to_frame("churn", FEATURES, read_input(body))


def test_records_and_dataframe_split_make_the_same_frame() -> None:
    records = [GOOD, {"age": 51.5, "plan": None, "autopay": None}]
    split = {"columns": ["plan", "autopay", "age"], "data": [["pro", True, 40], [None, None, 51.5]]}
    by_records, by_split = frame_of({"records": records}), frame_of({"dataframe_split": split})
    assert list(by_records.columns) == ["age", "plan", "autopay"] == list(by_split.columns)
    assert by_records.equals(by_split)
    assert by_records["age"].tolist() == [40.0, 51.5]
    assert by_records["autopay"].tolist()[0] == 1.0 and math.isnan(by_records["autopay"].tolist()[1])
    assert by_records["plan"].dtype == object and math.isnan(by_records["plan"][1])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"records": []}, "records is empty"),
        ({"records": [GOOD], "dataframe_split": {}}, "either `records` or `dataframe_split`"),
        ({"instances": [GOOD]}, "unknown fields instances"),
        ({"records": [GOOD], "version": 0}, "version must be a whole number from 1"),
        ({"records": [GOOD, 3]}, r"records must be objects; not so: records\[1\]"),
        ({"records": [{"age": 40, "plan": "pro"}]}, "missing features autopay"),
        ({"records": [{**GOOD, "income": 3, "zip": "x"}]}, r"extra features income, zip \(the model does not read"),
        ({"records": [GOOD, {"age": 3, "plan": "x"}]}, r"feature autopay is missing from records\[1\]"),
        ({"records": [GOOD, {**GOOD, "age": "forty"}]}, r"feature age expects a number .* in records\[1\]"),
        ({"records": [{**GOOD, "age": True}]}, r"feature age expects a number"),
        ({"records": [{**GOOD, "plan": 3}]}, r"feature plan expects text"),
        ({"records": [{**GOOD, "autopay": "yes"}]}, r"feature autopay expects true or false"),
        ({"records": [{**GOOD, "age": 10**400}]}, "feature age has a whole number too large for a float"),
        (
            {"records": [GOOD, {**GOOD, "age": math.nan}, {**GOOD, "age": math.inf}]},
            r"age has NaN or infinite values in records\[1\], records\[2\]",
        ),
        (
            {"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}},
            r"list of 1 values, one per column; not so: dataframe_split.data\[0\]",
        ),
        ({"dataframe_split": {"columns": ["age", "age"], "data": [[1, 2]]}}, "names age more than once"),
        (
            {"dataframe_split": {"columns": ["age", "plan", "autopay"], "data": [[1, "a", True], ["x", "a", True]]}},
            r"age expects a number .* dataframe_split.data\[1\]",
        ),
    ],
)
def test_bad_input_is_one_422_naming_what_and_where(body: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        frame_of(body)


def test_every_problem_is_listed_at_once_with_a_sample_of_records() -> None:
    records = [{"age": "x", "plan": "pro"} for _ in range(8)]
    with pytest.raises(InvalidInputError) as caught:
        frame_of({"records": records})
    message = str(caught.value)
    assert "missing features autopay" in message
    assert r"records[0], records[1], records[2], records[3], records[4] and 3 more" in message


def test_too_many_records_is_413() -> None:
    with pytest.raises(PayloadTooLargeError, match="100,000 records; one request takes at most 50,000"):
        read_input({"records": [GOOD] * 100_000})
    with pytest.raises(PayloadTooLargeError):
        read_input({"dataframe_split": {"columns": ["age"], "data": [[1]] * 50_001}})


def test_the_cache_keeps_the_most_recently_used() -> None:
    cache = ModelCache(capacity=2)
    loads: list[str] = []

    def loader(name: str) -> Any:
        def load() -> Pipeline:
            loads.append(name)
            return Pipeline([("passthrough", "passthrough")])

        return load

    first = cache.get(("a", 1, "x"), loader("a"))
    assert cache.get(("a", 1, "x"), loader("a")) is first
    cache.get(("b", 1, "x"), loader("b"))
    cache.get(("a", 1, "x"), loader("a"))
    cache.get(("c", 1, "x"), loader("c"))  # b is the least recently used
    assert cache.loaded() == [("a", 1, "x"), ("c", 1, "x")]
    assert loads == ["a", "b", "c"]

    def failing() -> Pipeline:
        raise RuntimeError("load failed")

    with pytest.raises(RuntimeError):
        cache.get(("d", 1, "x"), failing)
    assert ("d", 1, "x") not in cache.loaded()


def test_a_batch_is_predicted_as_the_model_predicts(trainer: Trainer, churn: str, engine: Engine, s3: S3Client) -> None:
    name = unique_name("churn")
    version = trainer(name, churn, "churned", "classification")
    records = [
        {
            "age": 30 + row,
            "monthly_charges": 20.0 + 9 * row,
            "plan": ["basic", "pro", None][row % 3],
            "autopay": row % 2 == 0,
        }
        for row in range(12)
    ]
    cache = ModelCache()
    result = predictions.predict(engine, s3, BUCKET, cache, name, read_input({"records": records}))

    pipeline = cache.get((name, 1, version.artifact_sha256), lambda: pytest.fail("not cached"))
    expected = pipeline.predict(to_frame(name, version.features, read_input({"records": records})))
    reply = result.reply().model_dump()
    assert reply["version"] == 1 and reply["predictions"] == expected.tolist()
    assert reply["classes"] == ["no", "yes"]
    assert np.allclose(np.sum(reply["probabilities"], axis=1), 1)
    assert set(reply) == {"model", "version", "predictions", "classes", "probabilities"}
    assert orjson.loads(result.as_json()) == reply


def test_an_alias_move_reaches_the_next_prediction(
    trainer: Trainer, churn: str, prices: str, engine: Engine, s3: S3Client
) -> None:
    name = unique_name("price")
    first = trainer(name, prices, "price", "regression", features=("size",), algorithm="linear")
    second = trainer(name, prices, "price", "regression", features=("size", "district"), algorithm="linear")
    cache = ModelCache()

    def predict(record: dict[str, Any], **selector: Any) -> predictions.Prediction:
        return predictions.predict(engine, s3, BUCKET, cache, name, read_input({"records": [record], **selector}))

    # No production alias yet: the latest version answers.
    assert predict({"size": 80, "district": "north"}).version == 2
    with engine.begin() as connection:
        registry.set_alias(connection, name, "production", 1, None)
    assert predict({"size": 80}).version == 1
    with engine.begin() as connection:
        registry.set_alias(connection, name, "production", 2, None)
    moved = predict({"size": 80, "district": "north"})
    assert moved.version == 2
    assert set(cache.loaded()) == {(name, 1, first.artifact_sha256), (name, 2, second.artifact_sha256)}
    assert predict({"size": 80}, version=1).version == 1
    with pytest.raises(NotFoundError, match=f"model {name} has no alias staging"):
        predict({"size": 80}, alias="staging")
    with pytest.raises(NotFoundError, match=f"model {name} has no version 9"):
        predict({"size": 80}, version=9)
    with pytest.raises(NotFoundError, match="no model named 'nothing_here'"):
        predictions.predict(engine, s3, BUCKET, cache, "nothing_here", read_input({"records": [{"size": 1}]}))


def test_a_file_batch_counts_rows_from_one() -> None:
    batch = predictions.from_columns({"age": [1, "x"], "plan": ["a", "b"], "autopay": [True, False]})
    assert isinstance(batch, PredictionInput)
    with pytest.raises(InvalidInputError, match="in row 2"):
        to_frame("churn", FEATURES, batch)
