"""The `bi-agent` command: start the platform, check it, migrate it, verify its audit log, train and use models."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pyarrow as pa
import pyarrow.csv as pa_csv
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bi_agent.catalog import queries, rollups
from bi_agent.catalog.files import OnError
from bi_agent.catalog.imports import import_local_file
from bi_agent.catalog.query_cache import QueryCache
from bi_agent.catalog.query_spec import Filter, QuerySpec
from bi_agent.errors import BIAgentError, InvalidInputError
from bi_agent.infra import migrations
from bi_agent.infra.connections import Connections
from bi_agent.infra.db import create_database_engine, wait_for_database
from bi_agent.infra.objects import create_s3_client, ensure_buckets
from bi_agent.infra.services import check_services
from bi_agent.security import audit
from bi_agent.security.users import AdminBootstrap, ensure_admin
from bi_agent.settings import describe_validation_error, load_settings
from bi_agent.supervisor import run_up

if TYPE_CHECKING:
    from bi_agent.ml.features import Feature
    from bi_agent.ml.predictions import PredictionInput

app = typer.Typer(
    name="bi-agent",
    help="BI-Agent: analytics and ML platform. `bi-agent up` starts everything on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
error_console = Console(stderr=True)


@app.command()
def up(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Seed the demo dataset on the first start.")] = True,
) -> None:
    """Start the platform: embedded servers where none is configured, then the APIs, worker and beat."""
    raise typer.Exit(run_up(load_settings(), console, demo=demo))


@app.command()
def health() -> None:
    """Check every service and print a table; exit code 1 when any is down."""
    statuses = check_services(load_settings())
    table = Table(title="BI-Agent health")
    table.add_column("service")
    table.add_column("status")
    table.add_column("latency", justify="right")
    table.add_column("detail", overflow="fold")
    for status in statuses:
        table.add_row(
            status.name,
            Text("up", style="bold green") if status.ok else Text("down", style="bold red"),
            f"{status.latency_ms:.1f} ms",
            status.detail,
        )
    console.print(table)
    raise typer.Exit(0 if all(status.ok for status in statuses) else 1)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision: head, base, or a revision id.")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to the revision instead.")] = False,
    admin: Annotated[
        bool,
        typer.Option(
            "--admin",
            help=(
                "Then create the first admin (BI_AGENT_ADMIN_USERNAME, BI_AGENT_ADMIN_PASSWORD) unless it exists;"
                " without a password, one is generated and shown only on a terminal."
            ),
        ),
    ] = False,
) -> None:
    """Apply (or with --down, revert) database migrations."""
    settings = load_settings()
    engine = create_database_engine(settings)
    try:
        wait_for_database(engine, settings, timeout=10)
        if down:
            migrations.downgrade(engine, revision)
        else:
            migrations.upgrade(engine, revision)
        console.print(f"database at revision {revision}")
        if admin and not down:
            with engine.begin() as connection:
                password = settings.bi_agent_admin_password
                bootstrap = ensure_admin(
                    connection,
                    settings.bi_agent_admin_username,
                    password.get_secret_value() if password is not None else None,
                    # Compose runs this with its output in `docker compose logs`: no password there.
                    may_generate=sys.stdout.isatty(),
                )
            _report_admin(bootstrap)
    finally:
        engine.dispose()


def _report_admin(bootstrap: AdminBootstrap) -> None:
    if bootstrap.generated_password is not None:
        console.print(
            f"created admin {bootstrap.username} / {bootstrap.generated_password} "
            "(shown this once; only its hash is stored)",
            soft_wrap=True,
        )
    elif bootstrap.created:
        console.print(f"created admin {bootstrap.username} with the password in BI_AGENT_ADMIN_PASSWORD")
    else:
        console.print(f"admin {bootstrap.username} exists")


@app.command()
def buckets() -> None:
    """Create the buckets (MINIO_BUCKET_*) that do not exist yet; existing ones are left as they are."""
    settings = load_settings()
    created = ensure_buckets(create_s3_client(settings), settings.buckets)
    console.print(f"created buckets {', '.join(created)}" if created else "buckets exist")


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="CSV, Parquet or JSON Lines file; .gz accepted.", exists=True, dir_okay=False)
    ],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name: a plain identifier.")],
    mode: Annotated[str, typer.Option(help="append or replace.")] = "append",
    on_error: Annotated[str, typer.Option("--on-error", help="fail on a bad row, or skip and count it.")] = "fail",
) -> None:
    """Import a file into a dataset, with a progress bar of bytes and rows."""
    if mode not in ("append", "replace"):
        raise typer.BadParameter("use append or replace", param_hint="--mode")
    if on_error not in ("fail", "skip"):
        raise typer.BadParameter("use fail or skip", param_hint="--on-error")
    settings = load_settings()
    connections = Connections.open(settings)
    try:
        ensure_buckets(connections.s3, settings.buckets)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def report(stage: str, done: int, total: int) -> None:
                label = IMPORT_STAGES.get(stage)
                if label is None:
                    return
                if stage not in tasks:
                    tasks[stage] = bar.add_task(label, total=total or 1, detail="")
                unit = "MB" if stage == "hash" else "rows"
                amount = f"{done / 1e6:,.1f} / {total / 1e6:,.1f} MB" if unit == "MB" else f"{done:,} / {total:,} rows"
                bar.update(tasks[stage], completed=done, total=total or 1, detail=amount)

            outcome = import_local_file(
                connections.engine,
                connections.s3,
                settings.minio_bucket_datasets,
                file,
                dataset,
                "append" if mode == "append" else "replace",
                on_error=OnError(on_error),
                max_field_bytes=settings.import_max_field_bytes,
                max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
                timezone=settings.reporting_timezone,
                detect_phi=settings.hipaa_mode,
                progress=report,
            )
        if not outcome.duplicate:
            rollups.refresh_stale(connections.engine, dataset)
    finally:
        connections.close()
    if outcome.duplicate:
        console.print(
            f"{file.name} was imported into {dataset} before; nothing added (data version {outcome.data_version})"
        )
    else:
        skipped = f", {outcome.rows_skipped:,} bad rows skipped" if outcome.rows_skipped else ""
        console.print(
            f"imported {outcome.rows_imported:,} rows into {dataset}{skipped} (data version {outcome.data_version})"
        )


IMPORT_STAGES = {"hash": "reading file", "copy": "copying rows"}

FILTER_PATTERN = re.compile(r"^([a-z][a-z0-9_]*)\s*(!=|>=|<=|=|>|<|~)\s*(.*)$")
FILTER_OPS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "~": "contains"}


def _filter_value(text: str) -> str | int | float | bool:
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_filter(expression: str) -> Filter:
    """`region=north`, `region!=north`, `units>=3`, `channel=web,store` (in), `name~ann` (contains)."""
    match = FILTER_PATTERN.match(expression.strip())
    if match is None:
        raise typer.BadParameter(f"{expression!r}: write dimension, operator (= != > >= < <= ~) and value")
    dimension, operator, raw = match.groups()
    if operator in ("=", "!=") and "," in raw:
        values = [_filter_value(part.strip()) for part in raw.split(",")]
        return Filter(dimension=dimension, op="in" if operator == "=" else "not_in", value=values)
    return Filter(dimension=dimension, op=FILTER_OPS[operator], value=_filter_value(raw))


@app.command()
def query(
    metric: Annotated[list[str], typer.Argument(help="One or more metrics of one dataset.")],
    start: Annotated[str, typer.Option(help="First day, included (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the last, excluded (YYYY-MM-DD).")],
    grain: Annotated[str, typer.Option(help="day, week, month, quarter or year.")] = "month",
    group_by: Annotated[list[str] | None, typer.Option("--group-by", "-g", help="A dimension; repeatable.")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="A filter such as region=north.")] = None,
    compare: Annotated[bool, typer.Option(help="Add the previous period's values and the change.")] = False,
) -> None:
    """Run a query and print the result as a table, with where it came from."""
    try:
        spec = QuerySpec.model_validate(
            {
                "metrics": metric,
                "start": start,
                "end": end,
                "grain": grain,
                "group_by": group_by or [],
                "filters": [parse_filter(item) for item in where or []],
                "compare": "previous_period" if compare else None,
            }
        )
    except ValidationError as error:
        raise typer.BadParameter(describe_validation_error(error)) from None
    settings = load_settings()
    connections = Connections.open(settings)
    try:
        with connections.engine.connect() as connection:
            # The CLI runs on the server with its operator's full view: its own cache scope.
            result, cached, _ = queries.answer(
                connection,
                QueryCache(connections.redis, settings.cache_signing_key()),
                spec,
                settings.reporting_timezone,
                "cli:operator",
                phi_allowed=True,
            )
    finally:
        connections.close()
    table = Table(title=f"{', '.join(metric)} by {grain}", caption=_query_caption(result, cached))
    for column in result["columns"]:
        table.add_column(column, justify="left" if column in ("period", *(group_by or [])) else "right")
    for row in result["rows"]:
        table.add_row(
            *("" if value is None else f"{value:,.2f}" if isinstance(value, float) else str(value) for value in row)
        )
    console.print(table)


def _query_caption(result: dict[str, object], cached: bool) -> str:
    origin = "cache" if cached else str(result["source"])
    return f"{len(result['rows'])} rows from the {origin}, data version {result['data_version']}"  # type: ignore[arg-type]


audit_app = typer.Typer(
    name="audit", help="The audit log: check its hash chain, list its records.", no_args_is_help=True
)
app.add_typer(audit_app)


def _parse_anchor(value: str | None) -> audit.ChainHead | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d+):([0-9a-f]{64})", value.strip())
    if match is None:
        raise typer.BadParameter("write the record number and its hash as printed: 1234:<64 hex digits>")
    return audit.ChainHead(last_seq=int(match.group(1)), last_hash=match.group(2))


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed by an earlier run and kept elsewhere; that record must still have it."),
    ] = None,
) -> None:
    """Recompute the audit log's hash chain; exit code 1 naming the first broken record."""
    anchored = _parse_anchor(anchor)
    settings = load_settings()
    engine = create_database_engine(settings)
    try:
        wait_for_database(engine, settings, timeout=10)
        with engine.connect() as connection:
            head = audit.chain_head(connection)
            broken = audit.verify(connection, anchored)
    finally:
        engine.dispose()
    if broken is not None:
        where = f"record {broken.seq}"
        if broken.record_id is not None and broken.occurred_at is not None:
            where += f" (id {broken.record_id}, {broken.occurred_at.strftime(audit.TIME_FORMAT)})"
        error_console.print(
            Text("audit chain broken ", style="bold red") + Text(f"at {where}: {broken.reason}"), soft_wrap=True
        )
        raise typer.Exit(1)
    # The head hash, kept outside the database, lets a later run tell a rewritten chain.
    console.print(
        f"audit chain intact: {head.last_seq} records; anchor for later runs: {head.last_seq}:{head.last_hash}",
        soft_wrap=True,
    )


@audit_app.command("list")
def audit_list(
    user: Annotated[str | None, typer.Option(help="A username or a user id.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. auth.login, user.roles, query.")] = None,
    dataset: Annotated[str | None, typer.Option(help="A dataset name.")] = None,
    outcome: Annotated[audit.Outcome | None, typer.Option(help="success, failure or denied.")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time on (UTC if no zone).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most records shown, newest first.")] = 50,
) -> None:
    """Print the newest audit records matching the filters."""
    settings = load_settings()
    engine = create_database_engine(settings)
    filters = audit.AuditFilter(user=user, action=action, dataset=dataset, outcome=outcome, since=since)
    try:
        with engine.connect() as connection:
            page = audit.list_records(connection, filters, limit=limit, offset=0)
    finally:
        engine.dispose()
    table = Table(title="Audit log", caption=f"{len(page.items)} of {page.total} records")
    for column in ("seq", "time (UTC)", "user", "action", "outcome", "resource", "dataset", "PHI", "client"):
        table.add_column(column, overflow="fold")
    for entry in page.items:
        table.add_row(
            str(entry.seq),
            entry.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.username or "",
            entry.action,
            entry.outcome,
            entry.resource or "",
            entry.dataset or "",
            "yes" if entry.phi else "",
            entry.client_address or "",
        )
    console.print(table)


models_app = typer.Typer(
    help="Train, list and use models, on this machine with the platform's servers (as the ML service does).",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


def _param_value(text: str) -> str | int | float | bool | None:
    return None if text in ("null", "none") else _filter_value(text)


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


def main() -> None:
    try:
        app()
    except BIAgentError as error:
        # One line naming the setting or server at fault, never a traceback.
        error_console.print(Text("error: ", style="bold red") + Text(str(error)), soft_wrap=True)
        raise SystemExit(1) from None
