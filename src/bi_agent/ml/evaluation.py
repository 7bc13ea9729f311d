"""Held-out scores of a fitted model, beside a baseline scored on the same rows.

Classification: accuracy, F1 and ROC AUC; the baseline always answers the training
set's majority class (with its class shares as probabilities, so its ROC AUC is 0.5).
With two classes F1 is that of the second class in sorted order (1, true, or the later
name), the usual "positive" one; with more it is the unweighted mean over classes
(macro). ROC AUC is one-vs-rest, macro, with more than two classes, and left out when
the test rows lack a class. Regression: RMSE, MAE and R²; the baseline answers the
training mean. A model worth keeping beats its baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score, roc_auc_score
from sklearn.pipeline import Pipeline

from bi_agent.ml.pipelines import Task

DIGITS = 6


def evaluate(
    task: Task,
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    y_train: npt.NDArray[Any],
    x_test: pd.DataFrame,
    y_test: npt.NDArray[Any],
) -> dict[str, Any]:
    """`pipeline` is fitted on the training rows; the baseline is fitted here on the same ones."""
    if task == "classification":
        baseline_classifier = DummyClassifier(strategy="prior").fit(x_train, y_train)
        classes = pipeline.classes_
        scores = _classification(y_test, pipeline.predict_proba(x_test), classes)
        scores["baseline"] = _classification(y_test, baseline_classifier.predict_proba(x_test), classes)
        return scores
    baseline_regressor = DummyRegressor(strategy="mean").fit(x_train, y_train)
    scores = _regression(y_test, pipeline.predict(x_test))
    scores["baseline"] = _regression(y_test, baseline_regressor.predict(x_test))
    return scores


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
