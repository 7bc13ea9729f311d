"""Held-out scores of a fitted model, beside a baseline scored on the same rows.

Classification: accuracy, F1 and ROC AUC; the baseline always answers the training
set's majority class (with its class shares as probabilities, so its ROC AUC is 0.5).
With two classes F1 is that of the second class in sorted order (1, true, or the later
name), the usual "positive" one; with more it is the unweighted mean over classes
(macro). ROC AUC is one-vs-rest, macro, with more than two classes, and left out when
the test rows lack a class. Regression: RMSE, MAE and R²; the baseline answers the
training mean. A model worth keeping beats its baseline.

Retraining compares two versions on the same held-out rows by one number, the primary
metric: ROC AUC with two classes (it ranks, so neither the threshold nor a shift in class
shares sways it), macro F1 with more (every class counts alike, where accuracy follows the
largest) and where ROC AUC is undefined (the held-out rows lack a class); RMSE for a
regression, where lower is better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score, roc_auc_score
from sklearn.pipeline import Pipeline

from bi_agent.ml.pipelines import Task

DIGITS = 6
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


def evaluate(
    task: Task,
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    y_train: npt.NDArray[Any],
    x_test: pd.DataFrame,
    y_test: npt.NDArray[Any],
) -> dict[str, Any]:
    """`pipeline` is fitted on the training rows; the baseline is fitted here on the same ones."""
    scores = score(task, pipeline, x_test, y_test)
    if task == "classification":
        baseline: Any = DummyClassifier(strategy="prior").fit(x_train, y_train)
        scores["baseline"] = score(task, baseline, x_test, y_test, classes=pipeline.classes_)
    else:
        scores["baseline"] = score(task, DummyRegressor(strategy="mean").fit(x_train, y_train), x_test, y_test)
    return scores


def score(
    task: Task, model: Any, x_test: pd.DataFrame, y_test: npt.NDArray[Any], classes: Sequence[Any] | None = None
) -> dict[str, Any]:
    """A fitted model's scores on held-out rows, without a baseline.

    `classes` (a classifier's) are the labels to score against, by default the model's own.
    Retraining scores the production version on the labels of the version that replaces it:
    a class the older model never saw gets probability 0 from it, which is what it would
    answer; a class of its own that the labels lack is left out, the rest scaled to sum to 1
    (as ROC AUC needs), so it answers its likeliest among the labels.
    """
    if task == "regression":
        return _regression(y_test, model.predict(x_test))
    own = list(model.classes_)
    probabilities = model.predict_proba(x_test)
    if classes is None or list(classes) == own:
        return _classification(y_test, probabilities, model.classes_)
    aligned = np.zeros((len(x_test), len(classes)))
    for column, label in enumerate(classes):
        if label in own:
            aligned[:, column] = probabilities[:, own.index(label)]
    totals = aligned.sum(axis=1, keepdims=True)
    # A row whose every probability went to left-out classes: no preference among the labels.
    aligned = np.divide(aligned, totals, out=np.full_like(aligned, 1 / len(classes)), where=totals > 0)
    return _classification(y_test, aligned, np.asarray(classes))


def primary_metric(task: Task, classes: int, *scores: Mapping[str, Any]) -> str:
    """The metric that compares versions whose `scores` were taken on the same rows (see above)."""
    if task == "regression":
        return "rmse"
    if classes == 2 and all("roc_auc" in each for each in scores):
        return "roc_auc"
    return "f1"


def not_worse(metric: str, new: float, current: float) -> bool:
    """Whether `new` scores at least as well as `current` on `metric`; a tie is not worse."""
    return new <= current if metric in LOWER_IS_BETTER else new >= current


def _classification(y_true: npt.NDArray[Any], probabilities: npt.NDArray[Any], classes: Any) -> dict[str, Any]:
    predicted = np.asarray(classes)[probabilities.argmax(axis=1)]
    binary = len(classes) == 2
    f1 = (
        f1_score(y_true, predicted, pos_label=classes[1], average="binary", zero_division=0)
        if binary
        else f1_score(y_true, predicted, labels=classes, average="macro", zero_division=0)
    )
    scores: dict[str, Any] = {
        "accuracy": round(float(accuracy_score(y_true, predicted)), DIGITS),
        "f1": round(float(f1), DIGITS),
    }
    if set(np.unique(y_true).tolist()) == set(np.asarray(classes).tolist()):
        auc = (
            roc_auc_score(y_true == classes[1], probabilities[:, 1])
            if binary
            else roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=classes)
        )
        scores["roc_auc"] = round(float(auc), DIGITS)
    return scores


def _regression(y_true: npt.NDArray[Any], predicted: npt.NDArray[Any]) -> dict[str, Any]:
    return {
        "rmse": round(float(np.sqrt(mean_squared_error(y_true, predicted))), DIGITS),
        "mae": round(float(mean_absolute_error(y_true, predicted)), DIGITS),
        "r2": round(float(r2_score(y_true, predicted)), DIGITS),
    }
