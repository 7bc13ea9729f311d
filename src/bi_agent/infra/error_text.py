"""What an error may say outside the process that met it: in a log line, a task result, a job
reply. Errors the platform raises on purpose (BIAgentError) keep their message, written to be
value-free; any other says its class and the head of its message that cannot be a value.

Libraries print the value they choke on, quoted or not: numpy's `could not convert string to
float: 'MRN9946928'`, PostgreSQL's `invalid input syntax for type integer: "MRN-7316509"`,
pyarrow's `Float value 123456.500000 was truncated converting to int64`, Python's `year 19455
is out of range` and `12345 is not in list`, pandas' `Out of bounds nanosecond timestamp:
1990-01-02`. So the message is read from its start, one word at a time, and cut at the first
word that could be a value; everything from there on goes, since a value can run on for words.
A word is kept when it is

- all lowercase letters and `_` (`could`, `not_null`; parts joined by `-` or `/`, as in
  `non-finite` and `date/time`), with at most a `,`, `;` or `.` after it, or a function's name
  with empty parentheses (`int()`);
- one of a fixed list of capitalised words libraries use (`CAPITALISED`: sentence openings such
  as `Could`, `Float`, `Timestamp`, and names such as `C`, `CSV`, `NaN`, `Python`), since
  names, places and identifiers are written capitalised;
- a type name with digits (`int64`, `float32`, `datetime64[ns]`);
- part of a frame parsed explicitly (`FRAMES`), whose numbers count or place and are no value:
  pyarrow's `In CSV column #3: `, `Row #4: `, `CSV parse error: `, `Expected 2 columns, got 3`
  and `JSON parse error: Column(/mrn) changed from number to string in row 1`, Python's `with
  base 10`, and SQL types with a length (`character varying(10)`).

Anything else ends the text: a digit, a quote, a bracket, a dot or any other sign inside a
word, a capitalised word not in the list, `: ` (what follows a colon is what the library
failed on) and the end of the first line. So `ValueError: could not convert string to float`,
`OverflowError: Python int too large to convert to C long`, `ArrowInvalid: Float value`, and a
bare `ValueError` for `Smith is not in list`.

PostgreSQL's errors add their SQLSTATE, the column and where it failed, from its diagnostics:
of the context only a `COPY staging, line 3, column mrn` or `PL/pgSQL function f(integer) line
3 at RAISE` frame (`_CONTEXTS`), never the row or statement text that follows it.

The limit: a value made only of lowercase letters (or one of the listed capitalised words) that
a library prints unquoted before any digit, quote or colon is kept, as `smith is not in list`
would be. Python, pandas and PostgreSQL quote the text values they name, and a value of
lowercase letters alone is seldom one that identifies a patient: names are capitalised, and
record numbers, dates, telephone numbers and addresses hold digits. SQLAlchemy adds the
statement's bound parameters to its messages unless the engine hides them (infra/db.py does).

Spans go further and keep no error text at all (span_redaction.py).
"""

from __future__ import annotations

import re

import psycopg

from bi_agent.errors import BIAgentError, UnexpectedError

# Capitalised words libraries begin their messages with or name things by. Not surnames or
# first names (no `Key`, `Field`, `Price`, `Will`): a capitalised word not here ends the text.
_CAPITALISED_WORDS = """
A An The This That These It No Not Only Must Cannot Can Could Unable Failed Invalid Unknown
Unsupported Unexpected Expected Error Found Given Input Output Length Out In Row Rows Column
Columns Value Values Integer Float Double String Timestamp Timedelta Date Datetime Time
Duration Type Object Array Index Missing Duplicate Negative Too Buffer Schema Empty
Conversion Casting Division Operation Data File Table Mixed Incompatible Ambiguous
Attempted Argument Function Overflow Precision Scale Size Shape Setting Passing Provided
Received Unicode None True False NaN NaT NA C CSV JSON SQL UTF ASCII ISO Python NumPy Arrow
Parquet PostgreSQL
"""
CAPITALISED = frozenset(_CAPITALISED_WORDS.split())
# Structure parsed whole, tried before each word: the numbers in them count or place.
FRAMES = re.compile(
    r"In CSV column #\d+: |Row #\d+: |CSV parse error: |Expected \d+ columns, got \d+"
    r"|JSON parse error: Column\(/[A-Za-z_][\w/]*\) changed from [a-z]+ to [a-z]+ in row \d+"
    r"|with base \d+|(?:character varying|varchar|character|char|numeric|decimal)\(\d+(?:,\d+)?\)"
)
_LOWER = r"[a-z_]+(?:[-/][a-z_]+)*(?:\(\))?"
_TYPE = (
    r"(?:u?int|float|complex|decimal|date|time|timestamp|duration|utf|large_utf|datetime|timedelta)"
    r"(?:8|16|32|64|128|256)(?:\[(?:ns|us|ms|s|D)\])?"
)
# One word: what it is, then at most a `,`, `;` or `.`, then a space, a colon or the end.
_WORD = re.compile(rf"({_LOWER}|{_TYPE}|[A-Z][A-Za-z]*)[,;.]?(?= |:|$)")
# PostgreSQL's context lines that say where a statement failed, with no value in them.
_CONTEXTS = re.compile(
    r"COPY [A-Za-z_][\w$.]*, line \d+(?:, column [A-Za-z_][\w$]*)?"
    r"|PL/pgSQL function [\w.]+\([\w ,]*\) line \d+ at [A-Z][A-Z ]*[A-Z]"
)
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
    """The head of a library's message, up to the first word that could be a value."""
    text = message.split("\n", 1)[0]
    at = 0
    while at < len(text):
        found = FRAMES.match(text, at) or _WORD.match(text, at)
        if found is None or (found.re is _WORD and _capitalised_unknown(found.group(1))):
            break
        at = found.end()
        if text.startswith(":", at):
            break
        while at < len(text) and text[at] == " ":
            at += 1
    return text[:at].rstrip(" ,;.:")[:MAX_LENGTH].rstrip(" ,;.:")


def value_free(error: BaseException) -> BaseException:
    """What to raise in place of `error`, `from None` (a chained error's message could quote a
    value too): `error` itself when the platform wrote its message, else an UnexpectedError
    saying `describe(error)`, with the traceback of `error` (file, line and code; no values)."""
    if isinstance(error, BIAgentError):
        return error
    return UnexpectedError(describe(error)).with_traceback(error.__traceback__)


def _capitalised_unknown(word: str) -> bool:
    return word[0].isupper() and word not in CAPITALISED


def _diagnostics(error: psycopg.Error) -> str:
    """The SQLSTATE and where PostgreSQL says it failed (`COPY staging, line 3, column mrn`)."""
    diag = error.diag
    where = [f"SQLSTATE {diag.sqlstate}"] if diag.sqlstate else []
    if diag.column_name:
        where.append(f"column {diag.column_name}")
    if diag.context:
        context = _CONTEXTS.match(diag.context)
        if context:
            where.append(context.group())
    return f" ({', '.join(where)})" if where else ""
