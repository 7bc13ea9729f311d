"""Reading uploaded files, without a database: what a file may expand to (Parquet's own
compression and encodings held to IMPORT_MAX_UNCOMPRESSED_MB like gzip), lines too long for a
block, and the rereads a CSV's late-changing types may cost."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bi_agent.catalog import files
from bi_agent.catalog.files import OnError, ParsedFile, read_file
from bi_agent.errors import InvalidInputError, PayloadTooLargeError

MAX_FIELD_BYTES = 256 << 10
LIMIT = 1 << 20
# What Arrow may allocate while a bomb is refused: a few batches of what the file holds, not what it decodes to.
MEMORY_BOUND_BYTES = 32 << 20


def read(path: Path, *, keep_rows: bool = True, limit: int = LIMIT) -> ParsedFile:
    return read_file(
        path,
        path.name,
        on_error=OnError.FAIL,
        max_field_bytes=MAX_FIELD_BYTES,
        max_uncompressed_bytes=limit,
        column_types=None,
        keep_rows=keep_rows,
    )


def repeated(value: str, rows: int) -> pa.DictionaryArray:
    """`rows` copies of `value`, held once: a bomb is built without the memory it decodes to."""
    return pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array([value]))


def parquet_bomb(path: Path, *, arrow_dictionary: bool) -> None:
    """2,000 copies of a 200 KB value (400 MB decoded, each value under the field limit) in well
    under a kilobyte of zstd-compressed, dictionary- and run-length-encoded Parquet. Without the
    Arrow schema the column reads back as plain text, as from most writers."""
    table = pa.table({"a": repeated("x" * 200_000, 2000)})
    pq.write_table(table, path, compression="zstd", store_schema=arrow_dictionary)


def peak_arrow_memory(path: Path, *, keep_rows: bool) -> tuple[str, int]:
    """Read `path` in a fresh process: its refusal (or "read") and the most Arrow allocated."""
    script = f"""
import sys
from pathlib import Path
import pyarrow as pa
from bi_agent.catalog.files import OnError, read_file
try:
    read_file(Path(sys.argv[1]), sys.argv[2], on_error=OnError.FAIL, max_field_bytes={MAX_FIELD_BYTES},
              max_uncompressed_bytes={LIMIT}, column_types=None, keep_rows={keep_rows})
    print("read")
except Exception as error:
    print(type(error).__name__, error)
print(pa.default_memory_pool().max_memory())
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), path.name], capture_output=True, text=True, check=True, timeout=120
    )
    outcome, peak = done.stdout.strip().rsplit("\n", 1)
    return outcome, int(peak)


@pytest.mark.parametrize("keep_rows", [False, True], ids=["api-check", "worker-read"])
@pytest.mark.parametrize("arrow_dictionary", [False, True], ids=["text", "arrow-dictionary"])
def test_a_parquet_bomb_is_refused_at_the_limit_in_bounded_memory(
    tmp_path: Path, arrow_dictionary: bool, keep_rows: bool
) -> None:
    bomb = tmp_path / "bomb.parquet"
    parquet_bomb(bomb, arrow_dictionary=arrow_dictionary)
    assert bomb.stat().st_size < 1024
    outcome, peak = peak_arrow_memory(bomb, keep_rows=keep_rows)
    assert outcome == (
        "PayloadTooLargeError bomb.parquet: the Parquet data expands to more than 1 MB, the most a file may hold "
        "uncompressed (IMPORT_MAX_UNCOMPRESSED_MB); split the file"
    )
    assert peak < MEMORY_BOUND_BYTES, f"Arrow allocated {peak >> 20} MB"


def test_a_parquet_file_whose_metadata_passes_the_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three million copies of one number: a few kilobytes in the file, 24 MB decoded.
    path = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"n": pa.array([7] * 3_000_000)}), path, compression="zstd")
    assert path.stat().st_size < 64 << 10

    def no_batches(*args: object, **kwargs: object) -> object:
        raise AssertionError("the file was read")

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", no_batches)
    with pytest.raises(PayloadTooLargeError, match=r"the Parquet data expands to more than 1 MB"):
        read(path)


def test_a_gzipped_parquet_bomb_is_held_to_the_limit_too(tmp_path: Path) -> None:
    plain = tmp_path / "bomb.parquet"
    parquet_bomb(plain, arrow_dictionary=False)
    bomb = tmp_path / "bomb.parquet.gz"
    bomb.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(PayloadTooLargeError, match=r"bomb\.parquet\.gz: the Parquet data expands to more than 1 MB"):
        read(bomb, keep_rows=False)


def test_parquet_within_the_limit_reads_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small batches and several row groups, so the batch sizing and the decoding of text read as
    # dictionaries are exercised across batch and row-group boundaries.
    monkeypatch.setattr(files, "PARQUET_BATCH_BYTES", 4096)
    rows = 5000
    table = pa.table(
        {
            "Region": pa.array([["north", "south", None, "east"][i % 4] for i in range(rows)]),
            "Code": pa.array([f"c{i:05d}" for i in range(rows)], pa.large_string()),
            "Count": pa.array(range(rows), pa.int64()),
            "Share": pa.array([i / 7 for i in range(rows)]),
            "Flag": pa.array([i % 3 == 0 for i in range(rows)]),
        }
    )
    path = tmp_path / "visits.parquet"
    pq.write_table(table, path, row_group_size=1500)
    parsed = read(path, limit=64 << 20)
    expected = table.rename_columns(["region", "code", "count", "share", "flag"])
    assert parsed.num_rows == rows
    assert parsed.rows.schema == expected.schema
    assert parsed.rows.equals(expected)
    assert parsed.head.equals(expected.slice(0, files.HEAD_ROWS))


def test_a_value_over_the_field_limit_in_a_dictionary_is_refused_with_its_row(tmp_path: Path) -> None:
    values = ["short"] * 3000 + ["y" * (MAX_FIELD_BYTES + 1)] + ["short"] * 10
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"Note": pa.array(values)}), path)
    with pytest.raises(InvalidInputError, match=r"row 3001, column note: a value of 262145 bytes is over"):
        read(path, limit=64 << 20)


def gzip_of(path: Path, head: bytes, filler: bytes, size: int, tail: bytes) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    with path.open("wb") as target:
        target.write(compressor.compress(head))
        for _ in range(size // len(filler)):
            target.write(compressor.compress(filler))
        target.write(compressor.compress(tail) + compressor.flush())


@pytest.mark.parametrize(
    ("name", "head", "tail", "refusal"),
    [
        ("line.csv.gz", b"a,b\n1,", b"\n", "a row is larger than 8 MB"),
        ("quoted.csv.gz", b'a,b\n1,"', b'"\n', "a row is larger than 8 MB"),
        ("line.jsonl.gz", b'{"a": "', b'"}\n', "a line is larger than 8 MB"),
    ],
)
def test_one_enormous_line_is_refused_at_the_block_size(
    tmp_path: Path, name: str, head: bytes, tail: bytes, refusal: str
) -> None:
    # 24 MB on one line: Arrow reads in 8 MB blocks and a row must fit in one.
    path = tmp_path / name
    gzip_of(path, head, b"x" * (1 << 20), 24 << 20, tail)
    with pytest.raises(InvalidInputError, match=refusal):
        read(path, keep_rows=False, limit=64 << 20)


def late_text_csv(path: Path, columns: int, late: int, *, empty: int = 0, value: str = "1") -> None:
    """More than a block of `value` in `columns` columns (and `empty` columns left empty), then one
    row per column for the first `late` columns where it holds text."""
    names = [f"n{i}" for i in range(columns)] + [f"e{i}" for i in range(empty)]
    number = ",".join([value] * columns + [""] * empty) + "\n"
    with path.open("w") as target:
        target.write(",".join(names) + "\n")
        target.write(number * ((files.BLOCK_SIZE + (1 << 20)) // len(number)))
        for column in range(late):
            target.write(",".join(["t" if i == column else value for i in range(columns)] + ["x"] * empty) + "\n")


@pytest.mark.parametrize(("value", "data_type"), [("1", "bigint"), ("2024-01-01", "date")])
def test_late_text_in_a_few_columns_makes_them_text(tmp_path: Path, value: str, data_type: str) -> None:
    # Numbers are typed from all their values in one read; a late value in a date column costs a
    # reread; columns empty in the first block are read as text (or numbers) from the start.
    path = tmp_path / "late.csv"
    late_text_csv(path, columns=6, late=2, empty=8, value=value)
    parsed = read(path, keep_rows=False, limit=64 << 20)
    assert parsed.data_types == {
        **{f"n{i}": "text" if i < 2 else data_type for i in range(6)},
        **{f"e{i}": "text" for i in range(8)},
    }


def test_rereads_for_late_types_are_bounded(tmp_path: Path) -> None:
    # Every date column changes type at the end: one read per column before, at most CSV_READS now.
    path = tmp_path / "late.csv"
    late_text_csv(path, columns=8, late=8, value="2024-01-01")
    with pytest.raises(InvalidInputError, match=r"the column types are still changing after 4 reads of the file"):
        read(path, keep_rows=False, limit=64 << 20)


def test_late_text_in_number_columns_costs_no_reread(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    late_text_csv(path, columns=8, late=8)
    assert set(read(path, keep_rows=False, limit=64 << 20).data_types.values()) == {"text"}


def test_a_jsonl_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"a": i, "b": f"v{i}"}) + "\n" for i in range(10)))
    assert read(path).num_rows == 10


@pytest.mark.parametrize(
    ("name", "values", "data_type"),
    [
        ("zip", ["05415", "90210"], "text"),  # a leading zero: a code
        ("zip", ["90210", "10001"], "text"),  # one fixed length in a column named for codes
        ("member_id", ["100234", "100777"], "text"),
        ("amount", ["90210", "10001"], "bigint"),  # the same digits, named for a quantity
        ("visits", ["0", "12", "+3", "-0"], "bigint"),  # a lone 0 and signs are numbers
        ("money", ["0.50", "12.25", "7"], "numeric"),  # at most four decimals: exact
        ("dose", [".5", "1.", "0.0005"], "numeric"),
        ("ratio", ["0.00001", "1"], "double precision"),  # five decimals
        ("sci", ["1e3", "2.5"], "double precision"),
        ("beyond", ["1e400", "2"], "text"),  # past double precision: PostgreSQL would refuse it
        ("tiny", ["1e-400", "2"], "text"),
        ("huge", ["1234567890123456789", "1"], "numeric"),  # past bigint's digits
        ("thousands", ["1,234", "5"], "text"),
        ("padded", [" 12", "13"], "text"),
        ("empty", [], "text"),
    ],
)
def test_numbers_are_typed_by_all_their_text(tmp_path: Path, name: str, values: list[str], data_type: str) -> None:
    path = tmp_path / "values.csv"
    path.write_text(f"{name},other\n" + ("".join(f'"{value}",x\n' for value in values) or ",x\n"))
    parsed = read(path)
    assert parsed.data_types[name] == data_type
    # Whatever the type, the text reaches PostgreSQL as written.
    written: list[str | None] = [*values] or [None]
    assert parsed.rows.column(name).to_pylist() == written


def test_json_fractions_are_exact_in_their_shortest_text(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"zip": "05415", "money": 0.1, "sci": 1e-7, "n": 3}\n{"zip": "1", "money": 7407679.13, "sci": 2.5, "n": 4}\n'
    )
    parsed = read(path)
    assert parsed.data_types == {"zip": "text", "money": "numeric", "sci": "double precision", "n": "bigint"}
    assert parsed.rows.column("money").to_pylist() == ["0.1", "7407679.13"]


def test_a_nul_byte_past_the_first_block_is_refused_naming_its_row(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"a,b\n" + b"1,x\n" * 20_000 + b"2,y\x00z\n")
    with pytest.raises(InvalidInputError, match=r"row 20001, column b: a value holds a NUL byte"):
        read(path, keep_rows=False)
    jsonl = tmp_path / "nul.jsonl"
    jsonl.write_text('{"a": "x"}\n{"a": "y\\u0000z"}\n')
    with pytest.raises(InvalidInputError, match=r"row 2, column a: a value holds a NUL byte"):
        read(jsonl)


def test_system_column_names_are_renamed(tmp_path: Path) -> None:
    path = tmp_path / "box.csv"
    path.write_text("name,xmin,ymin,xmax,ymax,ctid\nparis,2.2,48.8,2.4,48.9,1\n")
    parsed = read(path)
    assert list(parsed.data_types) == ["name", "xmin_value", "ymin", "xmax_value", "ymax", "ctid_value"]
    assert parsed.mapping["xmin"] == "xmin_value"
