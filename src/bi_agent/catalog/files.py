"""Uploaded files read into Arrow tables: CSV, Parquet or JSON Lines, gzip accepted.

The format comes from the file name and must agree with the content. Types are
inferred by pyarrow; headers become identifiers (the mapping is kept and shown).
Every refusal is an InvalidInputError that names the file, and the line and column
where it can, but never quotes a value: a value may be PHI.

A file is read as a stream of record batches, so a check that keeps no rows (the API's,
before it queues the import) needs a few blocks of memory whatever the file's size.
Gzip is decompressed as it is read and refused (PayloadTooLargeError) the moment it
expands past the caller's limit, so a small file that inflates to gigabytes costs no
more than the limit's worth of reading. Parquet's own compression and encodings are held
to the same limit: a file whose metadata says it must expand past it is refused before a
value is read, and otherwise its text is read as dictionaries (what the file holds, not
what it expands to) while the decoded size is counted, batch by batch, against the limit.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from bi_agent.catalog.columns import DataType, postgres_type
from bi_agent.catalog.names import MAX_IDENTIFIER_LENGTH, normalise_header
from bi_agent.catalog.number_text import NumberTextStats, number_type
from bi_agent.errors import ErrorItem, InvalidInputError, PayloadTooLargeError

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# Arrow reads in blocks; a row must fit in one, so the block is well above the field limit.
BLOCK_SIZE = 8 << 20
SKIPPED_SAMPLE_SIZE = 20
# The first rows are kept in every read, for what judges a column by its values (PHI detection).
HEAD_ROWS = 1000
PARQUET_BATCH_ROWS = 64 * 1024
# About what one Parquet batch may hold as read: a row group's batches each take their share of it.
PARQUET_BATCH_BYTES = 64 << 20
COPY_CHUNK_BYTES = 1 << 20
# PostgreSQL's limit for a table: a wider file could only fail later, in the worker.
MAX_COLUMNS = 1600
# A CSV whose inferred types meet a later value they cannot hold is read again with that column
# as text; all the reads of one file together may read this many times the file.
CSV_READS = 4


class FileFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


SUFFIXES = {
    ".csv": FileFormat.CSV,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
}


class OnError(StrEnum):
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class FileKind:
    format: FileFormat
    gzipped: bool


@dataclass
class ParsedFile:
    kind: FileKind
    mapping: dict[str, str]  # header in the file -> column name
    num_rows: int
    head: pa.Table  # the first HEAD_ROWS rows, every column
    data_types: dict[str, DataType]  # column name -> what it is stored as
    rows_skipped: int = 0
    skipped_sample: list[dict[str, Any]] = field(default_factory=list)
    table: pa.Table | None = None  # every row; None when the file was only checked

    @property
    def rows(self) -> pa.Table:
        if self.table is None:
            raise RuntimeError("the file was checked without keeping its rows")
        return self.table


class NumbersFrom(StrEnum):
    """Which columns of a read are typed by their numbers' text (number_text.py)."""

    TEXT = "text"  # every text column: a CSV's numbers are read as text
    FLOATS = "floats"  # the fractional numbers, written in their shortest form (JSON's)


class _Rows:
    """Collects the batches of one read: counts them, keeps the head, checks field sizes,
    types numbers by their text (a CSV's, a JSON file's fractions) and keeps every batch only
    when asked."""

    def __init__(self, filename: str, max_field_bytes: int, *, keep_rows: bool) -> None:
        self.filename = filename
        self.max_field_bytes = max_field_bytes
        self.keep_rows = keep_rows
        self.numbers_from: NumbersFrom | None = None
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.head: list[pa.RecordBatch] = []
        self.head_rows = 0
        self.batches: list[pa.RecordBatch] = []
        self.schema: pa.Schema | None = None
        self.number_texts: dict[str, NumberTextStats] = {}
        self.multiline = False  # a text value holds a line break

    def add(self, batch: pa.RecordBatch, schema: pa.Schema | None = None) -> None:
        """Check and count `batch`; the rows kept (the head, and all when asked) are cast to `schema`
        when given (text read as dictionaries is decoded only for them)."""
        typed = batch.schema.names
        if self.numbers_from is NumbersFrom.FLOATS:
            typed = [field_.name for field_ in batch.schema if pa.types.is_floating(field_.type)]
            batch = _floats_as_text(batch)
        self.schema = batch.schema
        _check_field_sizes(batch, self.filename, self.max_field_bytes, first_row=self.count)
        _check_no_nul(batch, self.filename, first_row=self.count)
        self.count += batch.num_rows
        if self.numbers_from is NumbersFrom.TEXT and not self.multiline:
            self.multiline = any(_holds_line_break(column) for column in batch.columns)
        if self.numbers_from is not None:
            for name in typed:
                column = batch.column(name)
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    self.number_texts.setdefault(name, NumberTextStats()).add(column)
        if self.head_rows < HEAD_ROWS and batch.num_rows:
            head = batch.slice(0, HEAD_ROWS - self.head_rows)
            self.head.append(head if schema is None else head.cast(schema))
            self.head_rows += self.head[-1].num_rows
        if self.keep_rows:
            self.batches.append(batch if schema is None else batch.cast(schema))

    def parsed(self, kind: FileKind, mapping: dict[str, str], schema: pa.Schema, **skips: Any) -> ParsedFile:
        names = list(mapping.values())
        if self.numbers_from is NumbersFrom.FLOATS:
            schema = _floats_as_text(schema.empty_table()).schema
        head = pa.Table.from_batches(self.head, schema=schema).rename_columns(names)
        table = pa.Table.from_batches(self.batches, schema=schema).rename_columns(names) if self.keep_rows else None
        data_types = {}
        for field_, name in zip(schema, names, strict=True):
            stats = self.number_texts.get(field_.name)
            data_types[name] = (
                number_type(name, stats) if stats is not None else postgres_type(field_.type, name, self.filename)
            )
        return ParsedFile(kind, mapping, self.count, head, data_types, table=table, **skips)


def _holds_line_break(column: pa.Array) -> bool:
    value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        return False
    values = column.dictionary if pa.types.is_dictionary(column.type) else column
    return bool(pc.any(pc.match_substring_regex(values, "[\r\n]")).as_py())


def _floats_as_text(batch: pa.RecordBatch | pa.Table) -> Any:
    """`batch` with its floating-point columns as the shortest text that reads back the same
    value (0.1, not 0.1000000000000000055), which PostgreSQL is given as written."""
    for index, field_ in enumerate(batch.schema):
        if pa.types.is_floating(field_.type):
            batch = batch.set_column(index, field_.name, pc.cast(batch.column(index), pa.string()))
    return batch


def detect_kind(filename: str, head: bytes) -> FileKind:
    """The format the name says, checked against the first bytes of the content."""
    name = filename.lower()
    gzipped = name.endswith(".gz")
    if gzipped:
        name = name.removesuffix(".gz")
    suffix = Path(name).suffix
    file_format = SUFFIXES.get(suffix)
    if file_format is None:
        raise file_error(
            filename,
            f"unknown file type {suffix or '(no extension)'!r}; send .csv, .parquet or .jsonl "
            "(.ndjson), optionally gzipped as .gz",
        )
    if gzipped and not head.startswith(GZIP_MAGIC):
        raise file_error(filename, "the name ends in .gz but the content is not gzip data")
    if not gzipped and head.startswith(GZIP_MAGIC):
        raise file_error(filename, f"the content is gzip-compressed; name the file {filename}.gz")
    return FileKind(file_format, gzipped)


def read_file(
    path: Path,
    filename: str,
    *,
    on_error: OnError,
    max_field_bytes: int,
    max_uncompressed_bytes: int,
    column_types: dict[str, pa.DataType] | None,
    keep_rows: bool = True,
) -> ParsedFile:
    """Read and check the whole file, as a stream. `column_types` (by column name) pins types for
    an append. Without `keep_rows` only the count and the head are kept (constant memory).
    A gzip file that expands past `max_uncompressed_bytes` is refused there."""
    if path.stat().st_size == 0:
        raise file_error(filename, "the file is empty")
    with path.open("rb") as raw:
        head = raw.read(8)
    kind = detect_kind(filename, head)
    rows = _Rows(filename, max_field_bytes, keep_rows=keep_rows)
    try:
        if kind.format is FileFormat.PARQUET:
            parsed = _read_parquet(path, filename, kind, rows, max_uncompressed_bytes)
        else:
            _check_text_content(path, filename, kind, max_uncompressed_bytes)
            if kind.format is FileFormat.CSV:
                parsed = _read_csv(path, filename, kind, on_error, column_types, rows, max_uncompressed_bytes)
            else:
                parsed = _read_jsonl(path, filename, kind, rows, max_uncompressed_bytes)
    except (OSError, EOFError, zlib.error):
        if kind.gzipped:
            raise file_error(filename, "the gzip data is corrupt or cut short") from None
        raise
    if parsed.num_rows == 0:
        raise file_error(filename, "the file has column names but no rows")
    return parsed


class _BoundedGzip(io.RawIOBase):
    """A gzip file's content as it is decompressed, refused once it passes `limit` bytes."""

    def __init__(self, path: Path, filename: str, limit: int) -> None:
        self._source = gzip.open(path, "rb")  # noqa: SIM115 - closed by close()
        self._filename = filename
        self._limit = limit
        self._produced = 0

    @property
    def produced(self) -> int:
        return self._produced

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        self._produced += len(data)
        if self._produced > self._limit:
            raise uncompressed_too_large(self._filename, self._limit)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()


def uncompressed_too_large(filename: str, limit: int, data: str = "gzip data") -> PayloadTooLargeError:
    message = (
        f"the {data} expands to more than {limit >> 20} MB, the most a file may hold uncompressed "
        "(IMPORT_MAX_UNCOMPRESSED_MB); split the file"
    )
    return PayloadTooLargeError(f"{filename}: {message}", errors=[ErrorItem(loc=["file"], msg=message, file=filename)])


def _open_text(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int) -> io.BufferedIOBase:
    if kind.gzipped:
        return io.BufferedReader(_BoundedGzip(path, filename, max_uncompressed_bytes), COPY_CHUNK_BYTES)
    return path.open("rb")


def _check_text_content(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int) -> None:
    with _open_text(path, filename, kind, max_uncompressed_bytes) as stream:
        head = stream.read(64 << 10)
    if head.startswith(PARQUET_MAGIC):
        raise file_error(filename, "the content is a Parquet file; name it .parquet")
    if b"\x00" in head:
        raise file_error(filename, f"the content is binary, not {kind.format.value.upper()} text")
    if kind.format is FileFormat.JSONL and not head.lstrip().startswith(b"{"):
        raise file_error(filename, "line 1 is not a JSON object; JSON Lines has one object per line", line=1)
    if not head.strip():
        raise file_error(filename, "the file holds only blank space")


def _input_stream(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int) -> Any:
    if kind.gzipped:
        return _open_text(path, filename, kind, max_uncompressed_bytes)
    return pa.input_stream(str(path))


def _bytes_read(source: Any) -> int:
    """How much of the content `source` (from `_input_stream`) has read, decompressed."""
    if isinstance(source, io.BufferedReader) and isinstance(source.raw, _BoundedGzip):
        return source.raw.produced
    return int(source.tell())


def _stream_into(reader: Any, rows: _Rows) -> pa.Schema:
    schema: pa.Schema = reader.schema
    for batch in reader:
        rows.add(batch)
    return schema


# The single-threaded reader names the row too ("In CSV column #2: Row #9: CSV conversion...").
_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+)")


def _read_csv(
    path: Path,
    filename: str,
    kind: FileKind,
    on_error: OnError,
    column_types: dict[str, pa.DataType] | None,
    rows: _Rows,
    max_uncompressed_bytes: int,
) -> ParsedFile:
    headers = _csv_headers(path, filename, kind, max_uncompressed_bytes)
    mapping = _column_mapping(headers, filename)
    types_by_header: dict[str, pa.DataType] = {}
    if column_types is not None:
        types_by_header = {header: column_types[name] for header, name in mapping.items() if name in column_types}
    skipped: list[dict[str, Any]] = []
    changed: list[str] = []  # the columns whose type a later value changed
    # Numbers are read as written and typed from all their values (number_text.py): Arrow would
    # turn 05415 into 5415 and 0.1 into a binary float. Which columns Arrow takes for numbers is
    # learnt from the first block, read into memory: one Arrow reader at a time reads the file.
    first = _first_block_types(path, filename, kind, max_uncompressed_bytes, headers)
    types_by_header.update(
        (header, pa.string())
        for header, column_type in first.items()
        if header not in types_by_header and _may_be_number(column_type)
    )
    # Line numbers of bad rows are only known to the single-threaded reader; it is used
    # when rows may be skipped, and again to name the line when a bad row is found.
    use_threads = on_error is OnError.FAIL
    rows.numbers_from = NumbersFrom.TEXT
    # What the reads so far took, and the most one took (the whole content, for a plain file).
    read_total = 0
    one_read = 0 if kind.gzipped else path.stat().st_size
    # One read per column whose type a later value changes.
    for _ in range(len(headers) + 1):
        skipped.clear()
        rows.reset()
        try:
            with _input_stream(path, filename, kind, max_uncompressed_bytes) as source:
                try:
                    reader = pa_csv.open_csv(
                        source,
                        read_options=pa_csv.ReadOptions(use_threads=use_threads, block_size=BLOCK_SIZE),
                        parse_options=pa_csv.ParseOptions(
                            newlines_in_values=True, invalid_row_handler=_row_handler(on_error, skipped)
                        ),
                        convert_options=_convert_options(types_by_header),
                    )
                    if any(pa.types.is_binary(column_type) for column_type in reader.schema.types):
                        # Arrow keeps bytes that are not UTF-8 as a binary column rather than failing.
                        raise _csv_error(
                            "invalid UTF8", filename, path, kind, headers, mapping, None, max_uncompressed_bytes
                        )
                    schema = _stream_into(reader, rows)
                finally:
                    read = _bytes_read(source)
                    read_total += read
                    one_read = max(one_read, read)
        except pa.ArrowInvalid as error:
            if skipped and on_error is OnError.FAIL:
                bad = skipped[0]
                if bad["line"] is None and use_threads:
                    use_threads = False
                    continue
                where = f"line {bad['line']}" if bad["line"] is not None else "a row"
                raise file_error(
                    filename, f"{where}: {bad['reason']}; fix the row or import with on_error=skip", line=bad["line"]
                ) from None
            message = str(error)
            conversion = _CONVERSION_ERROR.search(message)
            if conversion and column_types is None and "UTF8" not in message:
                # Inference looked at the first block only; a later value says the column is text
                # (a date or a boolean: numbers and columns empty at first are read as text already).
                changed.append(headers[int(conversion.group(1))])
                types_by_header[changed[-1]] = pa.string()
                if read_total > (CSV_READS - 1) * one_read:
                    raise _csv_reads_spent(filename, [mapping[header] for header in changed]) from None
                continue
            raise _csv_error(
                message, filename, path, kind, headers, mapping, conversion, max_uncompressed_bytes
            ) from None
        _check_no_folded_lines(path, filename, kind, max_uncompressed_bytes, rows)
        return rows.parsed(
            kind, mapping, schema, rows_skipped=len(skipped), skipped_sample=skipped[:SKIPPED_SAMPLE_SIZE]
        )
    raise file_error(filename, "the column types could not be inferred")


def _check_no_folded_lines(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int, rows: _Rows) -> None:
    """Refuse a quoted field that runs over lines and is never closed, or is "closed" by a quote
    that no delimiter follows. Arrow closes an open quote at the end of the file, and takes
    `"a"b` as `ab`: a quote left open would fold every line after it into one field of one row,
    or the lines up to the next quote that happens to stand in a field. A field that spans lines
    and ends so is such a fold, not a value; a quote that a delimiter follows may close a real
    multi-line value, and is believed."""
    if not rows.multiline:
        return  # only a value that holds a line break can be lines folded by a stray quote
    line = _folded_field_line(path, filename, kind, max_uncompressed_bytes)
    if line is not None:
        raise file_error(
            filename,
            f"line {line}: a quoted field opens here and runs over the lines after it without being "
            "closed by a quote before a comma or the end of its line; close the quote, and double any "
            'quote inside a field ("")',
            line=line,
        )


def _folded_field_line(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int) -> int | None:
    """The line where a folding quoted field opens (see _check_no_folded_lines), as Arrow's parser
    reads quotes: one opens a field only at its start, `""` inside is a quote, and one elsewhere
    in an unquoted field is a character like any other."""
    in_quotes = False
    opened_at = 0  # the offset in the content of the open field's quote
    spans = False  # whether the open field holds a line break
    offset = 0  # the offset in the content of `data`
    before = ord("\n")  # the byte before `data`: the content starts a field
    leftover = b""
    folded_at: int | None = None
    with _open_text(path, filename, kind, max_uncompressed_bytes) as stream:
        while folded_at is None:
            chunk = stream.read(COPY_CHUNK_BYTES)
            data = leftover + chunk
            # The last byte waits for the next chunk: a quote there may be the first of a doubled one.
            end = len(data) if not chunk else len(data) - 1
            position = 0
            while (quote := data.find(b'"', position, end)) >= 0:
                if in_quotes:
                    following = data[quote + 1] if quote + 1 < len(data) else None
                    if following == ord('"'):
                        position = quote + 2
                        continue
                    spans = spans or _breaks(data, max(opened_at - offset + 1, 0), quote)
                    if spans and following is not None and following not in b",\r\n":
                        folded_at = opened_at
                        break
                    in_quotes = False
                elif (data[quote - 1] if quote else before) in b",\r\n":
                    in_quotes, opened_at, spans = True, offset + quote, False
                position = quote + 1
            if folded_at is not None:
                break
            if not chunk:
                if in_quotes and (spans or _breaks(data, max(opened_at - offset + 1, 0), len(data))):
                    folded_at = opened_at
                break
            cut = max(position, end)
            if in_quotes:
                spans = spans or _breaks(data, max(opened_at - offset + 1, 0), cut)
            before = data[cut - 1] if cut else before
            leftover = data[cut:]
            offset += cut
    if folded_at is None:
        return None
    return 1 + _line_breaks_before(path, filename, kind, max_uncompressed_bytes, folded_at)


def _breaks(data: bytes, start: int, end: int) -> bool:
    return data.find(b"\n", start, end) >= 0 or data.find(b"\r", start, end) >= 0


def _line_breaks_before(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int, offset: int) -> int:
    count = 0
    with _open_text(path, filename, kind, max_uncompressed_bytes) as stream:
        while offset > 0 and (chunk := stream.read(min(COPY_CHUNK_BYTES, offset))):
            count += chunk.count(b"\n")
            offset -= len(chunk)
    return count


def _first_block_types(
    path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int, headers: list[str]
) -> dict[str, pa.DataType]:
    """The type Arrow infers for each column from the file's first block (its whole lines), read
    into memory; empty when that block cannot be read as CSV (the read of the file says why)."""
    with _open_text(path, filename, kind, max_uncompressed_bytes) as stream:
        block = stream.read(BLOCK_SIZE)
    if len(block) == BLOCK_SIZE and (end := block.rfind(b"\n")) > 0:
        block = block[: end + 1]
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(block),
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=len(block) + 1),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip"),
            convert_options=_convert_options({}),
        )
    except (pa.ArrowInvalid, OSError):
        return {}
    return dict(zip(headers, table.schema.types, strict=False))


def _convert_options(column_types: dict[str, pa.DataType]) -> pa_csv.ConvertOptions:
    return pa_csv.ConvertOptions(
        column_types=column_types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["true", "True", "TRUE"],
        false_values=["false", "False", "FALSE"],
    )


def _may_be_number(column_type: pa.DataType) -> bool:
    """What Arrow's inference calls a number, or cannot tell yet (a column empty in the first block)."""
    return bool(pa.types.is_integer(column_type) or pa.types.is_floating(column_type) or pa.types.is_null(column_type))


def _csv_reads_spent(filename: str, columns: list[str]) -> InvalidInputError:
    return file_error(
        filename,
        f"the column types are still changing after {CSV_READS} reads of the file: columns {', '.join(columns)} "
        f"hold values after the first {BLOCK_SIZE >> 20} MB that are not of the type of their first values "
        "(text after numbers, say); put such a row near the top, or send the file as Parquet",
    )


def _row_handler(on_error: OnError, skipped: list[dict[str, Any]]) -> Callable[[Any], str]:
    # Arrow swallows exceptions from the handler, so the bad row is noted and "error" returned.
    def handle(row: Any) -> str:
        skipped.append(
            {"line": row.number, "reason": f"expected {row.expected_columns} fields, found {row.actual_columns}"}
        )
        return "skip" if on_error is OnError.SKIP else "error"

    return handle


def _csv_headers(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int) -> list[str]:
    # Only the header is read here (Arrow would parse a whole block first); a quoted
    # header may span lines, so lines are added until the quotes balance, up to a block.
    with _open_text(path, filename, kind, max_uncompressed_bytes) as stream:
        raw = stream.readline(BLOCK_SIZE)
        while raw.count(b'"') % 2 and len(raw) < BLOCK_SIZE and (more := stream.readline(BLOCK_SIZE)):
            raw += more
    try:
        header = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise file_error(filename, "line 1 (the header) is not valid UTF-8 text", line=1) from None
    try:
        return next(csv.reader([header.rstrip("\r\n")]))
    except (csv.Error, StopIteration):
        raise file_error(filename, "the header line cannot be read as CSV") from None


def _csv_error(
    message: str,
    filename: str,
    path: Path,
    kind: FileKind,
    headers: list[str],
    mapping: dict[str, str],
    conversion: re.Match[str] | None,
    max_uncompressed_bytes: int,
) -> InvalidInputError:
    if "invalid UTF8" in message or "UTF8" in message:
        line = _first_non_utf8_line(path, filename, kind, max_uncompressed_bytes)
        where = f"line {line}" if line is not None else "a line"
        return file_error(filename, f"{where} is not valid UTF-8 text; save the file as UTF-8", line=line)
    if "straddling" in message or "straddles" in message:
        return file_error(filename, f"a row is larger than {BLOCK_SIZE >> 20} MB")
    if conversion:
        column = mapping[headers[int(conversion.group(1))]]
        return file_error(
            filename,
            f"column {column}: a value is not a valid {conversion.group(2)}, the type of that column in the dataset",
            column=column,
        )
    return file_error(filename, f"not readable as CSV ({message.split(':', maxsplit=1)[0]})")


def _first_non_utf8_line(path: Path, filename: str, kind: FileKind, max_uncompressed_bytes: int) -> int | None:
    with _open_text(path, filename, kind, max_uncompressed_bytes) as stream:
        # A line longer than a block is read in pieces: bounded memory, the number may run ahead.
        for number, line in enumerate(iter(lambda: stream.readline(BLOCK_SIZE), b""), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _read_parquet(path: Path, filename: str, kind: FileKind, rows: _Rows, max_uncompressed_bytes: int) -> ParsedFile:
    try:
        if kind.gzipped:
            # Parquet is read from its end, so the content is first decompressed to a file.
            with tempfile.TemporaryDirectory(prefix="bi-agent-parquet-") as folder:
                plain = Path(folder) / "content.parquet"
                with _open_text(path, filename, kind, max_uncompressed_bytes) as source, plain.open("wb") as target:
                    shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
                return _read_parquet_file(plain, filename, kind, rows, max_uncompressed_bytes)
        return _read_parquet_file(path, filename, kind, rows, max_uncompressed_bytes)
    except (pa.ArrowException, OSError, EOFError) as error:
        if isinstance(error, OSError) and not isinstance(error, pa.ArrowException) and kind.gzipped:
            raise
        raise file_error(filename, f"not a readable Parquet file ({type(error).__name__})") from None


def _read_parquet_file(
    path: Path, filename: str, kind: FileKind, rows: _Rows, max_uncompressed_bytes: int
) -> ParsedFile:
    """Read row group by row group, in batches that hold at most about PARQUET_BATCH_BYTES of
    what the pages decompress to. Text is read as dictionaries, so repeated values (dictionary
    and run-length encoding) stay in memory once however many rows repeat them; each batch's
    decoded size counts against `max_uncompressed_bytes` before any of it is decoded."""
    with pq.ParquetFile(str(path)) as probe:
        schema = probe.schema_arrow
        metadata = probe.metadata
    mapping = _column_mapping(list(schema.names), filename)
    for field_ in schema:
        if pa.types.is_nested(field_.type):
            # A dataset cannot hold it, and a row of a list may repeat values without bound: refused unread.
            postgres_type(field_.type, mapping[field_.name], filename)
    if _parquet_size_floor(metadata, schema) > max_uncompressed_bytes:
        raise uncompressed_too_large(filename, max_uncompressed_bytes, "Parquet data")
    text = [field_.name for field_ in schema if _is_bytes(field_.type)]
    decoded = 0
    with pq.ParquetFile(str(path), read_dictionary=text) as reader:
        for group in range(metadata.num_row_groups):
            batch_rows = _parquet_batch_rows(metadata.row_group(group), schema)
            for batch in reader.iter_batches(batch_size=batch_rows, row_groups=[group]):
                decoded += _decoded_bytes(batch)
                if decoded > max_uncompressed_bytes:
                    raise uncompressed_too_large(filename, max_uncompressed_bytes, "Parquet data")
                rows.add(batch, schema)
    return rows.parsed(kind, mapping, schema)


def _is_bytes(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_binary(data_type)
        or pa.types.is_large_binary(data_type)
    )


def _fixed_bits(data_type: pa.DataType) -> int | None:
    """Bits a value of `data_type` takes in Arrow (a dictionary's: its values'), None for variable widths."""
    if pa.types.is_dictionary(data_type):
        return _fixed_bits(data_type.value_type)
    try:
        return int(data_type.bit_width)
    except ValueError:
        return None


def _parquet_size_floor(metadata: pq.FileMetaData, schema: pa.Schema) -> int:
    """Bytes the file must expand to, from its metadata alone: each column chunk counts what its
    pages decompress to, or what its values decode to when that is known to be more (a fixed
    width times the values; text whose statistics say every value is the same)."""
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            floor = 0
            bits = _fixed_bits(schema.field(index).type) if index < len(schema) else None
            if bits is not None:
                floor = chunk.num_values * bits // 8
            elif chunk.is_stats_set and chunk.physical_type == "BYTE_ARRAY":
                statistics = chunk.statistics
                if statistics.has_min_max and statistics.has_null_count and statistics.min_raw == statistics.max_raw:
                    floor = (chunk.num_values - statistics.null_count) * len(statistics.min_raw)
            total += max(chunk.total_uncompressed_size, floor)
    return total


def _parquet_batch_rows(row_group: pq.RowGroupMetaData, schema: pa.Schema) -> int:
    """Rows per batch so that a batch holds about PARQUET_BATCH_BYTES: its share of what the row
    group's pages decompress to (text is read as dictionaries, so a row holds no more than its
    share of the pages), and no more than that of fixed-width values however they are encoded."""
    widths = sum(-(-(_fixed_bits(field_.type) or 64) // 8) for field_ in schema)
    share = int(row_group.num_rows) * PARQUET_BATCH_BYTES // max(int(row_group.total_byte_size), 1)
    return max(1, min(PARQUET_BATCH_ROWS, share, PARQUET_BATCH_BYTES // max(widths, 1)))


def _value_lengths(column: pa.Array) -> pa.Array | None:
    """The byte length of each value of a text or binary column (as read, or as a dictionary), else None."""
    if pa.types.is_dictionary(column.type):
        if not _is_bytes(column.type.value_type):
            return None
        return pc.take(pc.binary_length(column.dictionary), column.indices)
    if _is_bytes(column.type):
        return pc.binary_length(column)
    return None


def _decoded_bytes(batch: pa.RecordBatch) -> int:
    """What `batch` takes once decoded: dictionaries count each row's value, not the dictionary."""
    total = 0
    for column in batch.columns:
        lengths = _value_lengths(column)
        if lengths is not None:
            total += (pc.sum(lengths).as_py() or 0) + 4 * (len(column) + 1)
        elif pa.types.is_dictionary(column.type):
            total += len(column) * (_fixed_bits(column.type) or 64) // 8
        else:
            total += column.nbytes
    return total


_JSON_ROW = re.compile(r"in row (\d+)")


def _read_jsonl(path: Path, filename: str, kind: FileKind, rows: _Rows, max_uncompressed_bytes: int) -> ParsedFile:
    # JSON's text of a number is gone once read; its shortest form gives money back exactly.
    rows.numbers_from = NumbersFrom.FLOATS
    try:
        with _input_stream(path, filename, kind, max_uncompressed_bytes) as source:
            reader = pa_json.open_json(
                source,
                read_options=pa_json.ReadOptions(use_threads=True, block_size=BLOCK_SIZE),
                parse_options=pa_json.ParseOptions(newlines_in_values=False, unexpected_field_behavior="infer"),
            )
            schema = _stream_into(reader, rows)
    except pa.ArrowInvalid as error:
        message = str(error)
        row = _JSON_ROW.search(message)
        if "UTF8" in message or "utf-8" in message.lower():
            line = _first_non_utf8_line(path, filename, kind, max_uncompressed_bytes)
            raise file_error(
                filename, f"line {line} is not valid UTF-8 text; save the file as UTF-8", line=line
            ) from None
        if "straddling" in message or "straddles" in message:
            raise file_error(filename, f"a line is larger than {BLOCK_SIZE >> 20} MB") from None
        number = int(row.group(1)) + 1 if row else None
        where = f"line {number}" if number else "a line"
        raise file_error(
            filename, f"{where} is not a valid JSON object, or its values change type", line=number
        ) from None
    mapping = _column_mapping(list(schema.names), filename)
    return rows.parsed(kind, mapping, schema)


def file_error(filename: str, message: str, *, line: int | None = None, column: str | None = None) -> InvalidInputError:
    """A refusal of the file, `<filename>: <message>`, itemised with the line and column where known."""
    return InvalidInputError(
        f"{filename}: {message}", errors=[ErrorItem(loc=["file"], msg=message, file=filename, line=line, column=column)]
    )


def _column_mapping(headers: list[str], filename: str) -> dict[str, str]:
    """Headers to identifiers, refusing blank, overlong and colliding names, and more columns
    than a table can have."""
    if len(headers) > MAX_COLUMNS:
        raise file_error(
            filename,
            f"the file has {len(headers)} columns; a dataset holds at most {MAX_COLUMNS} (PostgreSQL's "
            "limit for a table): split it into datasets of fewer columns",
        )
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    for position, header in enumerate(headers, start=1):
        name = normalise_header(header)
        if not name:
            raise file_error(filename, f"column {position} has no usable name ({header[:40]!r})")
        if len(name) > MAX_IDENTIFIER_LENGTH:
            raise file_error(
                filename,
                f"column {position} name is {len(name)} characters long once normalised; "
                f"the limit is {MAX_IDENTIFIER_LENGTH} ({header[:40]!r}...)",
            )
        if name in taken or header in mapping:
            raise file_error(
                filename, f"columns {taken.get(name, header)!r} and {header!r} both become {name!r}; rename one of them"
            )
        mapping[header] = name
        taken[name] = header
    return mapping


def _check_no_nul(batch: pa.RecordBatch, filename: str, *, first_row: int) -> None:
    """PostgreSQL's text holds no NUL byte: a value with one is refused here, in the request,
    naming its row and column (the first 64 kB of a text file are checked for binary content)."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        values = column.dictionary if pa.types.is_dictionary(column.type) else column
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            continue
        holds = pc.match_substring(values, "\x00")
        if not pc.any(holds).as_py():
            continue
        if pa.types.is_dictionary(column.type):
            holds = pc.take(holds, column.indices)
        row = first_row + pc.index(holds, True).as_py()
        raise file_error(
            filename,
            f"row {row + 1}, column {normalise_header(name)}: a value holds a NUL byte, which text "
            "cannot hold; remove it, or send the file as text without control characters",
            column=normalise_header(name),
        )


def _check_field_sizes(batch: pa.RecordBatch, filename: str, max_field_bytes: int, *, first_row: int) -> None:
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        lengths = _value_lengths(column)
        if lengths is None or not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            continue
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > max_field_bytes:
            row = first_row + pc.index(lengths, longest).as_py()
            raise file_error(
                filename,
                f"row {row + 1}, column {normalise_header(name)}: a value of {longest} bytes is over the "
                f"{max_field_bytes}-byte limit for one field",
                column=normalise_header(name),
            )
