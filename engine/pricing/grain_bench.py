"""The grain check on wholesale shops whose true elasticities are known (:mod:`engine.data.wholesale`):
per seed, whether the engine warns, and the median elasticity of the weekly average price, of the weekly
posted price (what the pipeline uses when it warns), and of the daily-grain cross-checks on order lines
and on units (:func:`engine.pricing.grain.daily_elasticities`), with the gaps the target speaks of
(``|weekly posted - daily|`` <= 0.5). Development seeds and held-out seeds are summarised apart (mean and
standard error). Run ``python -m engine.pricing.grain_bench`` (about a minute a seed on one core).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import pandas as pd

from engine.data.wholesale import WholesaleShopConfig, generate_wholesale_shop
from engine.pricing import panel as P
from engine.pricing.dml import DoubleML
from engine.pricing.grain import daily_elasticities, price_dispersion

DEVELOPMENT_SEEDS = (0, 1)
HELD_OUT_SEEDS = (2, 3, 4)
TARGET_GAP = 0.5


def _median(table: pd.DataFrame) -> float:
    return float(table["elasticity"].median())


def grain_figures(seed: int) -> dict[str, Any]:
    """One wholesale shop's figures (see the module docstring)."""
    shop = generate_wholesale_shop(WholesaleShopConfig(seed=seed))
    dispersion = price_dispersion(shop.transactions)

    def weekly(basis: P.PriceBasis) -> float:
        panel = P.build_panel(shop.transactions, shop.products, price_basis=basis)
        return _median(DoubleML(seed=0, n_folds=3, n_estimators=80).fit(panel).elasticity_table())

    truth, posted = float(shop.truth.elasticity.median()), weekly("posted")
    lines = _median(daily_elasticities(shop.transactions, shop.products, "order_lines"))
    units = _median(daily_elasticities(shop.transactions, shop.products, "units"))
    figures: dict[str, Any] = {
        "seed": seed,
        "truth": truth,
        "warned": dispersion.unsafe,
        "warning": dispersion.message(),
        "weekly_average": weekly("paid"),
        "weekly_posted": posted,
        "daily_order_lines": lines,
        "daily_units": units,
        "gap_posted_vs_daily_order_lines": abs(posted - lines),
        "gap_posted_vs_daily_units": abs(posted - units),
        "error_posted_vs_truth": abs(posted - truth),
        "error_daily_order_lines_vs_truth": abs(lines - truth),
    }
    return figures


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": [r["seed"] for r in rows], "warned": sum(r["warned"] for r in rows)}
    for key in ("gap_posted_vs_daily_order_lines", "gap_posted_vs_daily_units", "error_posted_vs_truth", "error_daily_order_lines_vs_truth"):
        values = np.array([r[key] for r in rows], dtype=float)
        se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None
        out[key] = {"mean": float(values.mean()), "se": se, "max": float(values.max())}
    out["within_target_order_lines"] = int(sum(r["gap_posted_vs_daily_order_lines"] <= TARGET_GAP for r in rows))
    out["within_target_units"] = int(sum(r["gap_posted_vs_daily_units"] <= TARGET_GAP for r in rows))
    return out


def grain_bench(development: tuple[int, ...] = DEVELOPMENT_SEEDS, held_out: tuple[int, ...] = HELD_OUT_SEEDS) -> dict[str, Any]:
    """Every seed's figures and the summaries of the development and held-out seeds."""
    rows = {seed: grain_figures(seed) for seed in (*development, *held_out)}
    return {
        "target_gap": TARGET_GAP,
        "per_seed": list(rows.values()),
        "development": _summary([rows[s] for s in development]) if development else None,
        "held_out": _summary([rows[s] for s in held_out]) if held_out else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--development", default=",".join(map(str, DEVELOPMENT_SEEDS)))
    parser.add_argument("--held-out", default=",".join(map(str, HELD_OUT_SEEDS)))
    args = parser.parse_args()
    seeds = (tuple(int(s) for s in args.development.split(",") if s), tuple(int(s) for s in args.held_out.split(",") if s))
    print(json.dumps(grain_bench(*seeds), indent=2))
