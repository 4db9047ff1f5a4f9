"""Wall and CPU seconds of fitting the served Complete Journey blend (discovery ranker, repeat ranker, ALS:
the configuration `crm train recommender` chose at 10x) with its parts in threads (``3``) or one after
another (``1``), and a fingerprint of the lists it gives 500 customers in both tasks (equal in both modes).

    OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0 .venv/bin/python docs/bench/blend_threads.py 3
"""

import concurrent.futures
import json
import resource
import sys
import time

import engine.recommend.blend as blend_module
from engine.data.sources import load_shop
from engine.recommend.registry import make_recommender

SPEC = json.loads("""{"kind": "blend", "params": {"collaborative": {"kind": "discovery_ranker", "params": {"candidates_per_source": 50, "label_days": 56, "label_windows": 2, "max_train_customers": 1000, "factors": 64, "regularization": 10.0, "neighbours": 100, "ease_regularization": 1000.0, "ease_items": 5000, "n_estimators": 150, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 200, "random_state": 42, "num_threads": 1, "min_item_buyers": 10, "value": "purchases"}}, "buy_again": {"kind": "repeat_ranker", "params": {"label_days": 28, "label_windows": 3, "max_candidates": 100, "n_estimators": 150, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 100, "random_state": 42, "num_threads": 1, "min_item_buyers": 1, "value": "purchases"}}, "weight": 0.1, "repeat_collaborative": {"kind": "als", "params": {"factors": 64, "regularization": 10.0, "iterations": 15, "weighting": "linear", "alpha": 1.0, "bm25_k1": 100.0, "bm25_b": 0.8, "random_state": 42, "num_threads": 0, "min_item_buyers": 10, "value": "purchases"}}}}""")


def main(workers: int) -> None:
    pool = concurrent.futures.ThreadPoolExecutor
    blend_module.ThreadPoolExecutor = lambda max_workers: pool(max_workers=workers)  # type: ignore[assignment,misc]
    transactions = load_shop("completejourney").transactions
    model = make_recommender(SPEC["kind"], SPEC["params"])
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(transactions)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    customers = list(model.customers_.external_ids[:500])
    lists = [tuple(r.item_ids) for task in ("repeat", "discovery") for r in model.recommend(customers, k=10, task=task)]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"workers": workers, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_mb": round(peak_mb),
                      "lists_hash": hash(tuple(lists))}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
