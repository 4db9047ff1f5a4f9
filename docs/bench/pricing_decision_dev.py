"""The optimizer's decision rule on the development designs, without refitting the estimators for each rule.

``fit`` fits every development design on the given seeds once, as ``crm bench pricing`` does
(:func:`engine.pricing.fit.fit_pricing` with the bench's config), and pickles (a private cache of this
script's own results) what the optimizer is built from: its elasticity table with the bias-aware
intervals, the product facts and the cross-price table, with the shop's truth, the holdout weeks and the
constrained oracle's profit. ``eval`` rebuilds the optimizer from those pickles under each named policy
(configs/pricing.yaml's, with the named fields changed), simulates it forward as the bench does
(:mod:`engine.pricing.simulate`) and prints one JSON line per policy: profit vs the constrained oracle
per design (mean and SE over seeds, the paired difference from the first policy and its SE) and per seed.
On seeds 0-2 it reproduces the bench's figures. Another version's rule is measured by running this file
from that version's checkout with ``PYTHONPATH`` set to it.

Usage: pricing_decision_dev.py fit CACHE_DIR SEEDS                 (e.g. /tmp/fits 0,1,2,3,4,5)
       pricing_decision_dev.py eval CACHE_DIR SEEDS NAME=JSON ...  (JSON: PricingPolicy fields, e.g. '{"risk_aversion": 1}')
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pandas as pd

from engine.data.synthetic import generate_shop
from engine.pricing import panel as P
from engine.pricing.designs import DEVELOPMENT
from engine.pricing.facts import CURRENT_PRICE
from engine.pricing.fit import fit_pricing
from engine.pricing.guardrails import PricingPolicy
from engine.pricing.optimizer import PriceOptimizer
from engine.pricing.simulate import constrained_oracle_step, optimizer_step, simulate
from training.config import load_config
from training.pricing import PricingConfig


def fit(cache: Path, seeds: list[int]) -> None:
    config = load_config(Path("configs/pricing.yaml"), PricingConfig)
    cache.mkdir(parents=True, exist_ok=True)
    for design in [d for d in config.bench.designs if d.split == DEVELOPMENT]:
        for seed in seeds:
            shop = generate_shop(design.shop_config(seed, config.bench.shop))
            run = fit_pricing(shop, config.model_copy(update={"seed": seed, "estimators": config.bench.estimators}), complete=False)
            optimizer = run.optimizer
            weeks = sorted(run.holdout[P.WEEK].unique())
            oracle = simulate(constrained_oracle_step(optimizer, shop.truth), shop.truth, weeks, optimizer.facts_[CURRENT_PRICE])
            saved = dict(table=run.elasticities, facts=optimizer.facts_, cross=run.cross_price, truth=shop.truth, weeks=weeks,
                         oracle=oracle.profit)
            (cache / f"{design.name}_{seed}.pkl").write_bytes(pickle.dumps(saved))
            print(design.name, seed, run.chosen, flush=True)


def evaluate(cache: Path, seeds: list[int], policies: dict[str, dict[str, object]]) -> None:
    config = load_config(Path("configs/pricing.yaml"), PricingConfig)
    rows = []
    for path in sorted(cache.glob("*.pkl")):
        design, seed = path.stem.rsplit("_", 1)
        if int(seed) not in seeds:
            continue
        saved = pickle.loads(path.read_bytes())
        for name, update in policies.items():
            policy = PricingPolicy(**{**config.policy.model_dump(), **update})
            optimizer = PriceOptimizer(policy).fit(saved["table"], saved["facts"], cross_price=saved["cross"])
            run = simulate(optimizer_step(optimizer), saved["truth"], saved["weeks"], saved["facts"][CURRENT_PRICE])
            rows.append(dict(design=design, seed=int(seed), policy=name, ratio=run.profit / saved["oracle"], violations=run.violations))
    frame = pd.DataFrame(rows)
    first = next(iter(policies))
    wide = frame.pivot_table(index=["design", "seed"], columns="policy", values="ratio")
    for name in policies:
        gap = (wide[name] - wide[first]).groupby("design")
        summary = wide[name].groupby("design").agg(["mean", "sem"]).assign(gap=gap.mean(), gap_se=gap.sem())
        print(json.dumps({"policy": name, "mean": round(float(wide[name].mean()), 4),
                          "violations": int(frame.loc[frame["policy"] == name, "violations"].sum()),
                          "designs": {d: [round(float(v), 4) for v in r] for d, r in summary.iterrows()},
                          "per_seed": {d: {int(k): round(float(v), 5) for k, v in r.items()} for d, r in wide[name].unstack().iterrows()}}),
              flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "fit":
        fit(Path(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")])
    else:
        policies = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[4:])}
        evaluate(Path(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], policies)
