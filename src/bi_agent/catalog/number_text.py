"""Numbers written as text: which type a column of them is stored as, so every value round-trips.

A CSV's numbers are read as text and typed here, from every value of the column (not a
sample), and the text itself is what PostgreSQL is given: `+1`, `1e3` and `0.50` arrive as
written, never as a binary float's approximation of them. The rules:

- A value with a leading zero (`05415`, `007`; a lone `0` and `0.5` are numbers) makes the
  column text: as a number it would lose its zeros, so it is a code (a ZIP code, an MRN).
- Whole numbers of one fixed length in a column whose name says it holds codes (`zip`,
  `npi`, `*_code`, `*_id`...) are text too: `90210` is a place, not a quantity to sum.
- Numbers with at most four decimals (money, doses) are `numeric`: sums are exact and the
  same on every run. More decimals or an exponent make `double precision`; whole numbers
  `bigint` (`numeric` past 18 digits).
- Anything else in the column (`1,234`, a word) makes it text, every value as written.

The same patterns serve the cleaning pipeline, which types text columns in PostgreSQL:
they are written in the common subset of RE2 (Arrow) and PostgreSQL's regular expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from bi_agent.catalog.columns import DataType

NUMBER = r"^[+-]?(([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?|[Ii]nf|[Ii]nfinity|[Nn]a[Nn])$"
INTEGER = r"^[+-]?[0-9]+$"
# At most four decimals, no exponent: what `numeric` holds exactly as written.
EXACT_DECIMAL = r"^[+-]?([0-9]+([.][0-9]{0,4})?|[.][0-9]{1,4})$"
LEADING_ZERO = r"^[+-]?0[0-9]"
# An exponent past double precision's range (about 1e308, and 1e-308 before it loses digits
# to 0): PostgreSQL refuses such a value, so its column stays text, every value as written.
OUT_OF_RANGE = r"[eE][+-]?0*([1-9][0-9]{3,}|[4-9][0-9]{2}|3[1-9][0-9]|30[89])$"
SIGNED = r"^[+-]"
# bigint holds every whole number of up to 18 digits (and some of 19).
BIGINT_DIGITS = 18
# Words in a column's name that say its whole numbers are codes, not quantities.
CODE_WORDS = frozenset(
    {
        "account", "acct", "code", "cpt", "dea", "ean", "ein", "fax", "fips", "gtin", "hcpcs", "icd", "id",
        "isbn", "mrn", "ndc", "npi", "phone", "postal", "postcode", "routing", "sku", "ssn", "tel",
        "telephone", "tin", "upc", "zip", "zipcode",
    }
)  # fmt: skip


@dataclass
class NumberTextStats:
    """What the values of one text column are, counted over all of them (nulls aside)."""

    values: int = 0
    numbers: int = 0
    integers: int = 0
    exact_decimals: int = 0
    leading_zero: bool = False
    out_of_range: bool = False
    signed: bool = False
    shortest_integer: int | None = None
    longest_integer: int | None = None

    @property
    def is_text(self) -> bool:
        """Settled as text already: a value is not a number (or none PostgreSQL can hold), or one
        has a leading zero."""
        return self.numbers < self.values or self.leading_zero or self.out_of_range

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        """Count the values of one more batch of the column (Arrow text). Each pattern is a pass
        over the values, so the broader ones are tried only when the narrower leave some out."""
        values = len(column) - column.null_count
        if values == 0 or self.is_text:
            self.values += values
            return
        self.values += values
        integers = pc.match_substring_regex(column, INTEGER)
        count = pc.sum(integers).as_py() or 0
        exact = values if count == values else _count(column, EXACT_DECIMAL)
        if exact < values:
            self.numbers += _count(column, NUMBER)
            self.out_of_range = _count(column, OUT_OF_RANGE) > 0
        else:
            self.numbers += values
        self.integers += count
        self.exact_decimals += exact
        if self.is_text:
            return
        self.leading_zero = self.leading_zero or _count(column, LEADING_ZERO) > 0
        if count:
            shortest, longest = pc.min_max(pc.utf8_length(pc.filter(column, integers))).values()
            self.shortest_integer = _least(self.shortest_integer, shortest.as_py())
            self.longest_integer = max(self.longest_integer or 0, longest.as_py())
            # A sign only matters to a column of one fixed length (a code has none).
            if not self.signed and self.shortest_integer == self.longest_integer:
                self.signed = _count(column, SIGNED) > 0


def number_type(name: str, stats: NumberTextStats) -> DataType:
    """The type a text column of these values is stored as (see the module's rules)."""
    if stats.values == 0 or stats.is_text:
        return "text"
    if stats.integers == stats.values:
        if _looks_like_code(name, stats):
            return "text"
        return "numeric" if (stats.longest_integer or 0) > BIGINT_DIGITS else "bigint"
    return "numeric" if stats.exact_decimals == stats.values else "double precision"


def _looks_like_code(name: str, stats: NumberTextStats) -> bool:
    fixed = stats.shortest_integer == stats.longest_integer and (stats.longest_integer or 0) >= 2
    if not fixed or stats.signed:
        return False
    words = {word.rstrip("0123456789") for word in name.split("_")}
    return bool(words & CODE_WORDS) or any(word.endswith("code") for word in words)


def _count(column: pa.Array | pa.ChunkedArray, pattern: str) -> int:
    return int(pc.sum(pc.match_substring_regex(column, pattern)).as_py() or 0)


def _least(current: int | None, value: int) -> int:
    return value if current is None else min(current, value)
