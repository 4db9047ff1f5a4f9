"""Bias-aware intervals: the chosen estimator's intervals widened by its shift from the trusted estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.pricing.bias_bound import BIAS_BOUND, UNWIDENED_SE, bias_bounds, category_shift, critical_value, partners, widen
from engine.pricing.choice import Choice
from engine.pricing.shrinkage import Z95, shrink_by_category

CATEGORIES = np.repeat(["a", "b", "c"], 20)
TRUTH = np.random.default_rng(0).normal(-2.0, 0.3, len(CATEGORIES))


class Fitted:
    """A stand-in for a fitted estimator: raw estimates = truth + a bias per category + noise of ``se``."""

    def __init__(self, bias: dict[str, float], se: float, seed: int) -> None:
        noise = np.random.default_rng(seed).normal(0, se, len(TRUTH))
        shift = pd.Series(CATEGORIES).map(bias).fillna(0.0).to_numpy()
        raw = pd.DataFrame({
            "product_id": [f"p{i}" for i in range(len(TRUTH))], "category": CATEGORIES,
            "raw_elasticity": TRUTH + shift + noise, "raw_se": se, "weeks": 50,
        })
        table, self.categories_ = shrink_by_category(raw)
        self.table = table.set_index("product_id")

    def elasticity_table(self) -> pd.DataFrame:
        return self.table


def choice(chosen: str, passes: dict[str, bool], reference: dict[str, str]) -> Choice:
    candidates = pd.DataFrame({"passes": pd.Series(passes)})
    return Choice(chosen, "", candidates, pd.DataFrame({"reference": pd.Series(reference)}))


def test_partners_are_the_reference_and_the_candidates_that_passed_other_than_the_chosen():
    picked = choice("fixed_effects", {"fixed_effects": True, "dml": True, "naive": False},
                    {"a": "dml_iv", "b": "fixed_effects"})
    assert partners(picked) == {"a": ["dml", "dml_iv"], "b": ["dml"]}


def test_a_shift_beyond_the_noise_widens_its_category_only():
    estimators = {
        "fixed_effects": Fitted({"a": 0.3}, se=0.05, seed=1),  # shifted by 0.3 in category a
        "dml_iv": Fitted({}, se=0.15, seed=2),
    }
    picked = choice("fixed_effects", {"fixed_effects": True, "dml_iv": True}, dict.fromkeys("abc", "dml_iv"))
    bounds = bias_bounds(picked, estimators)
    assert bounds["a"] == pytest.approx(0.3, abs=0.08)
    assert bounds["b"] < 0.08 and bounds["c"] < 0.08  # noise of the difference is taken out
    table = estimators["fixed_effects"].elasticity_table()
    wide = widen(table, bounds)
    in_a = table["category"] == "a"
    np.testing.assert_allclose(wide[UNWIDENED_SE], table["se"])
    np.testing.assert_allclose(wide["ci_high"] - wide["ci_low"], 2 * Z95 * wide["se"])
    np.testing.assert_allclose(wide.loc[~in_a, "se"], table.loc[~in_a, "se"], rtol=0.2)
    assert (wide.loc[in_a, "se"] > 2 * table.loc[in_a, "se"]).all()
    # an interval that covers 95% whenever the bias is at most b: half width between b + 1.64 se and b + 1.96 se
    half = (wide["ci_high"] - wide["ci_low"]) / 2
    assert (half >= wide[BIAS_BOUND] + 1.644 * table["se"] - 1e-9).all() and (half <= wide[BIAS_BOUND] + Z95 * table["se"] + 1e-9).all()
    assert (wide["significant"] <= table["significant"]).all()  # wider intervals are never more significant


def test_the_critical_value_is_the_quantile_of_a_shifted_normals_size():
    assert critical_value(np.array([0.0]))[0] == pytest.approx(Z95)
    for t in (0.5, 1.0, 3.0):
        c = critical_value(np.array([t]))[0]
        assert stats.norm.cdf(c - t) - stats.norm.cdf(-c - t) == pytest.approx(0.95)


def test_pure_noise_reveals_no_bias_and_a_lone_estimator_is_left_as_it_is():
    estimators = {"fixed_effects": Fitted({}, se=0.05, seed=3), "dml": Fitted({}, se=0.05, seed=4)}
    picked = choice("fixed_effects", {"fixed_effects": True, "dml": True}, dict.fromkeys("abc", "fixed_effects"))
    assert (bias_bounds(picked, estimators) < 0.03).all()
    alone = choice("fixed_effects", {"fixed_effects": True, "dml": False}, dict.fromkeys("abc", "fixed_effects"))
    assert (bias_bounds(alone, estimators) == 0).all()


def test_the_shift_is_the_mean_difference_with_its_variance_from_the_scatter():
    chosen = pd.DataFrame({"raw_elasticity": [-2.0, -2.1, -1.0, -1.1, -1.2], "category": ["a", "a", "b", "b", "b"]},
                          index=[f"p{i}" for i in range(5)])
    partner = chosen.assign(raw_elasticity=chosen["raw_elasticity"] - [0.5, 0.6, 0.2, 0.3, 0.25])
    shift = category_shift(chosen, partner)
    assert shift["products"].to_dict() == {"a": 2, "b": 3}
    assert shift.loc["b", "shift"] == pytest.approx(0.25) and shift.loc["b", "shift_var"] == pytest.approx(0.0025 / 3)
