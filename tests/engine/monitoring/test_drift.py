"""PSI against values computed by hand from the formula sum((c - r) ln(c / r))."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.errors import EngineError
from engine.monitoring.drift import drift_table, psi_categorical, psi_from_shares, psi_numeric, quantile_edges

EPS = 1e-4


def term(current: float, reference: float) -> float:
    return (current - reference) * math.log(current / reference)


def test_psi_of_two_share_vectors() -> None:
    assert psi_from_shares([0.5, 0.5], [0.25, 0.75]) == pytest.approx(term(0.25, 0.5) + term(0.75, 0.5))
    assert psi_from_shares([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.274653, abs=1e-6)
    assert psi_from_shares([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_numeric_bins_at_reference_quantiles() -> None:
    reference = np.arange(1, 11)  # the median 5.5 splits it in halves
    assert quantile_edges(reference, 2).tolist() == [5.5]
    # current: three of four values in the lower half
    assert psi_numeric(reference, [1, 1, 1, 9], bins=2) == pytest.approx(term(0.75, 0.5) + term(0.25, 0.5))


def test_bins_are_closed_on_the_right() -> None:
    # 5.5 itself belongs to the lower bin: all of the current sample is there
    assert psi_numeric(np.arange(1, 11), [5.5, 5.5], bins=2) == pytest.approx(term(1.0, 0.5) + term(EPS, 0.5))


def test_missing_values_are_a_bin_of_their_own() -> None:
    expected = term(0.5, 0.5) + term(EPS, 0.5) + term(0.5, EPS)
    assert psi_numeric(np.arange(1, 11), [1.0, np.nan], bins=2) == pytest.approx(expected)
    assert psi_numeric(np.arange(1, 11), [1.0, np.inf], bins=2) == pytest.approx(expected)


def test_categorical_over_the_union_of_levels() -> None:
    expected = term(0.25, 0.5) + term(0.5, 0.5) + term(0.25, EPS)
    assert psi_categorical(["a", "a", "b", "b"], ["a", "b", "b", "c"]) == pytest.approx(expected)
    assert psi_categorical(["a", None], ["a", "a"]) == pytest.approx(term(1.0, 0.5) + term(EPS, 0.5))


def test_identical_samples_do_not_drift() -> None:
    values = np.random.default_rng(0).normal(size=500)
    assert psi_numeric(values, values) == 0.0
    assert psi_numeric(values, values[::-1].copy()) == 0.0


def test_a_shifted_distribution_drifts_more_than_a_resample() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=5000)
    assert psi_numeric(reference, rng.normal(size=5000)) < 0.02
    assert psi_numeric(reference, rng.normal(0.5, 1.0, size=5000)) > 0.2


def test_drift_table_kinds_order_and_errors() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0), "city": ["a", "b"] * 50, "same": np.ones(100)})
    current = pd.DataFrame({"x": np.arange(50.0, 150.0), "city": ["a"] * 100, "same": np.ones(100)})
    table = drift_table(reference, current, bins=10)
    assert table["feature"].tolist()[-1] == "same" and table["psi"].is_monotonic_decreasing
    assert dict(zip(table["feature"], table["kind"])) == {"x": "numeric", "city": "categorical", "same": "numeric"}
    assert table.set_index("feature").at["city", "psi"] == pytest.approx(term(1.0, 0.5) + term(EPS, 0.5))
    with pytest.raises(EngineError, match=r"\['nope'\]"):
        drift_table(reference, current, columns=["x", "nope"])
    with pytest.raises(EngineError, match="current sample is empty"):
        psi_numeric([1.0, 2.0], [])
