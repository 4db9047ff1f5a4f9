"""The estimator choice by evidence: agreement with a trusted reference, then precision, then the forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import EngineError
from engine.pricing.choice import choose_by_evidence, references
from engine.pricing.shrinkage import shrink_by_category

CATEGORIES = ["a", "b", "c"]
rng = np.random.default_rng(0)
TRUTH = pd.Series(rng.normal(-2.0, 0.2, 30), index=[f"p{i}" for i in range(30)])


class Fitted:
    """A stand-in for a fitted estimator: raw estimates = truth + bias + noise of ``se``, pooled by category."""

    def __init__(self, name: str, bias: float, se: float, seed: int) -> None:
        noise = np.random.default_rng(seed).normal(0, se, len(TRUTH))
        raw = pd.DataFrame({
            "product_id": TRUTH.index, "category": np.repeat(CATEGORIES, 10), "raw_elasticity": TRUTH.to_numpy() + bias + noise,
            "raw_se": se, "weeks": 50,
        })
        table, self.categories_ = shrink_by_category(raw)
        self.table, self.name = table.set_index("product_id"), name

    def elasticity_table(self) -> pd.DataFrame:
        return self.table


def fitted(**spec: tuple[float, float]) -> dict[str, Fitted]:
    return {name: Fitted(name, bias, se, seed) for seed, (name, (bias, se)) in enumerate(spec.items())}


STRONG = pd.Series(50.0, index=CATEGORIES)
SCORES = pd.DataFrame({"forecast_wmape": [0.30, 0.25, 0.20, 0.26]}, index=["naive", "fixed_effects", "dml", "dml_iv"])


def test_a_precise_but_biased_estimator_is_rejected_and_the_precise_agreeing_one_chosen():
    estimators = fitted(naive=(-0.5, 0.1), fixed_effects=(0.0, 0.15), dml=(-0.25, 0.1), dml_iv=(0.0, 0.4))
    choice = choose_by_evidence(estimators, list(estimators), SCORES, STRONG)
    assert choice.chosen == "fixed_effects"  # dml forecasts best and is more precise, but disagrees
    assert not choice.candidates.loc["dml", "passes"] and not choice.candidates.loc["naive", "passes"]
    assert choice.why.startswith("fixed_effects: the most precise") and "reference: dml_iv in 3 categories" in choice.why
    assert set(choice.categories["reference"]) == {"dml_iv"}


def test_where_fixed_effects_disagree_with_a_strong_instrument_iv_is_chosen():
    estimators = fitted(fixed_effects=(0.6, 0.1), dml_iv=(0.0, 0.3))
    assert choose_by_evidence(estimators, list(estimators), SCORES, STRONG).chosen == "dml_iv"


def test_a_weak_instrument_is_no_reference_and_the_forecast_only_breaks_ties():
    weak = pd.Series([50.0, 3.0, 2.0], index=CATEGORIES)
    assert references(fitted(fixed_effects=(0, 0.1), dml_iv=(0, 0.3)), weak, 10.0).tolist() == ["dml_iv", "fixed_effects", "fixed_effects"]
    estimators = fitted(fixed_effects=(0.0, 0.15), dml=(0.0, 0.16))
    choice = choose_by_evidence(estimators, list(estimators), SCORES, None, tolerance=0.1)
    assert choice.candidates["passes"].all() and choice.chosen == "dml" and "broke the tie" in choice.why
    assert choose_by_evidence(estimators, list(estimators), SCORES, None, tolerance=0.0).chosen == "fixed_effects"


def test_without_a_passing_candidate_the_closest_is_chosen_and_said():
    estimators = fitted(naive=(-0.8, 0.1), dml=(-0.4, 0.1), fixed_effects=(0.0, 0.1))
    choice = choose_by_evidence(estimators, ["naive", "dml"], SCORES, None)
    assert choice.chosen == "dml" and "no candidate agrees" in choice.why
    with pytest.raises(EngineError, match="among the candidates"):
        choose_by_evidence(estimators, ["monotone_gbm"], SCORES, None)
