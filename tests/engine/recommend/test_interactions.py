"""The interaction matrix and confidence weightings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from implicit.nearest_neighbours import bm25_weight
from scipy import sparse

from engine.data.idmap import IdMap
from engine.data.schema import validate_transactions
from engine.errors import EngineError
from engine.recommend.interactions import Confidence, buyers, interaction_matrix, select_items


@pytest.fixture
def lines() -> pd.DataFrame:
    rows = [
        ("a", "x", "o1", "2024-01-01", 3, 1.0),
        ("a", "x", "o2", "2024-01-11", 1, 1.0),
        ("a", "x", "o3", "2024-01-12", -2, 1.0),  # a return
        ("a", "y", "o3", "2024-01-12", -1, 1.0),  # a return of something never bought here
        ("b", "y", "o4", "2024-01-21", 2, 1.0),
        ("b", "z", "o4", "2024-01-21", 1, 1.0),
        ("c", "z", "o5", "2024-01-21", 1, 1.0),
    ]
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    return validate_transactions(raw)[0]


def test_purchases_and_quantities_with_returns_never_below_zero(lines):
    customers, items = IdMap(["a", "b", "c"]), IdMap(["x", "y", "z"])
    purchases = interaction_matrix(lines, customers, items, "purchases").toarray()
    quantity = interaction_matrix(lines, customers, items, "quantity").toarray()
    np.testing.assert_array_equal(purchases, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])  # 2 lines - 1 return
    np.testing.assert_array_equal(quantity, [[2, 0, 0], [0, 2, 1], [0, 0, 1]])  # 3 + 1 - 2; -1 floored


def test_half_life_decays_each_line_by_its_age(lines):
    customers, items = IdMap(["a", "b", "c"]), IdMap(["x", "y", "z"])
    as_of = pd.Timestamp("2024-01-21")
    decayed = interaction_matrix(lines, customers, items, "purchases", half_life_days=10, as_of=as_of).toarray()
    assert decayed[0, 0] == pytest.approx(0.25 + 0.5 ** 1.0 - 0.5 ** 0.9)
    assert decayed[1, 1] == pytest.approx(1.0)


def test_lines_outside_the_maps_are_left_out(lines):
    matrix = interaction_matrix(lines, IdMap(["b"]), IdMap(["z"]))
    assert matrix.shape == (1, 1) and matrix.toarray()[0, 0] == 1


def test_buyers_hold_the_item_on_balance_and_select_items_by_buyers_and_cap(lines):
    items = IdMap(["x", "y", "z"])
    counts = interaction_matrix(lines, IdMap(["a", "b", "c"]), items)
    per_item = pd.Series(buyers(counts), index=items.external_ids)
    assert per_item.to_dict() == {"x": 1, "y": 1, "z": 2}  # a returned the y she never bought here
    assert list(select_items(per_item, 1).external_ids) == ["x", "y", "z"]
    assert list(select_items(per_item, 2).external_ids) == ["z"]
    assert list(select_items(per_item, 1, max_items=2).external_ids) == ["x", "z"]  # ties by id
    with pytest.raises(EngineError, match="min_item_buyers"):
        select_items(per_item, 5)


def test_confidence_weightings():
    counts = sparse.csr_matrix(np.array([[1.0, 0, 3], [2, 2, 0], [0, 1, 1]], dtype=np.float32))
    linear = Confidence("linear", alpha=2.0).fit_transform(counts).toarray()
    log = Confidence("log").fit_transform(counts).toarray()
    binary = Confidence("binary").fit_transform(counts).toarray()
    np.testing.assert_allclose(linear, 2 * counts.toarray())
    np.testing.assert_allclose(log, np.log1p(counts.toarray()), rtol=1e-6)
    np.testing.assert_allclose(binary, (counts.toarray() > 0).astype(float))


def test_bm25_matches_implicit_and_applies_the_same_to_new_rows():
    rng = np.random.default_rng(0)
    counts = sparse.csr_matrix(rng.poisson(0.3, (40, 25)).astype(np.float32))
    confidence = Confidence("bm25", bm25_k1=1.2, bm25_b=0.75).fit(counts)
    expected = bm25_weight(counts.T.tocsr(), K1=1.2, B=0.75).T.toarray()
    weighted = confidence.transform(counts).toarray()
    np.testing.assert_allclose(weighted, np.maximum(expected, 1e-6) * (expected != 0), rtol=1e-4)
    np.testing.assert_allclose(confidence.transform(counts[7]).toarray(), weighted[7:8], rtol=1e-6)


def test_bad_weighting_and_alpha_are_errors():
    counts = sparse.csr_matrix(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(EngineError, match="weighting"):
        Confidence("tfidf").fit(counts)  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="alpha"):
        Confidence("linear", alpha=0).fit(counts)
