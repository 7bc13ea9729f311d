"""Names that become SQL identifiers: checked, or normalised from file headers.

Only names matching `^[a-z][a-z0-9_]{0,62}$` ever reach SQL, and then only quoted
by SQLAlchemy or psycopg; nothing a client sends is pasted into a statement.
"""

from __future__ import annotations

import re
import unicodedata

from bi_agent.errors import InvalidInputError

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_IDENTIFIER_LENGTH = 63
# Names every PostgreSQL table has already (its system columns): a header of that name
# becomes `<name>_value` (a map's xmin, ymin, xmax, ymax), or no table could be made.
SYSTEM_COLUMNS = frozenset({"tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"})


def check_identifier(name: str, what: str) -> str:
    """`name` itself when it is a plain identifier, else a 422 saying what is wrong."""
    if not IDENTIFIER.fullmatch(name):
        raise InvalidInputError(
            f"{what} {name[:80]!r} is not a plain identifier: use 1 to 63 lowercase letters, digits "
            "and underscores, starting with a letter"
        )
    return name


def normalise_header(header: str) -> str:
    """A file's column header as an identifier: `Length of Stay (days)` -> `length_of_stay_days`.

    Returns the candidate even when it is too long; the caller reports that with the header.
    """
    ascii_text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", ascii_text.strip())
    name = re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")
    if not name:
        return ""
    if not name[0].isalpha():
        name = f"c_{name}"
    if name in SYSTEM_COLUMNS:
        name = f"{name}_value"
    return name
