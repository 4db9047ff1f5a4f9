"""The rankers with and without product categories on Complete Journey's development cuts (never the
bench's): each ranker, with the bench config's parameters, is fitted on the lines before the cut and
scored on the next 8 weeks (nDCG@10 with the project's metrics); prints each one's value and the paired
per-customer gap with categories, with its standard error, as one JSON line per cut and task.
See README.md, "Product categories".

Usage: recommender_categories_dev.py [CUT ...]   (default: 2017-05-23 2017-04-25)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from engine.data.columns import Columns
from engine.data.sources import load_shop
from engine.data.split import TimeSplit
from engine.recommend.comparison import standard_error
from engine.recommend.evaluation import relevant_items
from engine.recommend.metrics import customer_values
from engine.recommend.registry import make_recommender
from training.recommender_config import load_config
from training.recommender_protocol import fitted_lines

HOLDOUT_DAYS = 56
RANKERS = {"repeat": "repeat_ranker", "discovery": "discovery_ranker"}


def main(cuts: list[str]) -> None:
    config = load_config(Path("configs/recommender_bench.yaml"))
    lines = fitted_lines(load_shop("completejourney"))
    plain = lines.drop(columns=[Columns.category, Columns.sub_category])
    min_item_buyers = config.time.catalogue_threshold(lines[Columns.customer].nunique())
    params = {
        "repeat": {**config.repeat_rankers[0], "min_item_buyers": 1, "random_state": config.seed},
        "discovery": {**config.candidates["discovery_ranker"][0], "min_item_buyers": min_item_buyers, "random_state": config.seed},
    }
    for cut in cuts:
        split = TimeSplit.at(pd.Timestamp(cut), HOLDOUT_DAYS)
        for task, kind in RANKERS.items():
            relevant = relevant_items(split.holdout(lines), split.calibration(lines), task)  # type: ignore[arg-type]
            values = {}
            for label, fit in (("without", plain), ("with", lines)):
                model = make_recommender(kind, params[task]).fit(split.calibration(fit), as_of=split.as_of)
                lists = {r.subject: r.item_ids for r in model.recommend(list(relevant), k=config.k, task=task)}  # type: ignore[arg-type]
                values[label] = customer_values(lists, relevant, config.k, "ndcg")
            gap = values["with"] - values["without"]
            print(json.dumps({
                "cut": cut, "task": task, "model": kind, "customers": len(gap),
                **{f"ndcg_{label}_categories": round(float(v.mean()), 4) for label, v in values.items()},
                "gap": round(float(gap.mean()), 4), "gap_se": round(standard_error(gap), 4),
                "gap_in_se": round(float(gap.mean() / standard_error(gap)), 1),
            }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["2017-05-23", "2017-04-25"])
