"""Reading text files and tabular records the way real exports write them.

- Text is UTF-8; a leading byte-order mark (Excel writes one) is ignored.
- JSONL is split on ``\\n`` only (``\\r\\n`` is tolerated): U+2028, U+2029, U+0085 and the other characters
  :meth:`str.splitlines` treats as line breaks are legal inside a JSON string, and
  :func:`~.workspace.write_jsonl` writes them raw.
- CSV: the delimiter (``,`` ``;`` tab ``|``) is read off the header row, fields up to
  :data:`CSV_FIELD_LIMIT` characters are read (the csv module stops at 128 KiB), and a parse error is an
  :class:`InputError` naming the line.
- Parquet: a file that is not readable Parquet is an :class:`InputError`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

#: Longest CSV field read (characters). A ticket body with a long quoted e-mail thread passes 128 KiB.
CSV_FIELD_LIMIT = 16 * 1024 * 1024
#: Delimiters a CSV header is tried with, in order of preference on a tie.
CSV_DELIMITERS = (",", ";", "\t", "|")
_BOM = "\ufeff"


def read_text(path: Path) -> str:
    """The file as text: UTF-8, a leading BOM dropped. Undecodable bytes raise :class:`InputError` naming
    the line."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte {e.start}: {e.reason})", path=path, line=line) from None
    return text.removeprefix(_BOM)


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` split on ``\\n`` only, a trailing ``\\r`` removed (never :meth:`str.splitlines`)."""
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


def iter_jsonl(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for every non-blank line of a UTF-8 file, split by :func:`split_lines`."""
    for n, line in enumerate(split_lines(read_text(path)), start=1):
        if line.strip():
            yield n, line.strip()


def parse_json_object(path: Path, n: int, line: str) -> dict:
    """One JSONL line as an object; anything else raises :class:`InputError` naming the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=path, line=n) from None
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=n)
    return obj


def detect_format(path: Path, fmt: str) -> str:
    """``fmt``, or for ``auto`` the format the extension says (``jsonl``, ``csv``, ``parquet``)."""
    if fmt != "auto":
        return fmt
    by_suffix = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
    found = by_suffix.get(path.suffix.lower())
    if found is None:
        raise InputError("cannot tell the format from the extension; set format = 'jsonl'|'csv'|'parquet'",
                         path=path)
    return found


def read_records(path: Path, fmt: str = "auto", *, expected: tuple[str, ...] = ()
                 ) -> Iterator[tuple[int, object]]:
    """(line, record-or-error-string) from JSONL, CSV or Parquet (``auto``: by extension).

    A line that is no record (malformed JSON, not an object, a CSV row with extra values) comes as an
    error string for a tolerant loader to count. ``expected``: field names the CSV header should hold,
    which decides its delimiter. A CSV parse error or an unreadable Parquet file raises
    :class:`InputError`.
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt == "jsonl":
        for n, line in iter_jsonl(path):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, f"malformed JSON ({e.msg})"
                continue
            yield n, obj if isinstance(obj, dict) else "not a JSON object"
    elif fmt == "csv":
        yield from _csv_records(path, read_text(path), expected)
    elif fmt == "parquet":
        import polars as pl

        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError, ValueError) as e:
            first = str(e).strip().split("\n")[0][:200]
            what = f"{type(e).__name__}: {first}"
            raise InputError(f"not a readable Parquet file ({what})", path=path) from None
        for n, row in enumerate(frame.iter_rows(named=True), start=1):
            yield n, row
    else:
        raise InputError(f"unknown format {fmt!r}; use 'jsonl', 'csv' or 'parquet'", path=path)


def csv_delimiter(header: str, expected: tuple[str, ...] = ()) -> str:
    """The delimiter of a CSV header row: the one that yields most of the ``expected`` names, then most
    columns; ``,`` when nothing splits it."""
    best, best_score = ",", (-1, -1)
    for d in CSV_DELIMITERS:
        cols = [c.strip() for c in next(csv.reader([header], delimiter=d), [])]
        score = (sum(name in cols for name in expected), len(cols))
        if score > best_score:
            best, best_score = d, score
    return best


@contextlib.contextmanager
def _field_limit(limit: int):
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_records(path: Path, text: str, expected: tuple[str, ...]) -> list[tuple[int, object]]:
    header_line = split_lines(text)[0] if text else ""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(header_line, expected))
    out: list[tuple[int, object]] = []
    start = 1
    with _field_limit(CSV_FIELD_LIMIT):
        try:
            header = [h.strip() for h in next(reader, [])]
            start = reader.line_num + 1
            for row in reader:
                n, start = start, reader.line_num + 1
                if not row or not any(c.strip() for c in row):
                    continue
                if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
                    out.append((n, f"{len(row)} values but the header has {len(header)} columns"))
                    continue
                out.append((n, dict(zip(header, row + [None] * (len(header) - len(row)), strict=False))))
        except csv.Error as e:
            if "field larger than field limit" in str(e):
                msg = f"a field is longer than {CSV_FIELD_LIMIT:,} characters (an unclosed quote?)"
            else:
                msg = f"CSV parse error: {e}"
            raise InputError(msg, path=path, line=start) from None
    return out


# --------------------------------------------------------------------------------------------------
# Values as exports write them: null, "", NaN (pandas' missing value), numbers as text


def is_missing(v: object) -> bool:
    """``None``, a blank string or a float NaN: what exports write for "no value"."""
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v))


def text_or_none(v: object) -> str | None:
    """A value as text, ``None`` when missing (never the string ``"None"``)."""
    return None if is_missing(v) else str(v).strip()


def _number(v: object, name: str) -> float | None:
    if is_missing(v):
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"field '{name}': expected a number, got {type(v).__name__}")
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"field '{name}': not a number: {v!r}") from None
    if math.isnan(x):
        return None
    if math.isinf(x):
        raise ValueError(f"field '{name}': not a finite number: {v!r}")
    return x


def whole_number(v: object, name: str) -> int | None:
    """A whole number (``3``, ``3.0``, ``"3"``), ``None`` when missing; else ``ValueError`` naming
    ``name``."""
    x = _number(v, name)
    if x is None:
        return None
    if not x.is_integer():
        raise ValueError(f"field '{name}': not a whole number: {v!r}")
    return int(x)


def seconds(v: object, name: str) -> float | None:
    """A duration >= 0, ``None`` when missing or NaN; infinite or negative values raise ``ValueError``
    naming ``name``."""
    x = _number(v, name)
    if x is not None and x < 0:
        raise ValueError(f"field '{name}': negative seconds: {v!r}")
    return x
