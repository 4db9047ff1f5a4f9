"""The baseline gate behind crm churn-list --refit: the served estimator is the gate's, small samples
and degenerate outputs are named."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.gate import gated_models, scoring_warnings
from engine.customers.scoring import SCORE_COLUMNS
from engine.data.synthetic import SyntheticShopConfig, generate_shop


def _scores(probability: list[float], clv: list[float], band: list[str], reasons: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(0.0, index=range(len(probability)), columns=list(SCORE_COLUMNS))
    return frame.assign(churn_probability=probability, expected_clv=clv, churn_band=band, reasons=reasons)


def test_scoring_warnings_name_constant_outputs_and_empty_reasons():
    healthy = _scores([0.1, 0.7, 0.8], [5.0, 9.0, 1.0], ["low", "high", "high"], ["", "raises risk: x", "raises risk: y"])
    assert scoring_warnings(healthy) == []
    constant = _scores([0.7, 0.7, 0.7], [3.0, 3.0, 3.0], ["high"] * 3, ["", "", "raises risk: x"])
    warnings = scoring_warnings(constant)
    assert any("same churn probability (0.7)" in w for w in warnings)
    assert any("same expected CLV (3)" in w for w in warnings)
    assert any("empty reasons: 2 of the 3 high-risk customers" in w for w in warnings)


@pytest.mark.slow  # two gates and two refits on a small shop (about 20 s)
def test_gated_models_serve_the_gates_choice_fitted_before_the_as_of():
    shop = generate_shop(SyntheticShopConfig(seed=5, n_customers=300, n_products=15, n_categories=3, n_weeks=52, acquisition_weeks=13))
    as_of = shop.transactions["timestamp"].max().normalize() - pd.Timedelta(days=20)
    gated = gated_models(shop, ChurnConfig(), ClvConfig(), as_of)
    assert gated.churn.estimator == gated.churn_gate.served
    assert gated.clv.estimator == gated.clv_gate.served
    assert gated.churn.spec_.horizon_days == 90
    # 300 customers, a quarter held out: the validation churners are too few to trust, and it is said
    assert any(w.startswith("small sample") for w in gated.warnings)
    # nothing the gate or the served models saw is from the as-of date on
    late = shop.transactions.loc[shop.transactions["timestamp"] >= as_of]
    assert len(late) > 0
    cut = generate_shop(SyntheticShopConfig(seed=5, n_customers=300, n_products=15, n_categories=3, n_weeks=52, acquisition_weeks=13))
    cut.transactions = cut.transactions.loc[cut.transactions["timestamp"] < as_of]
    again = gated_models(cut, ChurnConfig(), ClvConfig(), as_of)
    assert again.churn_gate.reason == gated.churn_gate.reason
