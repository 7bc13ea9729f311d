"""What an error may say outside the process that met it: in a log line, a task result, a job
reply. Errors the platform raises on purpose (BIAgentError) keep their message, written to be
value-free; any other says its class and what failed, never the value it failed on.

Libraries quote the value they choke on: numpy's `could not convert string to float:
'MRN9946928'`, PostgreSQL's `invalid input syntax for type integer: "MRN-7316509"` and
`Key (mrn)=(...) already exists`, pyarrow's `In CSV column #2: Row #3: CSV conversion error
to int64: invalid value '...'`, scikit-learn's `Found unknown categories ['...']`. The value
comes after a colon, in quotes, brackets or `=(`; the text before it names the column, the
line and the type expected, and is what is kept. SQLAlchemy adds the statement's bound
parameters to its messages unless the engine hides them (infra/db.py does).

Spans go further and keep no error text at all (span_redaction.py).
"""

from __future__ import annotations

import re

import psycopg

from bi_agent.errors import BIAgentError, UnexpectedError

# Where a quoted value begins: a quote, a bracket or brace, `=(` of a key, `: ` before the value
# (but not after a location such as `Row #3: `), or the end of the first line.
VALUE_STARTS = re.compile(r"""['"`\[{]|=\(|(?<!#\d)(?<!#\d\d)(?<!#\d\d\d)(?<!#\d{4})(?<!#\d{5}): |\n""")
# A message longer than this is cut: no library needs more to say what failed.
MAX_LENGTH = 200


def describe(error: object) -> str:
    """`ValueError: could not convert string to float`; a BIAgentError's own message."""
    if isinstance(error, BIAgentError):
        return str(error)
    # SQLAlchemy wraps the driver's error, whose class and diagnostics say more.
    error = getattr(error, "orig", None) or error
    said = value_free_text(str(error))
    if isinstance(error, psycopg.Error):
        said += _diagnostics(error)
    name = type(error).__name__
    return f"{name}: {said}" if said else name


def value_free_text(message: str) -> str:
    """The part of a library's message before the value it quotes."""
    found = VALUE_STARTS.search(message)
    kept = message[: found.start()] if found else message
    return kept.strip().rstrip(":,;(").strip()[:MAX_LENGTH]


def value_free(error: BaseException) -> BaseException:
    """What to raise in place of `error`, `from None` (a chained error's message could quote a
    value too): `error` itself when the platform wrote its message, else an UnexpectedError
    saying `describe(error)`, with the traceback of `error` (file, line and code; no values)."""
    if isinstance(error, BIAgentError):
        return error
    return UnexpectedError(describe(error)).with_traceback(error.__traceback__)


def _diagnostics(error: psycopg.Error) -> str:
    """The SQLSTATE and where PostgreSQL says it failed (`COPY staging, line 3, column mrn`)."""
    diag = error.diag
    where = [f"SQLSTATE {diag.sqlstate}"] if diag.sqlstate else []
    if diag.column_name:
        where.append(f"column {diag.column_name}")
    if diag.context:
        context = value_free_text(diag.context)
        if context:
            where.append(context)
    return f" ({', '.join(where)})" if where else ""
