"""``crm bench aftersales``: the churn model's gain from after-sales features on synthetic shops with a
known effect of open complaints on churn, and without it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.config import load_config
from training.console import console, step


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"seeds must be whole numbers separated by commas, got {text!r}", param_hint="--seeds") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise typer.BadParameter(f"give at least two distinct seeds, got {text!r}", param_hint="--seeds")
    return seeds


def bench(
    out: Annotated[Path, typer.Option("--out", help="JSON file for the figures")],
    seeds: Annotated[str, typer.Option("--seeds", help="Synthetic shops to run, e.g. '0,1,2,3,4'.")] = "0,1,2,3,4",
    complaint_hazard: Annotated[
        float, typer.Option("--complaint-hazard", help="Dropout hazard multiplier of an open complaint in the effect-on shops (> 1).")
    ] = 10.0,
    customers: Annotated[int, typer.Option("--customers", help="Customers per synthetic shop.")] = 3000,
    churn_config: Annotated[Path | None, typer.Option("--churn-config", help="YAML like configs/churn.yaml")] = None,
) -> None:
    """Fit churn with and without the after-sales features (support contacts, surveys) on synthetic
    shops where an open complaint multiplies the hazard of leaving (effect on) and where it does not
    (effect off, the same shops otherwise): test AUC with and without, the gain and its SE, over every
    test customer and over the active ones (a purchase in the 90 days before the cut). Writes JSON."""
    from engine.customers.config import ChurnConfig
    from engine.data.synthetic import SyntheticShopConfig
    from training.aftersales import bench_aftersales
    from training.tracking import write_json

    if complaint_hazard <= 1:
        raise typer.BadParameter(f"must be above 1, got {complaint_hazard}", param_hint="--complaint-hazard")
    chosen = _seeds(seeds)
    shop = SyntheticShopConfig(n_customers=customers, complaint_hazard=complaint_hazard)
    with step(f"after-sales bench on {len(chosen)} synthetic shops, effect on and off"):
        result = bench_aftersales(chosen, load_config(churn_config, ChurnConfig), shop)
    write_json(out, result)
    for arm in ("effect_on", "effect_off"):
        for population in ("all", "active"):
            row = result[arm][population]
            console.print(
                f"{arm} (complaint hazard x{result[arm]['complaint_hazard']:g}), {population} customers: AUC "
                f"{row['mean_auc_with']:.4f} with vs {row['mean_auc_without']:.4f} without after-sales features, "
                f"gain {row['mean_gain']:+.4f} +- {row['gain_se']:.4f} ({row['gain_in_se']:+.1f} SE)"
            )
    console.print(f"wrote {out}")
