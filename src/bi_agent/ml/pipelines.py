"""scikit-learn pipelines per algorithm: prepare the features, then the estimator.

Each pipeline imputes missing numbers (median; histogram gradient boosting learns where
missing values go instead), scales numbers for the linear models, which need it, and
one-hot encodes text with a cap on categories, so a column of many distinct values cannot
blow up the model. Hyperparameters a caller may set are listed per algorithm with their
bounds: a typo or an unbounded value (a million trees) is a 422 naming it, not a slow
failure in the worker. Every random choice uses RANDOM_STATE, so a training repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bi_agent.errors import InvalidInputError
from bi_agent.ml.features import Feature, numeric_kinds, text_kinds

Task = Literal["classification", "regression"]
Algorithm = Literal["hist_gradient_boosting", "random_forest", "linear", "logistic"]
TASKS: tuple[str, ...] = get_args(Task)
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
DEFAULT_ALGORITHM: Algorithm = "hist_gradient_boosting"
RANDOM_STATE = 42
# Text categories beyond this many (the rarest) share one "infrequent" column.
MAX_CATEGORIES = 50
MISSING_TEXT = "(missing)"

ParamValue = int | float | str | bool | None


@dataclass(frozen=True)
class Bound:
    """One settable hyperparameter: an integer or a float within [low, high], or one of `choices`."""

    kind: Literal["int", "float"]
    low: float
    high: float
    choices: tuple[str, ...] = ()
    nullable: bool = False

    def check(self, name: str, value: ParamValue) -> ParamValue:
        if value is None:
            if self.nullable:
                return None
            raise InvalidInputError(f"params.{name} cannot be null; it must be {self.describe()}")
        if isinstance(value, str):
            if value in self.choices:
                return value
            raise InvalidInputError(f"params.{name} must be {self.describe()}, not {value[:40]!r}")
        if isinstance(value, bool):
            raise InvalidInputError(f"params.{name} must be {self.describe()}, not {str(value).lower()}")
        if self.kind == "int" and not float(value).is_integer():
            raise InvalidInputError(f"params.{name} must be a whole number, not {value}")
        if not self.low <= value <= self.high:
            raise InvalidInputError(f"params.{name} must be {self.describe()}, not {value}")
        return int(value) if self.kind == "int" else float(value)

    def describe(self) -> str:
        number = "an integer" if self.kind == "int" else "a number"
        text = f"{number} from {self.low:g} to {self.high:g}"
        if self.choices:
            text += f" or one of {', '.join(self.choices)}"
        return text + (" or null" if self.nullable else "")


TREE_DEPTH = Bound("int", 1, 100, nullable=True)
TUNABLE: dict[str, dict[str, Bound]] = {
    "hist_gradient_boosting": {
        "learning_rate": Bound("float", 1e-4, 1.0),
        "max_iter": Bound("int", 1, 2000),
        "max_leaf_nodes": Bound("int", 2, 4096, nullable=True),
        "max_depth": TREE_DEPTH,
        "min_samples_leaf": Bound("int", 1, 100_000),
        "l2_regularization": Bound("float", 0, 1e6),
    },
    "random_forest": {
        "n_estimators": Bound("int", 1, 1000),
        "max_depth": TREE_DEPTH,
        "min_samples_split": Bound("int", 2, 100_000),
        "min_samples_leaf": Bound("int", 1, 100_000),
        "max_features": Bound("float", 1e-3, 1.0, choices=("sqrt", "log2"), nullable=True),
    },
    # Regression: ridge, least squares with a small penalty, steady when one-hot columns
    # are collinear; classification: logistic regression.
    "linear": {
        "alpha": Bound("float", 0, 1e6),
        "C": Bound("float", 1e-6, 1e6),
        "max_iter": Bound("int", 1, 10_000),
    },
    "logistic": {
        "C": Bound("float", 1e-6, 1e6),
        "max_iter": Bound("int", 1, 10_000),
    },
}
# Only some of the linear family's parameters apply to each task.
LINEAR_PARAMS: dict[Task, set[str]] = {"regression": {"alpha"}, "classification": {"C", "max_iter"}}


def settable_params(task: Task, algorithm: Algorithm) -> dict[str, Bound]:
    """The hyperparameters a caller may set for the algorithm on this task, with their bounds."""
    allowed = TUNABLE[algorithm]
    if algorithm == "linear":
        return {name: bound for name, bound in allowed.items() if name in LINEAR_PARAMS[task]}
    return dict(allowed)


def check_params(task: Task, algorithm: Algorithm, params: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    """The caller's hyperparameters, checked against the algorithm's list; 422 naming any other."""
    if algorithm == "logistic" and task == "regression":
        raise InvalidInputError("algorithm logistic classifies; for a regression use linear")
    allowed = settable_params(task, algorithm)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidInputError(
            f"params {', '.join(unknown)} are not settable for {algorithm} ({task}); "
            f"settable: {', '.join(sorted(allowed))}"
        )
    return {name: allowed[name].check(name, value) for name, value in params.items()}


def _estimator(task: Task, algorithm: Algorithm, params: Mapping[str, ParamValue]) -> Any:
    if algorithm == "hist_gradient_boosting":
        estimator = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
        return estimator(random_state=RANDOM_STATE, **params)
    if algorithm == "random_forest":
        forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
        # One process: the worker runs other tasks beside it on a small machine.
        return forest(random_state=RANDOM_STATE, n_jobs=1, **params)
    if task == "regression":
        return Ridge(**params)
    return LogisticRegression(**{"max_iter": 1000, **params}, random_state=RANDOM_STATE)


def build_pipeline(
    task: Task, algorithm: Algorithm, features: Sequence[Feature], params: Mapping[str, ParamValue]
) -> Pipeline:
    """An unfitted pipeline whose input is `features.build_frame`'s frame."""
    numbers = numeric_kinds(features)
    texts = text_kinds(features)
    steps: list[tuple[str, Any, list[str]]] = []
    if numbers:
        if algorithm == "hist_gradient_boosting":
            # It splits missing values off on their own, which beats any fill value.
            steps.append(("numbers", "passthrough", numbers))
        elif algorithm == "random_forest":
            steps.append(("numbers", SimpleImputer(strategy="median"), numbers))
        else:
            numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
            steps.append(("numbers", numeric, numbers))
    if texts:
        encode = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_TEXT)),
                (
                    "encode",
                    # Dense: gradient boosting takes no sparse input. Categories unseen in
                    # training join the infrequent column, or else all zeros.
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES, sparse_output=False
                    ),
                ),
            ]
        )
        steps.append(("text", encode, texts))
    prepare = ColumnTransformer(steps, remainder="drop")
    return Pipeline([("prepare", prepare), ("model", _estimator(task, algorithm, params))])


def effective_params(task: Task, algorithm: Algorithm, pipeline: Pipeline) -> dict[str, ParamValue]:
    """The values of the settable hyperparameters the estimator was built with, defaults included."""
    given = pipeline.named_steps["model"].get_params()
    return {name: given[name] for name in sorted(settable_params(task, algorithm)) if name in given}
