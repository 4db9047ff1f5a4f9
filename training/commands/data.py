"""``crm data ...``: load, validate and describe a data source; and the data options every command
that reads data shares (:func:`takes_data`)."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.backend import active_backend
from engine.data.dataset import ShopData
from engine.data.schema import ValidationReport
from engine.data.sources import load_shop, parse_column_map
from training.console import console, step

app = typer.Typer(help="Load and validate transactions from any source.", no_args_is_help=True)

DATA_HELP = (
    "Source: completejourney | cdnow:PATH | movielens:PATH | synthetic[:SEED] | FILE.csv | FILE.csv.gz | "
    "FILE.parquet | DATA.yaml (source + column map)"
)
MapOption = Annotated[
    str | None,
    typer.Option("--map", help="Your column names to canonical ones, e.g. 'cust=customer_id,sku=product_id'."),
]
QuarantineOption = Annotated[
    Path | None,
    typer.Option(
        "--quarantine",
        help="Set bad rows aside in this CSV file and go on (default for your own files: stop on bad rows).",
    ),
]
TimestampFormatOption = Annotated[
    str | None,
    typer.Option(
        "--timestamp-format",
        help="strftime format of the timestamp column, e.g. '%d/%m/%Y %H:%M'; needed when dates like "
        "03/04/2024 could be day- or month-first (default: ISO 8601 or the order the file proves).",
    ),
]
EncodingOption = Annotated[
    str | None,
    typer.Option("--encoding", help="Text encoding of your CSV/YAML files, e.g. latin-1 (default: UTF-8)."),
]


@dataclass(frozen=True)
class DataArgs:
    """The data options of one command line, as :func:`takes_data` hands them to a command."""

    data: str
    column_map: str | None = None
    quarantine: Path | None = None
    timestamp_format: str | None = None
    encoding: str | None = None

    def cli_options(self) -> list[str]:
        """The same options as command-line words, for a ``crm`` command run as a subprocess."""
        given = {"--data": self.data, "--map": self.column_map, "--quarantine": self.quarantine,
                 "--timestamp-format": self.timestamp_format, "--encoding": self.encoding}
        return [word for option, value in given.items() if value is not None for word in (option, str(value))]

    def load(self, include_promotions: bool = False) -> ShopData:
        """Load a shop the way every command does, writing quarantined rows to ``quarantine`` if given."""
        with step(f"loading and validating {self.data}"):
            shop = load_shop(
                self.data,
                column_map=parse_column_map(self.column_map),
                on_bad_rows="quarantine" if self.quarantine else None,
                timestamp_format=self.timestamp_format,
                include_promotions=include_promotions,
                encoding=self.encoding,
            )
        for report in shop.reports:
            if report.rows_quarantined:
                console.print(report.summary())
        if self.quarantine:
            write_quarantine(shop.reports, self.quarantine)
        if active_backend().read_lines_from_file(shop) and shop.transactions_file is not None:
            console.print(f"engine: the verbs read the lines from {shop.transactions_file.path} itself, not from a copy")
        return shop


def write_quarantine(reports: list[ValidationReport], path: Path) -> None:
    """Write the rows the reports set aside (with their table, row number and problems) to one CSV, a
    cell that a spreadsheet would run as a formula made inert (:mod:`engine.spreadsheet`): the rows
    are bad input, possibly hostile, and the file is meant to be opened by a person."""
    quarantined = [r.quarantined.assign(table=r.table) for r in reports if r.rows_quarantined]
    if quarantined:
        import pandas as pd

        from engine.spreadsheet import neutralise_frame

        path.parent.mkdir(parents=True, exist_ok=True)
        neutralise_frame(pd.concat(quarantined, ignore_index=True)).to_csv(path, index=False)
        console.print(f"quarantined rows written to {path}")


def takes_data(default: str = "completejourney", help_text: str = DATA_HELP) -> Callable[[Callable], Callable]:
    """Give a command the shared data options (``--data --map --quarantine --timestamp-format
    --encoding``), declared once here; the command takes them as one ``source: DataArgs`` parameter.

    One definition, so that every command that reads data reads it the same way and a new option
    reaches all of them."""
    shared = {
        "data": (Annotated[str, typer.Option("--data", help=help_text)], default),
        "column_map": (MapOption, None),
        "quarantine": (QuarantineOption, None),
        "timestamp_format": (TimestampFormatOption, None),
        "encoding": (EncodingOption, None),
    }

    def decorate(command: Callable) -> Callable:
        def run(command: Callable, options: dict[str, Any]) -> Any:
            return command(source=DataArgs(**options.pop("shared")), **options)

        return with_options(command, shared, run, hidden=("source",))

    return decorate


def with_options(
    command: Callable,
    shared: dict[str, tuple[Any, Any]],
    run: Callable[[Callable, dict[str, Any]], Any],
    hidden: tuple[str, ...] = (),
) -> Callable:
    """``command`` with the typer options ``shared`` ({name: (annotation, default)}) added to its
    own (less the ``hidden`` parameters ``run`` fills in); ``run(command, options)`` calls it, the
    shared options' values gathered under ``options["shared"]``."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name not in hidden]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value, annotation=annotation)
        for name, (annotation, value) in shared.items()
    ]

    @functools.wraps(command)
    def wrapped(**options: Any) -> Any:
        options["shared"] = {name: options.pop(name) for name in shared}
        return run(command, options)

    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
    wrapped.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapped.__annotations__ = {p.name: p.annotation for p in parameters}
    del wrapped.__wrapped__  # typer must see the new signature, not the command's
    return wrapped


@app.command()
@takes_data()
def validate(source: DataArgs) -> None:
    """Check a source against the data contract and report every bad row with the rule it breaks.

    Exits 2 if any row is bad and no --quarantine file was given. Prints the summary as JSON.
    """
    shop = source.load()
    typer.echo(json.dumps(shop.summary(), indent=2, allow_nan=False))
