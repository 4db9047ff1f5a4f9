"""A corpus of broken transaction files, each with what the CLI must do with it.

Every case is written by code (no binary files in the repository) into a temporary folder. A case
is either refused as a whole (exit code 2 and a message fragment that names the file's problem and,
where it has one, the line or the option that fixes it), or its rows are checked one by one: the
bad rows named per (field, rule) with their row numbers, the good ones kept, and, where reading a
value could silently change it, the values of the kept rows (first/last timestamp, revenue).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

HEADER = ("customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price")
GOOD = (
    ("c1", "p1", "o1", "2024-03-01 09:00", "2", "9.50"),
    ("c2", "p2", "o2", "2024-03-02 10:00", "1", "4.00"),
)


def csv_text(*rows: tuple[str, ...], header: tuple[str, ...] = HEADER, sep: str = ",", good: bool = True) -> str:
    """A CSV file's text: the header, the two good rows (unless not ``good``), then ``rows``."""
    lines = [header, *(GOOD if good else ()), *rows]
    return "".join(sep.join(line) + "\n" for line in lines)


def row(timestamp: str = "2024-03-03 11:00", quantity: str = "1", price: str = "2.00", **ids: str) -> tuple[str, ...]:
    """A data row that is good except for what is given."""
    return (ids.get("customer", "c3"), ids.get("product", "p3"), ids.get("order", "o3"), timestamp, quantity, price)


@dataclass(frozen=True)
class Refused:
    """The whole file is refused: exit 2, every fragment in the message."""

    fragments: tuple[str, ...]


@dataclass(frozen=True)
class Checked:
    """Rows are checked: ``bad`` maps (field, rule fragment) to the 1-based rows that break it; with
    ``--quarantine`` the other ``kept`` rows stay, and ``summary`` holds values they must keep."""

    kept: int
    bad: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BadFile:
    """One kind of broken file: how to write it, the extra CLI options, what must happen."""

    name: str
    write: Callable[[Path], Path]
    expect: Refused | Checked
    options: tuple[str, ...] = ()


def text(content: str, suffix: str = ".csv", encoding: str = "utf-8") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / f"orders{suffix}"
        path.write_bytes(content.encode(encoding))
        return path

    return write


def raw_bytes(content: bytes, suffix: str = ".csv") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / f"orders{suffix}"
        path.write_bytes(content)
        return path

    return write


def parquet(**columns: list) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "orders.parquet"
        pd.DataFrame(columns).to_parquet(path)
        return path

    return write


def data_config(yaml_text: str, orders: bytes | None = csv_text().encode()) -> Callable[[Path], Path]:
    """A data config ``shop.yaml`` beside an ``orders.csv`` holding ``orders`` (none if ``None``)."""

    def write(folder: Path) -> Path:
        if orders is not None:
            (folder / "orders.csv").write_bytes(orders)
        path = folder / "shop.yaml"
        path.write_text(yaml_text)
        return path

    return write


def gzipped(content: bytes) -> Callable[[Path], Path]:
    return raw_bytes(content, ".csv.gz")


GOOD_PARQUET = {
    "customer_id": ["c1", "c2"], "product_id": ["p1", "p2"], "order_id": ["o1", "o2"],
    "timestamp": pd.to_datetime(["2024-03-01", "2024-03-02"]).tolist(),
}
GOOD_REVENUE = 2 * 9.5 + 4.0


def dated(*timestamps: str) -> str:
    """A file whose rows differ only in their timestamps (one line of quantity 1 at price 1 each)."""
    rows = [(f"c{i}", f"p{i}", f"o{i}", stamp, "1", "1") for i, stamp in enumerate(timestamps, start=1)]
    return csv_text(*rows, good=False)


def read_dates(name: str, stamps: tuple[str, ...], first: str, last: str, options: tuple[str, ...] = ()) -> BadFile:
    """A file of good rows that differ in their timestamps, all kept, with the first and last dates
    they must be read as (a day/month swap or a wrong offset would move them)."""
    return BadFile(name, text(dated(*stamps)), Checked(kept=len(stamps), summary={"first": first, "last": last}), options)


CORPUS: list[BadFile] = [
    # --- the file itself ---------------------------------------------------------------------------
    BadFile("empty file", text(""), Refused(("orders.csv", "empty (0 bytes)"))),
    BadFile("blank lines only", text("\n\n\n"), Refused(("orders.csv", "no header line"))),
    BadFile("header only", text(",".join(HEADER) + "\n"), Refused(("header line but no data rows",))),
    BadFile(
        "latin-1 bytes",
        text(csv_text(row(customer="José")), encoding="latin-1"),
        Refused(("orders.csv: line 4", "not utf-8", "--encoding")),
    ),
    BadFile(
        "latin-1 bytes with --encoding latin-1",
        text(csv_text(row(customer="José")), encoding="latin-1"),
        Checked(kept=3),
        ("--encoding", "latin-1"),
    ),
    BadFile("unknown --encoding", text(csv_text()), Refused(("unknown encoding 'klingon'",)), ("--encoding", "klingon")),
    BadFile("UTF-16 with a byte-order mark", text(csv_text(row(customer="Zoë")), encoding="utf-16"), Checked(kept=3)),
    BadFile("UTF-8 byte-order mark", text(csv_text(), encoding="utf-8-sig"), Checked(kept=2, summary={"revenue": GOOD_REVENUE})),
    BadFile(
        "ragged row: a field too many",
        text(csv_text() + "c3,p3,o3,2024-03-03,1,2.00,extra\n"),
        Refused(("orders.csv: line 4: 7 fields where the header has 6",)),
    ),
    BadFile(
        "ragged row: a field too few",
        text(csv_text() + "c3,p3,o3,2024-03-03,1\n"),
        Refused(("line 4: 5 fields where the header has 6",)),
    ),
    BadFile(
        "unterminated quote",
        text(csv_text() + 'c3,"p3,o3,2024-03-03,1,2.00\nc4,p4,o4,2024-03-04,1,2.00\n'),
        Refused(("line 4: a quote opened on this line is never closed",)),
    ),
    BadFile("semicolon-separated", text(csv_text(sep=";")), Checked(kept=2, summary={"revenue": GOOD_REVENUE})),
    BadFile(
        "header and rows with different delimiters",
        text(";".join(HEADER) + "\n" + "".join(",".join(r) + "\n" for r in GOOD)),
        Refused(("line 2: 1 fields where the header has 6",)),
    ),
    BadFile(
        "missing required column",
        text(csv_text(*[r[:-1] for r in GOOD], header=HEADER[:-1], good=False)),
        Refused(("missing required column(s) ['unit_price']", "--map")),
    ),
    BadFile(
        "duplicate column names",
        text(csv_text(header=(*HEADER[:-1], "quantity"))),
        Refused(("line 1: column name(s) ['quantity'] appear more than once",)),
    ),
    BadFile("truncated gzip", gzipped(gzip.compress(csv_text().encode())[:30]), Refused(("not a readable gzip file",))),
    BadFile("not parquet at all", raw_bytes(b"customer_id,product_id\n", ".parquet"), Refused(("not a readable parquet file",))),
    BadFile(
        "parquet with booleans as quantities",
        parquet(**GOOD_PARQUET, quantity=[True, False], unit_price=[9.5, 4.0]),
        Refused(("'quantity' holds bool values where numbers are expected",)),
    ),
    BadFile(
        "parquet with numbers as timestamps",
        parquet(**{**GOOD_PARQUET, "timestamp": [1709280000, 1709366400]}, quantity=[2, 1], unit_price=[9.5, 4.0]),
        Refused(("column 'timestamp' holds numbers (int64)",)),
    ),
    BadFile(
        "parquet with text in the price column",
        parquet(**GOOD_PARQUET, quantity=[2, 1], unit_price=["9.50", "four"]),
        Checked(kept=1, bad={("unit_price", "not a number"): [2]}),
    ),
    # --- numbers ---------------------------------------------------------------------------------------
    BadFile("price 1e308", text(csv_text(row(price="1e308"))), Checked(kept=2, bad={("unit_price", "price above 1e+07 (limits.max_unit_price)"): [3]})),
    BadFile("quantity 1e20", text(csv_text(row(quantity="1e20"))), Checked(kept=2, bad={("quantity", "|quantity| above 1e+06"): [3]})),
    BadFile(
        "quantity +inf and -inf",
        text(csv_text(row(quantity="inf"), row(quantity="-inf", order="o4"))),
        Checked(kept=2, bad={("quantity", "not finite"): [3, 4]}),
    ),
    BadFile("price NaN", text(csv_text(row(price="NaN"))), Checked(kept=2, bad={("unit_price", "not a number"): [3]})),
    BadFile(
        "unit_cost inf",
        text(csv_text(*[(*r, "1.00") for r in GOOD], (*row(), "inf"), header=(*HEADER, "unit_cost"), good=False)),
        Checked(kept=2, bad={("unit_cost", "not finite"): [3]}),
    ),
    BadFile("negative price", text(csv_text(row(price="-3"))), Checked(kept=2, bad={("unit_price", "non-positive price"): [3]})),
    BadFile("zero quantity", text(csv_text(row(quantity="0"))), Checked(kept=2, bad={("quantity", "zero quantity"): [3]})),
    BadFile("quantity not a number", text(csv_text(row(quantity="two"))), Checked(kept=2, bad={("quantity", "not a number"): [3]})),
    BadFile(
        "empty and whitespace ids",
        text(csv_text(row(customer=""), row(product="   ", order="o4"))),
        Checked(kept=2, bad={("customer_id", "missing value"): [3], ("product_id", "missing value"): [4]}),
    ),
    BadFile(
        "discount above the line value",
        text(csv_text(*[(*r, "0") for r in GOOD], (*row(quantity="2", price="9.5"), "50"), header=(*HEADER, "discount"), good=False)),
        Checked(kept=2, bad={("discount", "discount exceeds line value"): [3]}),
    ),
    BadFile(
        "negative price and no discount column",
        text(csv_text(row(price="-3"))),
        Checked(kept=2, bad={("unit_price", "non-positive price"): [3]}),
    ),
    # --- duplicates ----------------------------------------------------------------------------------
    BadFile("exact duplicate line", text(csv_text(GOOD[0])), Checked(kept=2, bad={("row", "duplicate line"): [3]})),
    BadFile(
        "conflicting duplicates (same order and product, other quantity)",
        text(csv_text(("c1", "p1", "o1", "2024-03-01 09:00", "5", "9.50"))),
        Checked(kept=1, bad={("row", "conflicting duplicate"): [1, 3]}),
    ),
    # --- timestamps ----------------------------------------------------------------------------------
    BadFile("unparseable timestamp", text(csv_text(row(timestamp="yesterday"))), Checked(kept=2, bad={("timestamp", "unparseable timestamp"): [3]})),
    read_dates(
        "day-first dates", ("03/04/2024 10:00", "13/04/2024 11:00", "05/04/2024 12:00"),
        "2024-04-03 10:00:00", "2024-04-13 11:00:00",
    ),
    read_dates(
        "day-first export whose first rows read both ways",
        (*[f"{day:02d}/0{month}/2024" for month in (1, 2) for day in range(1, 13)], "28/02/2024"),
        "2024-01-01 00:00:00", "2024-02-28 00:00:00",
    ),
    read_dates("month-first dates", ("04/03/2024", "04/13/2024"), "2024-04-03 00:00:00", "2024-04-13 00:00:00"),
    BadFile(
        "ambiguous day/month order",
        text(dated("03/04/2024", "05/06/2024")),
        Refused(("row 1", "'03/04/2024'", "day/month or month/day", "--timestamp-format")),
    ),
    read_dates(
        "ambiguous order settled by --timestamp-format", ("03/04/2024", "05/06/2024"),
        "2024-04-03 00:00:00", "2024-06-05 00:00:00", ("--timestamp-format", "%d/%m/%Y"),
    ),
    BadFile(
        "a month-first --timestamp-format on a day-first file",
        text(dated("03/04/2024", "13/04/2024")),
        Refused(("the format '%m/%d/%Y' is month-first but row 2 ('13/04/2024') is not",)),
        ("--timestamp-format", "%m/%d/%Y"),
    ),
    BadFile(
        "day-first and month-first in one file",
        text(dated("13/04/2024", "04/13/2024")),
        Refused(("row 1 ('13/04/2024') is day-first but row 2 ('04/13/2024') is month-first", "--timestamp-format")),
    ),
    read_dates(
        "each row's own UTC offset", ("2024-01-02T10:00:00+02:00", "2024-01-02T10:00:00+05:00", "2024-01-02T10:00:00Z"),
        "2024-01-02 05:00:00", "2024-01-02 10:00:00",
    ),
    BadFile(
        "a naive timestamp among offsets",
        text(dated("2024-01-02T10:00:00+02:00", "2024-01-02 13:05", "2024-01-02T12:00:00+01:00")),
        Checked(kept=2, bad={("timestamp", "no UTC offset (other rows have one)"): [2]}, summary={"last": "2024-01-02 11:00:00"}),
    ),
    BadFile(
        "years 2099, 3000 and 1900",
        text(dated("2024-01-02", "2099-01-01", "3000-01-01", "1900-01-01")),
        Checked(kept=1, bad={("timestamp", "date after"): [2, 3], ("timestamp", "date before 1990-01-01"): [4]}),
    ),
    # --- data configs --------------------------------------------------------------------------------
    BadFile("data config with a typo key", data_config("source: orders.csv\ncolums: {}\n"), Refused(("shop.yaml", "colums", "Extra inputs"))),
    BadFile("data config naming a missing file", data_config("source: gone.csv\n", orders=None), Refused(("no file at", "gone.csv"))),
    BadFile("empty data config", data_config("", orders=None), Refused(("shop.yaml", "empty (0 bytes)"))),
    BadFile("data config that is not YAML", data_config("source: [orders.csv\n"), Refused(("shop.yaml: line 2", "not valid YAML"))),
    BadFile(
        "data config limits catch a price",
        data_config("source: orders.csv\nlimits: {max_unit_price: 5}\n"),
        Checked(kept=1, bad={("unit_price", "price above 5 (limits.max_unit_price)"): [1]}),
    ),
    BadFile(
        "data config with a Latin-1 file and its encoding",
        data_config("source: orders.csv\nencoding: latin-1\n", csv_text(row(customer="José")).encode("latin-1")),
        Checked(kept=3),
    ),
]
