"""The `bi-agent` command: start the platform, check it, migrate it, verify its audit log, train and use models."""

from __future__ import annotations

import typer
from rich.text import Text

from bi_agent.cli import audit_log, data, models, platform
from bi_agent.cli.output import error_console
from bi_agent.errors import BIAgentError

app = typer.Typer(
    name="bi-agent",
    help="BI-Agent: analytics and ML platform. `bi-agent up` starts everything on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command()(platform.up)
app.command()(platform.health)
app.command()(platform.migrate)
app.command()(platform.buckets)
app.command("import")(data.import_file)
app.command()(data.query)
app.add_typer(audit_log.audit_app)
app.add_typer(models.models_app, name="models")


def main() -> None:
    try:
        app()
    except BIAgentError as error:
        # One line naming the setting or server at fault, never a traceback.
        error_console.print(Text("error: ", style="bold red") + Text(str(error)), soft_wrap=True)
        raise SystemExit(1) from None
