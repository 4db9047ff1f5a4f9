"""The baseline gate behind crm churn-list --refit: the served estimator is the gate's, small samples
and degenerate outputs are named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.evaluation import churn_rows
from engine.customers.gate import (
    baseline,
    churn_baseline_gate,
    drift_warnings,
    gate_horizon,
    gated_models,
    scoring_warnings,
    served_churn,
)
from engine.customers.metrics import log_loss
from engine.customers.scoring import SCORE_COLUMNS, RiskBands
from engine.customers.windows import LabelledSnapshots, WindowPlan
from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.errors import EngineError


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


def _lines(first: str, last: str) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": pd.to_datetime([first, last]), "customer_id": ["a", "b"]})


@pytest.mark.parametrize(("as_of", "days"), [("2017-09-04", 90), ("2017-07-24", 87), ("2017-06-12", 66)])
def test_the_gate_window_shrinks_to_the_longest_that_fits_after_the_data_start(as_of, days):
    # Complete Journey starts on 2017-01-01: a 90-day gate before 06-12 would need snapshots in 2016
    moment = pd.Timestamp(as_of)
    transactions = _lines("2017-01-01", str((moment - pd.Timedelta(days=1)).date()))
    assert gate_horizon(transactions, ChurnConfig(), moment) == days
    # the first training snapshot (as_of - 2 x days) stands after the data's first 28 days; a day longer would not
    assert moment - pd.Timedelta(days=2 * days) > pd.Timestamp("2017-01-29")
    if days < 90:
        assert moment - pd.Timedelta(days=2 * (days + 1)) <= pd.Timestamp("2017-01-29")


def test_no_gate_window_is_an_error_naming_the_history_missing():
    transactions = _lines("2017-01-01", "2017-04-09")
    with pytest.raises(EngineError, match=r"no held-out window fits before 2017-04-10: .* at least a 45-day window needs 119 days .* starts 2017-01-01 \(99 days\)"):
        gate_horizon(transactions, ChurnConfig(), pd.Timestamp("2017-04-10"))


def test_a_model_that_does_not_win_is_replaced_by_the_better_calibrated_baseline(small_snapshots, churn_model):
    data = small_snapshots
    rows = churn_rows(data.test, churn_model)
    gate = churn_baseline_gate(data, churn_model, rows, margin_se=1e6, bands=RiskBands())  # nothing wins by 1e6 SE
    y = data.test["churned"].to_numpy()
    losses = {name: log_loss(y, baseline(data, churn_model, name).predict_proba(data.test)) for name in ("bgnbd", "pareto_nbd")}
    assert gate.served == min(losses, key=losses.__getitem__)
    assert f"held-out log-loss of the calibrated probabilistic models: {gate.served} {losses[gate.served]:.4f} vs" in gate.reason
    served = served_churn(data, churn_model, gate)
    assert served.estimator == gate.served and served.booster_ is None


class _Constant:
    """A served estimator stand-in predicting one probability for everyone."""

    estimator = "pareto_nbd"

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.full(len(features), self.probability)


def test_calibration_drift_on_the_held_out_window_is_named_with_its_size():
    plan = WindowPlan(pd.Timestamp("2017-06-03"), 90, (pd.Timestamp("2017-03-05"),))
    train = pd.DataFrame({"churned": [0] * 80 + [1] * 20})
    test = pd.DataFrame({"churned": [0] * 60 + [1] * 40})  # 0.40 realised, 95% interval about 0.31-0.50
    data = LabelledSnapshots(plan, train, train, test, None)  # type: ignore[arg-type]
    assert drift_warnings(data, _Constant(0.42)) == []
    (warning,) = drift_warnings(data, _Constant(0.20))
    assert warning.startswith("calibration drift: on the held-out window from 2017-06-03 the served pareto_nbd predicted 0.200 "
                              "mean churn against 0.400 realised (95% interval 0.309-0.498), as the churn rate moved from 0.200")
    assert warning.endswith("may be off by about 0.20")
