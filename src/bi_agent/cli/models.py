"""`bi-agent models`: train, list and use models on this machine, as the ML service does."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pyarrow as pa
import pyarrow.csv as pa_csv
import typer
from rich.table import Table

from bi_agent.cli.data import filter_value
from bi_agent.cli.output import console
from bi_agent.errors import InvalidInputError
from bi_agent.infra.connections import Connections
from bi_agent.settings import load_settings

if TYPE_CHECKING:
    from bi_agent.ml.features import Feature
    from bi_agent.ml.predictions import PredictionInput


models_app = typer.Typer(
    help="Train, list and use models, on this machine with the platform's servers (as the ML service does).",
    no_args_is_help=True,
)


def _param_value(text: str) -> str | int | float | bool | None:
    return None if text in ("null", "none") else filter_value(text)


def parse_params(items: list[str]) -> dict[str, str | int | float | bool | None]:
    """`max_iter=200`, `max_features=sqrt`, `max_depth=null`."""
    params: dict[str, str | int | float | bool | None] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise typer.BadParameter(f"{item!r}: write name=value", param_hint="--param")
        params[name.strip()] = _param_value(value.strip())
    return params


@models_app.command("train")
def models_train(
    name: Annotated[str, typer.Argument(help="Model name: a plain identifier.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="The dataset to read.")],
    target: Annotated[str, typer.Option("--target", "-t", help="The column to predict.")],
    task: Annotated[str, typer.Option(help="classification or regression.")],
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", "-f", help="A feature; repeatable. Default: every non-PHI column but the target."),
    ] = None,
    algorithm: Annotated[
        str, typer.Option(help="hist_gradient_boosting, random_forest, linear or logistic.")
    ] = "hist_gradient_boosting",
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="A hyperparameter, name=value.")] = None,
    test_size: Annotated[float, typer.Option(help="Share of rows held out for the metrics.")] = 0.2,
) -> None:
    """Train a new version of a model and print its held-out metrics beside the baseline's."""
    # scikit-learn takes a second to import: only the models commands pay for it.
    from bi_agent.ml import training

    request = training.TrainingRequest(
        model=name,
        dataset=dataset,
        target=target,
        task=task,
        features=tuple(feature) if feature else None,
        algorithm=algorithm,
        params=parse_params(param or []),
        test_size=test_size,
        # The operator at the server's console sees all the data, as `bi-agent query` does.
        may_read_phi=True,
    )
    settings = load_settings()
    connections = Connections.open(settings)
    try:
        with console.status(f"training {name} on {dataset}"):
            version = training.train(connections.engine, connections.s3, settings.minio_bucket_models, request)
    finally:
        connections.close()
    rows = version.training
    dropped = f", {rows['rows_without_target']:,} without a target left out" if rows["rows_without_target"] else ""
    table = Table(
        title=f"{name} version {version.version}: {version.algorithm}, {version.task} of {version.target}",
        caption=f"{rows['rows_train']:,} rows trained, {rows['rows_test']:,} held out{dropped}; "
        f"dataset {version.dataset} at data version {version.data_version}",
    )
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("baseline", justify="right")
    baseline = version.metrics.get("baseline", {})
    for metric, value in version.metrics.items():
        if metric != "baseline":
            table.add_row(metric, f"{value:.4f}", f"{baseline[metric]:.4f}" if metric in baseline else "")
    console.print(table)


@models_app.command("list")
def models_list() -> None:
    """List models: task, target, latest version, aliases and the latest version's metrics."""
    from bi_agent.ml import registry

    settings = load_settings()
    connections = Connections.open(settings)
    try:
        with connections.engine.connect() as connection:
            items, total = registry.list_models(connection, limit=500, offset=0)
    finally:
        connections.close()
    table = Table(title="Models", caption=f"{total} models")
    for column in ("name", "task", "target", "latest", "aliases", "metrics (baseline)"):
        table.add_column(column, justify="right" if column == "latest" else "left")
    for item in items:
        metrics = item.metrics or {}
        baseline = metrics.get("baseline", {})
        shown = ", ".join(
            f"{metric} {value:.3f}" + (f" ({baseline[metric]:.3f})" if metric in baseline else "")
            for metric, value in metrics.items()
            if metric != "baseline"
        )
        aliases = ", ".join(f"{alias}={version}" for alias, version in sorted(item.aliases.items()))
        table.add_row(item.name, item.task, item.target, str(item.latest_version or ""), aliases, shown)
    console.print(table)


@models_app.command("predict")
def models_predict(
    name: Annotated[str, typer.Argument(help="Model name.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header, JSON Lines (one record a line), or JSON (a list of records, or a body "
            "with records or dataframe_split).",
            exists=True,
            dir_okay=False,
        ),
    ],
    version: Annotated[int | None, typer.Option(help="A version number.")] = None,
    alias: Annotated[str | None, typer.Option(help="An alias; default production, else the latest.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write a CSV of the predictions.")] = None,
) -> None:
    """Predict every record of a file as one batch; print them, or write them to a CSV."""
    from bi_agent.ml import predictions, registry

    settings = load_settings()
    connections = Connections.open(settings)
    try:
        with connections.engine.connect() as connection:
            chosen = registry.resolve(connection, name, version, alias)
        batch = _read_batch(file, chosen.features, chosen.version, alias)
        result = predictions.predict(
            connections.engine,
            connections.s3,
            settings.minio_bucket_models,
            predictions.ModelCache(capacity=1),
            name,
            batch,
        )
    finally:
        connections.close()
    reply = result.reply().model_dump()
    header = ["prediction", *(f"probability_{label}" for label in reply.get("classes") or [])]
    probabilities = reply.get("probabilities")
    rows = [
        [prediction, *(probabilities[row] if probabilities else [])]
        for row, prediction in enumerate(reply["predictions"])
    ]
    if output is not None:
        with output.open("w", newline="") as target:
            writer = csv.writer(target)
            writer.writerow(header)
            writer.writerows(rows)
        console.print(f"{len(rows):,} predictions of {name} version {result.version} written to {output}")
        return
    table = Table(title=f"{name} version {result.version}", caption=f"{len(rows):,} predictions")
    table.add_column("row", justify="right")
    for column in header:
        table.add_column(column, justify="right")
    for row, values in enumerate(rows[:PREDICTIONS_SHOWN], start=1):
        table.add_row(str(row), *(f"{value:.4f}" if isinstance(value, float) else str(value) for value in values))
    if len(rows) > PREDICTIONS_SHOWN:
        table.add_row("...", *("" for _ in header))
    console.print(table)


PREDICTIONS_SHOWN = 50


def _read_batch(path: Path, features: Sequence[Feature], version: int, alias: str | None) -> PredictionInput:
    """A file's records, typed as the model reads them (a CSV's ZIP codes stay text, say)."""
    from bi_agent.ml import predictions

    # Pin the version resolved above, so the file is read and predicted by the same one.
    selector: dict[str, object] = {"version": version}
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with path.open() as source:
            records = [json.loads(line) for line in source if line.strip()]
        return predictions.read_input({"records": records, **selector})
    if suffix == ".json":
        body = json.loads(path.read_text())
        body = {"records": body} if isinstance(body, list) else body
        if isinstance(body, dict):
            body = {key: value for key, value in body.items() if key not in ("version", "alias")} | selector
        return predictions.read_input(body)
    arrow_types = {"number": pa.float64(), "boolean": pa.bool_(), "text": pa.string()}
    try:
        table = pa_csv.read_csv(
            path,
            convert_options=pa_csv.ConvertOptions(
                column_types={feature.name: arrow_types[feature.kind] for feature in features},
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as error:
        raise InvalidInputError(f"{path.name}: {error}") from None
    return predictions.from_columns(table.to_pydict(), version=version)
