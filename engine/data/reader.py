"""One reader for every file a user gives: tables (CSV, csv.gz, parquet) and YAML data configs.

Whatever goes wrong with the file itself ends as a :class:`FileReadError` that names the file and,
where it has one, the line, the column or the option that fixes it -- never a pandas or pyarrow
traceback:

- an empty file (or a CSV with a header and no data rows) is refused by name;
- text must be UTF-8 unless an ``encoding`` is stated (CLI ``--encoding``, data config ``encoding:``);
  a byte-order mark states it too (UTF-8 or UTF-16 with a BOM are read as such); any other undecodable
  byte is refused with its line and the option to use;
- CSV dialect errors (a row with more or fewer fields than the header, a quote never closed) are
  refused with the line number, because a shifted row cannot be trusted field by field;
- the delimiter is the one of ``, ; <tab> |`` that occurs most in the header line;
- duplicate column names are refused (pandas would silently rename the second to ``name.1``).

Reading stays one pandas C-parser pass on a clean file; the slower line-by-line scan runs only to
locate a problem the fast pass found (or hints at: missing values in the last column).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from engine.errors import EngineError

ENCODING_HELP = "--encoding (CLI) or `encoding:` (data config), e.g. latin-1 or cp1252"
_DELIMITERS = (",", ";", "\t", "|")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class FileReadError(EngineError, ValueError):
    """A file cannot be read as the table or config it should be; the message names file and line."""


def read_table(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV (optionally gzip-compressed) or parquet file as text columns (CSV) or its stored
    types (parquet), refusing empty, undecodable and malformed files with a message (module doc)."""
    require_content(path)
    if path.name.endswith((".parquet", ".pq")):
        return _read_parquet(path)
    return _read_csv(path, encoding)


def read_yaml(path: Path, encoding: str | None = None) -> Any:
    """Parse a YAML file; an empty file, bad bytes or a YAML syntax error name the file (and line)."""
    require_content(path)
    text = _decode(path, path.read_bytes(), encoding)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}: line {mark.line + 1}" if mark is not None else str(path)
        raise FileReadError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if document is None:
        raise FileReadError(f"{path}: the YAML file holds nothing (only comments or blank lines)")
    return document


def require_content(path: Path) -> None:
    """Refuse a path that is not a file, or an empty one, by name."""
    if not path.is_file():
        raise FileReadError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise FileReadError(f"{path}: the file is empty (0 bytes)")


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa

    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise FileReadError(f"{path}: not a readable parquet file ({error})") from None


def _raw_bytes(path: Path) -> bytes:
    if not path.name.endswith(".gz"):
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as error:
        raise FileReadError(f"{path}: not a readable gzip file ({error})") from None


def _encoding_of(data: bytes, encoding: str | None) -> str:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise FileReadError(f"unknown encoding {encoding!r} (given by {ENCODING_HELP})") from None
        return encoding
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return "utf-8"


def _decode(path: Path, data: bytes, encoding: str | None) -> str:
    name = _encoding_of(data, encoding)
    try:
        return data.decode(name)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        stated = "the stated" if encoding else "the default"
        raise FileReadError(
            f"{path}: line {line}: byte {data[error.start:error.start + 1]!r} is not {name} ({stated} "
            f"encoding); give the file's encoding with {ENCODING_HELP}"
        ) from None


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    text = _decode(path, _raw_bytes(path), encoding)
    if "\x00" in text:  # the CSV parser would silently cut the field there
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise FileReadError(f"{path}: line {line}: a NUL character (byte 0) inside the text; a text file has none")
    header = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header.count)
    names = next(csv.reader([header], delimiter=delimiter), [])
    if not text.strip() or not any(name.strip() for name in names):
        raise FileReadError(f"{path}: the file has no header line (it is blank)")
    repeated = sorted(name for name, n in Counter(name.strip() for name in names).items() if n > 1)
    if repeated:
        raise FileReadError(f"{path}: line 1: column name(s) {repeated} appear more than once in the header")
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, csv.Error) as error:
        raise FileReadError(f"{path}: {_dialect_problem(text, delimiter, len(names), str(error))}") from None
    if table.empty:
        raise FileReadError(f"{path}: the file has a header line but no data rows")
    # pandas pads a row with too few fields with missing values: look for one only if the last column
    # has a missing value at all (a short row always leaves it empty)
    if table.iloc[:, -1].isna().any():
        short = _dialect_problem(text, delimiter, len(names), "")
        if short:
            raise FileReadError(f"{path}: {short}")
    return table


def _dialect_problem(text: str, delimiter: str, n_fields: int, parser_message: str) -> str:
    """Scan the rows to name the first line whose field count differs from the header's, or the line
    where a never-closed quote starts; '' if every row is well formed."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    start, first_bad, last_start = 1, None, 1
    for record in reader:
        if record and len(record) != n_fields and first_bad is None:
            first_bad = (start, len(record))
        last_start, start = start, reader.line_num + 1
    if "EOF inside string" in parser_message:
        # Python's csv reads an unclosed quote to the end of the file: it is the last record
        return f"line {last_start}: a quote opened on this line is never closed"
    if first_bad is not None:
        line, count = first_bad
        return (
            f"line {line}: {count} fields where the header has {n_fields} "
            "(a ragged row: a missing or extra delimiter, or an unquoted delimiter in a value)"
        )
    return f"not a well-formed CSV file ({parser_message})" if parser_message else ""
