"""Learnable synthetic datasets, loaded through the product's import, and a trainer.

`churn` is a classification (churned yes/no, from charges, plan and autopay, with noise);
`prices` a regression (price from size, rooms, district and garden, with noise). Both
have missing values in a feature, a date column (never a feature) and a name column that
tests flag as PHI. A few hundred rows: training takes well under a second.
"""

from __future__ import annotations

import csv
import io
import math
import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine

from bi_agent.catalog import datasets
from bi_agent.ml import training
from bi_agent.ml.registry import ModelVersion
from tests.catalog.conftest import Importer, load, s3  # noqa: F401 (fixtures used by the tests here)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "models"
PLANS = ("basic", "plus", "pro")
DISTRICTS = ("centre", "north", "harbour", "hills")


def churn_csv(rows: int = 300, seed: int = 7) -> bytes:
    chance = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["customer_name", "signed_up", "age", "monthly_charges", "plan", "autopay", "churned"])
    for row in range(rows):
        age = chance.randint(18, 80)
        charges = round(chance.uniform(10, 120), 2)
        plan = chance.choice(PLANS)
        autopay = chance.random() < 0.5
        score = -0.5 + 0.04 * (charges - 60) + {"basic": 1.5, "plus": 0.0, "pro": -1.5}[plan] - 1.2 * autopay
        churned = chance.random() < 1 / (1 + math.exp(-score))
        writer.writerow(
            [
                f"customer {row}",
                f"2024-{1 + row % 12:02d}-{1 + row % 28:02d}",
                age,
                "" if row % 20 == 3 else charges,
                "" if row % 25 == 4 else plan,
                str(autopay).lower(),
                "yes" if churned else "no",
            ]
        )
    return out.getvalue().encode()


def prices_csv(rows: int = 300, seed: int = 11) -> bytes:
    chance = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["owner_name", "listed_on", "size", "rooms", "district", "garden", "price"])
    for row in range(rows):
        size = round(chance.uniform(30, 200), 1)
        rooms = chance.randint(1, 6)
        district = chance.choice(DISTRICTS)
        garden = chance.random() < 0.4
        price = (
            1000 * size
            + 5000 * rooms
            + {"centre": 60000, "north": 0, "harbour": 30000, "hills": 15000}[district]
            + 8000 * garden
            + chance.gauss(0, 5000)
        )
        writer.writerow(
            [
                f"owner {row}",
                f"2024-{1 + row % 12:02d}-{1 + row % 28:02d}",
                "" if row % 30 == 5 else size,
                rooms,
                district,
                str(garden).lower(),
                round(price, 2),
            ]
        )
    return out.getvalue().encode()


def unique_name(prefix: str) -> str:
    """Model names unique in the session: every test database writes to the one `models` bucket."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def flag_phi(engine: Engine, dataset: str, column: str) -> None:
    with engine.begin() as connection:
        datasets.update_columns(connection, dataset, [datasets.ColumnChange(column, phi=True)])


@dataclass
class Trainer:
    engine: Engine
    s3: S3Client

    def __call__(self, model: str, dataset: str, target: str, task: Any, **options: Any) -> ModelVersion:
        request = training.TrainingRequest(model=model, dataset=dataset, target=target, task=task, **options)
        return training.train(self.engine, self.s3, BUCKET, request)


@pytest.fixture
def churn(load: Importer, engine: Engine) -> str:  # noqa: F811 (the fixture imported above)
    load("churn", "churn.csv", churn_csv())
    flag_phi(engine, "churn", "customer_name")
    return "churn"


@pytest.fixture
def prices(load: Importer, engine: Engine) -> str:  # noqa: F811 (the fixture imported above)
    load("prices", "prices.csv", prices_csv())
    flag_phi(engine, "prices", "owner_name")
    return "prices"


@pytest.fixture
def trainer(engine: Engine, s3: S3Client) -> Trainer:  # noqa: F811 (the fixture imported above)
    return Trainer(engine, s3)
