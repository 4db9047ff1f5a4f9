"""``crm data ...``: load, validate and describe a data source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.data.dataset import ShopData
from engine.data.sources import load_shop, parse_column_map
from training.console import console, step

app = typer.Typer(help="Load and validate transactions from any source.", no_args_is_help=True)

DataOption = Annotated[
    str,
    typer.Option(
        "--data",
        help="Source: completejourney | cdnow:PATH | movielens:PATH | synthetic[:SEED] | FILE.csv | FILE.parquet | DATA.yaml (source + column map)",
    ),
]
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
    str | None, typer.Option("--timestamp-format", help="strftime format of the timestamp column, if not ISO.")
]


def load_from_cli(
    data: str,
    column_map: str | None = None,
    quarantine: Path | None = None,
    timestamp_format: str | None = None,
    include_promotions: bool = False,
) -> ShopData:
    """Load a shop the way every command does, writing quarantined rows to ``quarantine`` if given."""
    with step(f"loading and validating {data}"):
        shop = load_shop(
            data,
            column_map=parse_column_map(column_map),
            on_bad_rows="quarantine" if quarantine else None,
            timestamp_format=timestamp_format,
            include_promotions=include_promotions,
        )
    for report in shop.reports:
        if report.rows_quarantined:
            console.print(report.summary())
    if quarantine:
        quarantined = [r.quarantined.assign(table=r.table) for r in shop.reports if r.rows_quarantined]
        if quarantined:
            import pandas as pd

            quarantine.parent.mkdir(parents=True, exist_ok=True)
            pd.concat(quarantined, ignore_index=True).to_csv(quarantine, index=False)
            console.print(f"quarantined rows written to {quarantine}")
    return shop


@app.command()
def validate(
    data: DataOption,
    column_map: MapOption = None,
    quarantine: QuarantineOption = None,
    timestamp_format: TimestampFormatOption = None,
) -> None:
    """Check a source against the data contract and report every bad row with the rule it breaks.

    Exits 1 if any row is bad and no --quarantine file was given.
    """
    shop = load_from_cli(data, column_map, quarantine, timestamp_format)
    typer.echo(json.dumps(shop.summary(), indent=2))
