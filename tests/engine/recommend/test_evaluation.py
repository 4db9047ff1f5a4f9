"""Evaluation protocols: relevant items, the classic stratified split, and scoring a model."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.data.schema import validate_transactions
from engine.errors import EngineError
from engine.recommend.evaluation import evaluate_model, relevant_items, stratified_split
from engine.recommend.popularity import PopularityRecommender


def _lines(rows):
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    return validate_transactions(raw)[0]


def test_relevant_items_net_of_returns_and_new_only_for_discovery():
    history = _lines([("a", "x", "o1", "2024-01-01", 1, 1.0), ("b", "y", "o2", "2024-01-01", 1, 1.0)])
    holdout = _lines(
        [
            ("a", "x", "o3", "2024-02-01", 1, 1.0),
            ("a", "z", "o3", "2024-02-01", 1, 1.0),
            ("b", "z", "o4", "2024-02-01", 1, 1.0),
            ("b", "z", "o5", "2024-02-02", -1, 1.0),  # returned: not a purchase
            ("c", "y", "o6", "2024-02-02", 2, 1.0),
        ]
    )
    assert relevant_items(holdout, task="repeat") == {"a": {"x", "z"}, "c": {"y"}}
    assert relevant_items(holdout, history, "discovery") == {"a": {"z"}, "c": {"y"}}
    with pytest.raises(EngineError, match="history"):
        relevant_items(holdout, task="discovery")


def test_stratified_split_reproduces_microsoft_recommenders_by_hand():
    # seed 42 draws 0.375, 0.951, 0.732, 0.599, 0.156 for the lines in their order; within item x the
    # order by draw is lines 0, 3, 2, 1 with rank/size 0.25, 0.5, 0.75, 1.0: lines 0, 3, 2 train,
    # line 1 test; item y has one line, rank 1.0 > 0.75: test
    tx = _lines(
        [
            ("u1", "x", "o1", "2024-01-01", 1, 1.0),
            ("u2", "x", "o2", "2024-01-01", 1, 1.0),
            ("u3", "x", "o3", "2024-01-01", 1, 1.0),
            ("u4", "x", "o4", "2024-01-01", 1, 1.0),
            ("u1", "y", "o5", "2024-01-01", 1, 1.0),
        ]
    )
    train, test = stratified_split(tx, ratio=0.75, seed=42)
    assert sorted(train["order_id"]) == ["o1", "o3", "o4"]
    assert sorted(test["order_id"]) == ["o2", "o5"]
    with pytest.raises(EngineError, match="ratio"):
        stratified_split(tx, ratio=1.0)


def test_evaluate_model_scores_every_relevant_customer(shop_lines):
    model = PopularityRecommender().fit(shop_lines)
    relevant = {"0": {"p1"}, "stranger": {"p2", "p3"}}
    metrics = evaluate_model(model, relevant, k=5, task="repeat")
    assert metrics["n_customers"] == 2
    assert 0 < metrics["hit_rate@5"] <= 1
