"""``crm segments``: RFM segments, loyalty tiers and the segment profile for every customer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, ClassVar

import pandas as pd
import typer
from pydantic import BaseModel, ConfigDict, Field
from rich.table import Table

from engine.customers.aftersales import AfterSales, aftersales_profile
from engine.customers.segments import DEFAULT_SEGMENT_RULES, SegmentRules, segment_profile
from engine.customers.tiers import TierConfig
from engine.customers.view import customer_view, default_as_of
from training.commands.data import DataArgs, takes_data
from training.commands.engine_options import takes_engine
from training.config import load_config
from training.console import console, step


class SegmentsConfig(BaseModel):
    """``configs/segments.yaml``: the segment rule table and the loyalty ladder."""

    model_config = ConfigDict(extra="forbid")
    default_file: ClassVar[str] = "segments.yaml"
    as_of: date | None = Field(None, description="score as of this date; default: the day after the last line")
    segments: SegmentRules = DEFAULT_SEGMENT_RULES
    tiers: TierConfig = Field(default_factory=TierConfig)


@takes_data()
@takes_engine
def segments(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Folder for customers.csv, segment_profile.csv, ...")] = Path("out/segments"),
    config: Annotated[Path | None, typer.Option("--config", help="YAML like configs/segments.yaml")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score as of this date (YYYY-MM-DD).")] = None,
) -> None:
    """Score every customer: RFM, named segment and loyalty tier; write them with the segment profile."""
    settings = load_config(config, SegmentsConfig)
    shop = source.load()
    moment = pd.Timestamp(as_of or settings.as_of or default_as_of(shop.transactions))
    with step(f"scoring {shop.transactions['customer_id'].nunique():,} customers as of {moment.date()}"):
        view = customer_view(shop.transactions, moment, settings.segments, settings.tiers)
        view = view.join(aftersales_profile(AfterSales.of(shop), moment, view.index))
        profile = segment_profile(view, view["segment"])
        tiers = view.groupby("tier").agg(customers=("tier", "size"), avg_window_value=("window_value", "mean"))
        tiers = tiers.reindex([t.name for t in settings.tiers.tiers]).fillna(0)
    out.mkdir(parents=True, exist_ok=True)
    view.round(4).to_csv(out / "customers.csv")
    profile.round(4).to_csv(out / "segment_profile.csv")
    tiers.to_csv(out / "tier_summary.csv")
    summary = {
        "as_of": str(moment.date()),
        "data": shop.summary(),
        "segments": profile["customers"].to_dict(),
        "tiers": tiers["customers"].astype(int).to_dict(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    _print_profile(profile, tiers)
    console.print(f"wrote {out}/customers.csv ({len(view):,} customers), segment_profile.csv, tier_summary.csv, summary.json")


def _print_profile(profile: pd.DataFrame, tiers: pd.DataFrame) -> None:
    table = Table(title="Segment profile")
    for column in ("segment", "customers", "% customers", "% revenue", "avg recency (d)", "avg orders", "avg spend"):
        table.add_column(column, justify="right" if column != "segment" else "left")
    for name, row in profile.iterrows():
        table.add_row(
            str(name), f"{row.customers:,.0f}", f"{row.share_customers:.1%}", f"{row.share_revenue:.1%}",
            f"{row.avg_recency_days:.0f}", f"{row.avg_frequency:.1f}", f"{row.avg_monetary:,.0f}",
        )
    console.print(table)
    console.print("Loyalty tiers: " + ", ".join(f"{name} {int(n):,}" for name, n in tiers["customers"].items()))


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="JSON file for the figures")] = Path("out/bench/segments.json"),
    repeats: Annotated[int, typer.Option(min=1, help="timed repetitions of each step; the median is kept")] = 3,
) -> None:
    """Time loading + validation, RFM + segments and tiers on a source; record peak memory (RSS)."""
    import resource
    import statistics
    import time

    from engine.customers.rfm import rfm_scores
    from engine.customers.segments import assign_segments
    from engine.customers.tiers import loyalty_tiers
    from training.tracking import write_json

    def timed(action):
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = action()
            seconds.append(time.perf_counter() - started)
        return result, statistics.median(seconds)

    shop, load_seconds = timed(source.load)
    moment = default_as_of(shop.transactions)
    _, rfm_seconds = timed(lambda: assign_segments(rfm_scores(shop.transactions, moment)))
    _, tier_seconds = timed(lambda: loyalty_tiers(shop.transactions, moment))
    result = {
        "dataset": source.data,
        "rows": len(shop.transactions),
        "customers": int(shop.transactions["customer_id"].nunique()),
        "load_and_validate_seconds": round(load_seconds, 3),
        "rfm_and_segments_seconds": round(rfm_seconds, 3),
        "tiers_seconds": round(tier_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "repeats": repeats,
    }
    write_json(out, result)
    typer.echo(json.dumps(result, indent=2))
