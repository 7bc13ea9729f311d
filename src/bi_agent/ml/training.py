"""Training: from a dataset's table to a registered model version, in one function.

`train` is what the ML service runs in the request (`?wait=true`), what the `train_model`
task runs, and what `bi-agent models train` runs. It checks the request against the
catalog (`plan`, also called by the service before queueing, so a bad request fails at
once), reads the target and features in one snapshot with the dataset's data_version,
drops rows without a target (and says how many), splits with a fixed seed (stratified by
class where every class can be), fits the pipeline, scores it and a baseline on the
held-out rows, and registers the version. Anything wrong with the data is a 4xx naming
the column, and registers nothing. `TrainingRequest.replay` is the request a version was
trained with, which retraining runs again on newer data.

PHI columns are never features by default; a caller with `phi:read` may name them.
Error messages name columns and counts, never values: a value may be PHI.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import sklearn
import skops
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, ValidationError, model_validator
from pydantic_core import ErrorDetails
from sklearn.model_selection import train_test_split
from sqlalchemy import Engine, text

from bi_agent.catalog import datasets
from bi_agent.catalog.columns import NUMBER_TYPES, ColumnSpec
from bi_agent.catalog.names import IDENTIFIER, check_identifier
from bi_agent.errors import BIAgentError, ErrorItem, InvalidInputError, NotFoundError, PermissionDeniedError
from bi_agent.infra import error_text
from bi_agent.infra.db import psycopg_connection
from bi_agent.infra.telemetry import TRAINING_RUNS, TRAINING_SECONDS
from bi_agent.ml import artifacts, registry
from bi_agent.ml.evaluation import evaluate
from bi_agent.ml.features import Feature, build_frame, column_array, feature_kind
from bi_agent.ml.pipelines import (
    DEFAULT_ALGORITHM,
    RANDOM_STATE,
    Algorithm,
    ParamValue,
    Task,
    build_pipeline,
    check_params,
    effective_params,
    settable_params,
)
from bi_agent.ml.registry import ModelVersion, NewVersion
from bi_agent.progress import Progress, no_progress

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIN_ROWS = 20
MIN_TEST_ROWS = 5
MIN_TEST_SIZE = 0.05
MAX_TEST_SIZE = 0.5
DEFAULT_TEST_SIZE = 0.2
# A target with more distinct values than this is almost surely a number to regress or an id.
MAX_CLASSES = 100
MAX_FEATURES = 500
# Read into memory whole; beyond this, train on a sampled copy of the dataset.
MAX_TRAINING_ROWS = 2_000_000
READ_BATCH_ROWS = 50_000
SPLIT_SEED = RANDOM_STATE


class TrainingSpec(BaseModel):
    """What a caller asks to train: the body of `POST /api/v1/models/{name}/train`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="The dataset to read")
    target: str = Field(description="The column to predict")
    task: Task
    features: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FEATURES,
        description="Default: every column but the target that is a number, boolean or text and not PHI. "
        "PHI columns need phi:read and must be named.",
    )
    algorithm: Algorithm = Field(
        default=DEFAULT_ALGORITHM,
        description="hist_gradient_boosting (default), random_forest, linear (ridge regression or logistic "
        "regression) or logistic (classification)",
    )
    params: dict[str, ParamValue] = Field(
        default_factory=dict, max_length=20, description="Hyperparameters of the algorithm; 422 lists the settable"
    )
    test_size: float = Field(
        default=DEFAULT_TEST_SIZE,
        ge=MIN_TEST_SIZE,
        le=MAX_TEST_SIZE,
        description="Share of rows held out for the metrics",
    )

    def request(self, model: str, *, may_read_phi: bool, user_id: uuid.UUID | None) -> TrainingRequest:
        """The training of `model` this asks for, on behalf of its caller."""
        return TrainingRequest(**dict(self), model=model, may_read_phi=may_read_phi, user_id=user_id)


class TrainingRequest(TrainingSpec):
    """A training job: the spec, the model it makes a version of, and who asked. The same
    model is the `train_model` task's argument (`model_dump(mode="json")`, validated again
    in the task) and what `bi-agent models train` and retraining build."""

    model: str
    split_seed: int = SPLIT_SEED
    may_read_phi: bool = False
    user_id: uuid.UUID | None = None
    job_id: str | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _refused_as_invalid_input(
        cls, values: Any, handler: ModelWrapValidatorHandler[TrainingRequest]
    ) -> TrainingRequest:
        """Built in Python (the CLI, retraining, tests) or from a job's arguments, a bad request
        is the platform's InvalidInputError naming each field, as a bad body is a 422 over HTTP;
        never the value, which may be PHI."""
        try:
            return handler(values)
        except ValidationError as error:
            found = error.errors(include_input=False)
            raise InvalidInputError(
                "; ".join(map(_sentence, found)),
                errors=[ErrorItem(loc=list(item["loc"]), msg=item["msg"]) for item in found],
            ) from None

    @classmethod
    def replay(cls, version: ModelVersion, job_id: str | None = None) -> TrainingRequest:
        """The request `version` was trained with, for the same training on the dataset's current rows.

        The features are the version's own, named: a column added since is not taken in, so
        the new version reads what callers of the old one send. PHI columns among them stay:
        whoever trained the version was allowed to name them (plan checks phi:read), and a
        replay is the platform's own job, which shows no caller any row.
        """
        tunable = settable_params(version.task, cast(Algorithm, version.algorithm))
        return cls(
            model=version.model,
            dataset=version.dataset,
            target=version.target,
            task=version.task,
            features=[feature.name for feature in version.features],
            algorithm=cast(Algorithm, version.algorithm),
            params={name: value for name, value in version.params.items() if name in tunable},
            test_size=float(version.params.get("test_size", DEFAULT_TEST_SIZE)),
            split_seed=int(version.params.get("split_seed", SPLIT_SEED)),
            may_read_phi=True,
            job_id=job_id,
        )


def _sentence(item: ErrorDetails) -> str:
    name = ".".join(str(part) for part in item["loc"])
    if name == "test_size" and item["type"] in ("greater_than_equal", "less_than_equal"):
        # Both ends, where pydantic names the one passed.
        return f"test_size must be from {MIN_TEST_SIZE} to {MAX_TEST_SIZE}"
    return f"{name}: {item['msg']}"


@dataclass(frozen=True)
class TrainingPlan:
    """A request checked against the catalog: what will be read and fitted."""

    request: TrainingRequest
    target: ColumnSpec
    features: tuple[Feature, ...]
    # Columns left out of the default features because a model cannot read them (dates).
    skipped: tuple[str, ...]
    params: dict[str, ParamValue]
    row_count: int
    uses_phi: bool


def plan(engine: Engine, request: TrainingRequest) -> TrainingPlan:
    """Check the request against the catalog: 404 for an unknown dataset, 422 for an unknown
    or unusable column or setting, 403 for a PHI column without `phi:read`, 409 for a model
    name that means another task or target."""
    registry.check_model_name(request.model)
    check_identifier(request.dataset, "dataset name")
    check_identifier(request.target, "target")
    params = check_params(request.task, request.algorithm, request.params)
    with engine.connect() as connection:
        summary = datasets.get_dataset(connection, request.dataset)
        columns = {column.name: column for column in datasets.get_columns(connection, request.dataset)}
        registry.check_fits_model(connection, request.model, request.task, request.target)
    target = _target_column(request, columns)
    features, skipped = _features(request, columns)
    if summary.row_count > MAX_TRAINING_ROWS:
        raise InvalidInputError(
            f"dataset {request.dataset} has {summary.row_count:,} rows; training reads at most "
            f"{MAX_TRAINING_ROWS:,}: train on a sampled copy"
        )
    uses_phi = target.phi or any(columns[feature.name].phi for feature in features)
    return TrainingPlan(request, target, features, skipped, params, summary.row_count, uses_phi)


def _target_column(request: TrainingRequest, columns: Mapping[str, ColumnSpec]) -> ColumnSpec:
    target = columns.get(request.target)
    if target is None:
        raise InvalidInputError(f"dataset {request.dataset} has no column {request.target} (the target)")
    if target.phi and not request.may_read_phi:
        raise PermissionDeniedError(
            f"target {target.name} is a PHI column: training on it needs the permission phi:read, which your roles lack"
        )
    if request.task == "regression" and target.data_type not in NUMBER_TYPES:
        raise InvalidInputError(
            f"target {target.name} is {target.data_type}; a regression predicts a number: "
            "choose a numeric target or task classification"
        )
    if feature_kind(target) is None:
        raise InvalidInputError(f"target {target.name} is {target.data_type}, which a model cannot predict")
    return target


def _features(
    request: TrainingRequest, columns: Mapping[str, ColumnSpec]
) -> tuple[tuple[Feature, ...], tuple[str, ...]]:
    if request.features is None:
        candidates = [column for column in columns.values() if column.name != request.target and not column.phi]
        skipped = tuple(column.name for column in candidates if feature_kind(column) is None)
        chosen = [column for column in candidates if feature_kind(column) is not None]
        if not chosen:
            raise InvalidInputError(
                f"dataset {request.dataset} has no column a model can read besides the target "
                "(numbers, booleans or text that is not PHI): name the features"
            )
    else:
        names = list(request.features)
        for name in names:
            check_identifier(name, "feature")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidInputError(f"features named more than once: {', '.join(repeated)}")
        if request.target in names:
            raise InvalidInputError(f"the target {request.target} cannot also be a feature")
        unknown = [name for name in names if name not in columns]
        if unknown:
            raise InvalidInputError(f"dataset {request.dataset} has no column {', '.join(unknown)} (features)")
        chosen = [columns[name] for name in names]
        unusable = [f"{column.name} ({column.data_type})" for column in chosen if feature_kind(column) is None]
        if unusable:
            raise InvalidInputError(
                f"features {', '.join(unusable)} are dates or timestamps, which a model cannot read as they are: "
                "derive numbers from them (a weekday, an age) in a dataset column"
            )
        phi = [column.name for column in chosen if column.phi]
        if phi and not request.may_read_phi:
            raise PermissionDeniedError(
                f"features {', '.join(phi)} are PHI columns: training on them needs the permission phi:read, "
                "which your roles lack"
            )
        skipped = ()
    if len(chosen) > MAX_FEATURES:
        raise InvalidInputError(f"{len(chosen)} features; a model takes at most {MAX_FEATURES}: name the features")
    return tuple(Feature(column.name, cast(Any, feature_kind(column))) for column in chosen), skipped


@dataclass(frozen=True)
class TrainingData:
    data_version: int
    target: npt.NDArray[Any]
    columns: dict[str, npt.NDArray[Any]]


def _read(engine: Engine, training_plan: TrainingPlan, progress: Progress) -> TrainingData:
    """Target and features in one snapshot, with the data_version they belong to."""
    request = training_plan.request
    target = training_plan.target
    # Numbers arrive as floats whatever their column type (numeric would come as Decimal).
    as_number = sql.SQL("{}::float8")
    selected = [(as_number if target.data_type in NUMBER_TYPES else sql.SQL("{}")).format(sql.Identifier(target.name))]
    selected += [
        (as_number if feature.kind == "number" else sql.SQL("{}")).format(sql.Identifier(feature.name))
        for feature in training_plan.features
    ]
    statement = sql.SQL("SELECT {} FROM {}.{}").format(
        sql.SQL(", ").join(selected), sql.Identifier("analytics"), sql.Identifier(request.dataset)
    )
    rows: list[tuple[Any, ...]] = []
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            data_version = connection.execute(
                text("SELECT data_version FROM bi.datasets WHERE name = :name"), {"name": request.dataset}
            ).scalar()
            if data_version is None:
                raise NotFoundError(f"dataset {request.dataset} was dropped while the training started")
            total = max(training_plan.row_count, 1)
            with psycopg_connection(connection).cursor(name="training_rows") as cursor:
                cursor.execute(statement)
                while batch := cursor.fetchmany(READ_BATCH_ROWS):
                    rows.extend(batch)
                    progress("read", len(rows), max(total, len(rows)))
    values = list(zip(*rows, strict=True)) if rows else [() for _ in range(1 + len(training_plan.features))]
    columns = {
        feature.name: column_array(feature.kind, column)
        for feature, column in zip(training_plan.features, values[1:], strict=True)
    }
    target_values = np.empty(len(rows), dtype=object)
    target_values[:] = values[0]
    return TrainingData(data_version, target_values, columns)


@dataclass(frozen=True)
class PreparedData:
    target: npt.NDArray[Any]
    columns: dict[str, npt.NDArray[Any]]
    rows_read: int
    rows_without_target: int


def _prepare(training_plan: TrainingPlan, data: TrainingData) -> PreparedData:
    """Drop rows without a target; refuse infinities, too few rows, and unusable classes."""
    request = training_plan.request
    target = data.target
    # None (NULL) and NaN alike: a float8 target can hold either.
    missing = pd.isna(target)
    keep = ~missing
    target = target[keep]
    columns = {name: column[keep] for name, column in data.columns.items()}
    rows = len(target)
    dropped = int(missing.sum())
    without = f" ({dropped:,} without a target left out)" if dropped else ""
    if rows < MIN_ROWS:
        raise InvalidInputError(
            f"too few rows to split: dataset {request.dataset} has {rows:,} rows with a target{without}; "
            f"training needs at least {MIN_ROWS}"
        )
    for feature in training_plan.features:
        if feature.kind == "number":
            infinite = int(np.isinf(columns[feature.name]).sum())
            if infinite:
                raise InvalidInputError(
                    f"feature {feature.name} of dataset {request.dataset} holds {infinite:,} infinite values; "
                    "a model cannot learn from them: clean them out of the dataset (missing values are filled in)"
                )
    if request.task == "regression":
        numbers = target.astype(np.float64)
        infinite = int(np.isinf(numbers).sum())
        if infinite:
            raise InvalidInputError(f"target {request.target} holds {infinite:,} infinite values; filter them out")
        return PreparedData(numbers, columns, len(data.target), dropped)
    labels = _labels(training_plan, target)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise InvalidInputError(
            f"target {request.target} has one class in its {rows:,} rows{without}; classification needs at least two"
        )
    if len(classes) > MAX_CLASSES:
        raise InvalidInputError(
            f"target {request.target} has {len(classes):,} classes; classification takes at most {MAX_CLASSES} "
            "(is it a number to predict with task regression, or an identifier?)"
        )
    return PreparedData(labels, columns, len(data.target), dropped)


def _labels(training_plan: TrainingPlan, target: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Class labels as a typed array: whole numbers as integers, booleans, or text."""
    data_type = training_plan.target.data_type
    if data_type == "boolean":
        return target.astype(bool)
    if data_type in NUMBER_TYPES:
        numbers = target.astype(np.float64)
        if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
            raise InvalidInputError(
                f"target {training_plan.target.name} holds fractional or infinite numbers, which are not classes: "
                "use task regression, or a column of whole numbers, text or booleans"
            )
        return numbers.astype(np.int64)
    return target.astype(str)


def _split(
    training_plan: TrainingPlan, labels: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], bool]:
    request = training_plan.request
    rows = len(labels)
    test_rows = math.ceil(rows * request.test_size)
    if test_rows < MIN_TEST_ROWS or rows - test_rows < MIN_TEST_ROWS:
        raise InvalidInputError(
            f"too few rows to split: {rows:,} rows at test_size {request.test_size} leave {test_rows} for testing; "
            f"at least {MIN_TEST_ROWS} each side are needed (more rows, or a larger test_size)"
        )
    stratify = False
    if request.task == "classification":
        _, counts = np.unique(labels, return_counts=True)
        # Stratified only where every class can be on both sides; else a plain random split.
        stratify = bool(counts.min() >= 2 and test_rows >= len(counts) and rows - test_rows >= len(counts))
    indices = np.arange(rows)
    train_rows, test_rows_index = train_test_split(
        indices, test_size=request.test_size, random_state=request.split_seed, stratify=labels if stratify else None
    )
    if request.task == "classification" and len(np.unique(labels[train_rows])) < 2:
        raise InvalidInputError(
            f"target {request.target}: the training rows hold one class only; more rows of the rare classes are needed"
        )
    return train_rows, test_rows_index, stratify


@dataclass(frozen=True)
class FittedModel:
    """A version fitted and scored but not yet registered, with the held-out rows it was scored on."""

    version: NewVersion
    artifact: bytes
    x_test: pd.DataFrame
    y_test: npt.NDArray[Any]


# Sees a fitted model before it is registered and says what to register: retraining adds its
# decision to promote the new version or not.
Review = Callable[[FittedModel], NewVersion]


def train(
    engine: Engine,
    s3: S3Client,
    bucket: str,
    request: TrainingRequest,
    progress: Progress = no_progress,
    review: Review | None = None,
) -> ModelVersion:
    """Check, read, fit, score and register: the new version, with its metrics. `review`, when
    given, decides what is registered once the model is fitted (retraining's decision)."""
    started = time.perf_counter()
    outcome = "failure"
    try:
        fitted = _fit(engine, request, progress)
        new = fitted.version if review is None else review(fitted)
        progress("register", 0, 1)
        version = registry.register(engine, s3, bucket, new, fitted.artifact)
        progress("register", 1, 1)
        outcome = "success"
        return version
    except BIAgentError as error:
        outcome = "refused" if error.status_code < 500 else "failure"
        raise
    finally:
        # A name that is no identifier gets one label, not a series of its own each.
        label = request.model if IDENTIFIER.fullmatch(request.model) else "(invalid name)"
        TRAINING_RUNS.labels(label, outcome).inc()
        TRAINING_SECONDS.labels(label).observe(time.perf_counter() - started)


def _fit(engine: Engine, request: TrainingRequest, progress: Progress) -> FittedModel:
    """Check, read, fit and score: the version to register, not yet registered."""
    started = time.perf_counter()
    training_plan = plan(engine, request)
    data = _read(engine, training_plan, progress)
    prepared = _prepare(training_plan, data)
    train_rows, test_rows, stratified = _split(training_plan, prepared.target)
    frame = build_frame(training_plan.features, prepared.columns)
    x_train, x_test = frame.iloc[train_rows], frame.iloc[test_rows]
    y_train, y_test = prepared.target[train_rows], prepared.target[test_rows]
    pipeline = build_pipeline(request.task, request.algorithm, training_plan.features, training_plan.params)
    progress("fit", 0, 1)
    fit_started = time.perf_counter()
    try:
        pipeline.fit(x_train, y_train)
    except ValueError as error:
        # scikit-learn's message may quote a value, which may be PHI whether or not its column is flagged.
        raise InvalidInputError(
            f"{request.algorithm} could not be fitted to dataset {request.dataset}: {error_text.describe(error)}"
        ) from None
    fit_seconds = time.perf_counter() - fit_started
    progress("fit", 1, 1)
    progress("evaluate", 0, 1)
    metrics = evaluate(request.task, pipeline, x_train, y_train, x_test, y_test)
    data_bytes = artifacts.serialise(pipeline, request.model)
    params: dict[str, Any] = {
        **effective_params(request.task, request.algorithm, pipeline),
        "random_state": RANDOM_STATE,
        "test_size": request.test_size,
        "split_seed": request.split_seed,
        "stratify": stratified,
    }
    classes = pipeline.classes_.tolist() if request.task == "classification" else None
    new = NewVersion(
        model=request.model,
        task=request.task,
        algorithm=request.algorithm,
        params=params,
        metrics=metrics,
        dataset=request.dataset,
        data_version=data.data_version,
        target=request.target,
        features=training_plan.features,
        classes=classes,
        training={
            "rows_read": prepared.rows_read,
            "rows_without_target": prepared.rows_without_target,
            "rows_train": len(train_rows),
            "rows_test": len(test_rows),
            "features_skipped": list(training_plan.skipped),
            "fit_seconds": round(fit_seconds, 3),
            "seconds": round(time.perf_counter() - started, 3),
            "scikit_learn": sklearn.__version__,
            "skops": skops.__version__,
        },
        user_id=request.user_id,
        job_id=request.job_id,
    )
    return FittedModel(new, data_bytes, x_test, y_test)
