"""Every elasticity estimator honours the same contract (by inheritance), and each recovers known
elasticities on small synthetic panels: the unbiased ones on the unconfounded twin, DML-IV on the
confounded one, where the naive regression is visibly biased."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import DataValidationError, EngineError, NotFittedError
from engine.pricing.dml import DoubleML, DoubleMLIV
from engine.pricing.evaluate import score_estimator
from engine.pricing.fixed_effects import FixedEffectsLogLog
from engine.pricing.monotone_gbm import MonotoneGBM
from engine.pricing.naive import NaiveLogLog
from tests.engine.contract import EngineModelContract

TABLE_COLUMNS = {"elasticity", "se", "ci_low", "ci_high", "raw_elasticity", "raw_se", "weeks", "pooling", "category"}


def _errors(estimator, shop) -> pd.Series:
    table = estimator.elasticity_table()
    return table["elasticity"] - shop.truth.elasticity.loc[table.index]


class EstimatorContract(EngineModelContract):
    """What every estimator must do (the engine's estimator contract included); subclasses provide ``make``."""

    @staticmethod
    def make():
        raise NotImplementedError

    def make_model(self):
        return self.make()

    def use_unfitted(self, model):
        return model.elasticity_table()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, unconfounded_panels):
        return cls.make().fit(unconfounded_panels[0])

    def test_init_stores_params_only_and_fit_returns_self(self, unconfounded_panels):
        estimator = self.make()
        assert not any(name.endswith("_") for name in vars(estimator))
        with pytest.raises(NotFittedError):
            estimator.elasticity_table()
        with pytest.raises(NotFittedError):
            estimator.predict_units(unconfounded_panels[1])

    def test_table_forecast_and_response(self, fitted, unconfounded_panels):
        train, holdout = unconfounded_panels
        table = fitted.elasticity_table()
        assert TABLE_COLUMNS <= set(table.columns)
        assert set(table.index) == set(train["product_id"])
        assert (table["ci_low"] <= table["elasticity"]).all() and (table["elasticity"] <= table["ci_high"]).all()
        units = fitted.predict_units(holdout)
        assert units.shape == (len(holdout),) and np.isfinite(units).all() and (units > 0).all()
        up, down = fitted.response(holdout, 1.1), fitted.response(holdout, 0.9)
        assert np.isfinite(up).all() and (up <= 1 + 1e-9).mean() > 0.9 and (down >= 1 - 1e-9).mean() > 0.9
        assert np.allclose(fitted.response(holdout, 1.0), 1.0)
        with pytest.raises(EngineError):
            fitted.response(holdout, 0.0)

    def test_unknown_products_fall_back_to_their_category(self, fitted, unconfounded_panels):
        categories = fitted.categories_["elasticity"]
        category = categories.index[0]
        assert fitted.elasticity(["new"], [category])[0] == pytest.approx(categories.loc[category])
        assert np.isfinite(fitted.elasticity(["new"], ["new category"])[0])

    def test_bad_panel_is_refused(self, unconfounded_panels):
        with pytest.raises(DataValidationError, match="lacks column"):
            self.make().fit(unconfounded_panels[0].drop(columns=["price"]))
        with pytest.raises(DataValidationError, match="empty"):
            self.make().fit(unconfounded_panels[0].iloc[:0])

    def test_scores_on_the_holdout(self, fitted, unconfounded_panels, unconfounded_shop):
        scores = score_estimator(fitted, unconfounded_panels[1], unconfounded_shop.truth.elasticity)
        assert 0 < scores["forecast_wmape"] < 1
        assert 0 <= scores["cf_wmape"] < 0.2 and 0 <= scores["sign_accuracy"] <= 1


class TestNaive(EstimatorContract):
    @staticmethod
    def make():
        return NaiveLogLog()


class TestFixedEffects(EstimatorContract):
    @staticmethod
    def make():
        return FixedEffectsLogLog()


class TestDML(EstimatorContract):
    @staticmethod
    def make():
        return DoubleML(n_folds=3, n_estimators=60)


class TestDMLIV(EstimatorContract):
    @staticmethod
    def make():
        return DoubleMLIV(n_folds=3, n_estimators=60)

    def test_data_without_the_instrument_is_refused(self, unconfounded_panels):
        with pytest.raises(DataValidationError, match="no such instrument"):
            self.make().fit(unconfounded_panels[0].assign(unit_cost=np.nan))


class TestMonotoneGBM(EstimatorContract):
    @staticmethod
    def make():
        return MonotoneGBM(n_bags=2, n_estimators=80)

    def test_response_never_rises_with_price(self, fitted, unconfounded_panels):
        assert (fitted.response(unconfounded_panels[1], 1.2) <= 1 + 1e-12).all()


# --- recovery of known elasticities -----------------------------------------------------------------


def test_unbiased_estimators_recover_the_truth_without_confounding(unconfounded_panels, unconfounded_shop):
    train = unconfounded_panels[0]
    for estimator in (FixedEffectsLogLog(), DoubleML(n_folds=3)):
        errors = _errors(estimator.fit(train), unconfounded_shop)
        assert abs(errors.mean()) < 0.12, estimator.name
        assert errors.abs().median() < 0.3, estimator.name


def test_dml_iv_undoes_the_confounding_that_biases_the_naive_estimate(confounded_panels, confounded_shop):
    train = confounded_panels[0]
    naive = _errors(NaiveLogLog().fit(train), confounded_shop)
    dml = _errors(DoubleML(n_folds=3, promotion_control=False).fit(train), confounded_shop)
    iv = _errors(DoubleMLIV(n_folds=3).fit(train), confounded_shop)
    assert naive.mean() < -0.25  # promotions timed to demand shocks look like a strong response
    assert dml.mean() < -0.1  # controls cannot see the shock
    # ... but with the promotion flag controlled, only depth and shelf-price moves identify the slope
    controlled = _errors(DoubleML(n_folds=3, promotion_control=True).fit(train), confounded_shop)
    assert abs(controlled.mean()) < abs(dml.mean()) / 2
    assert abs(iv.mean()) < 0.15 and iv.abs().median() < 0.3
    assert iv.abs().median() < naive.abs().median() / 1.5


def test_dml_nuisances_keep_the_cost_drift_the_instrument_needs(confounded_panels):
    """A product's identity may not interact with season or traffic in the nuisance models, so the
    slow cost-driven drift of the shelf price stays in the instrument residuals: more instrument
    variance, and no category loses its instrument to a weak first stage where product-by-time fits
    would make it fall back to the slope without instrument (whose smaller standard errors come from
    ignoring the confounding, so standard errors are not compared across the two)."""
    from engine.pricing.dml import without_product_time_interactions

    names = ["product_code", "category_code", "season_sin", "log_traffic", "display", "mailer"]
    product_side, time_side = without_product_time_interactions(names)
    assert [names[i] for i in product_side] == ["product_code", "category_code", "display", "mailer"]
    assert "product_code" not in [names[i] for i in time_side] and "season_sin" in [names[i] for i in time_side]
    train = confounded_panels[0]
    kept = DoubleMLIV(n_folds=3).fit(train)
    absorbed = DoubleMLIV(n_folds=3, product_time_interactions=True).fit(train)
    assert kept.residuals_["unit_cost"].std() > 1.05 * absorbed.residuals_["unit_cost"].std()
    instrumented = {name: (fit.elasticity_table()["method"] == "iv").sum() for name, fit in (("kept", kept), ("absorbed", absorbed))}
    assert instrumented["kept"] == len(kept.elasticity_table()) and instrumented["kept"] > instrumented["absorbed"]


def test_iv_standard_errors_use_residuals_at_the_category_slope():
    """Three products of one category with true slopes -2, -1.5 and -1 (pooled: -1.5). The IV
    estimates are each product's own; the standard errors come from residuals at the pooled slope, so
    the products away from it get larger ones and the product at it keeps its own-slope value. Least
    squares (no instrument) keeps own-slope residuals."""
    from engine.pricing.base import per_product_slopes

    rng = np.random.default_rng(1)
    z = rng.normal(0, 1, 300)
    x = z + rng.normal(0, 1, 300)
    slopes = np.repeat([-2.0, -1.5, -1.0], 100)
    frame = pd.DataFrame(
        {"product_id": np.repeat(["a", "b", "c"], 100), "category": "k", "z": z, "x": x, "y": slopes * x + rng.normal(0, 0.5, 300)}
    )
    pooled = per_product_slopes(frame, "y", "x", instrument="z").set_index("product_id")
    own = per_product_slopes(frame.drop(columns="category"), "y", "x", instrument="z").set_index("product_id")
    assert np.allclose(pooled["raw_elasticity"], own["raw_elasticity"])
    ratio = pooled["raw_se"] / own["raw_se"]
    assert ratio["a"] > 1.1 and ratio["c"] > 1.1 and abs(ratio["b"] - 1) < 0.05
    plain = per_product_slopes(frame, "y", "x")
    assert np.allclose(plain["raw_se"], per_product_slopes(frame.drop(columns="category"), "y", "x")["raw_se"])


def test_score_variance_counts_neighbouring_weeks_only():
    from engine.pricing.base import score_variance

    weeks = pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-01", "2024-01-15"])
    scores, items = pd.Series([1.0, 1.0, 1.0, 1.0]), pd.Series(["a", "a", "b", "b"])
    assert score_variance(scores, items, None).tolist() == [2.0, 2.0]
    # lag 1 with Bartlett weight 1/2: "a" has two adjacent weeks, "b" a gap of one week
    assert score_variance(scores, items, pd.Series(weeks), lags=1).tolist() == [3.0, 2.0]


def test_newey_west_variance_tracks_serially_correlated_scores():
    """AR(1) scores (rho 0.5) over 100 weeks: the variance of their sum is 3x the sum of squares.
    The plain estimate misses that; Newey-West with enough lags recovers it."""
    from engine.pricing.base import newey_west_lags, score_variance

    rng = np.random.default_rng(0)
    products, weeks, rho = 2000, 100, 0.5
    series = np.zeros((products, weeks))
    series[:, 0] = rng.normal(0, 1 / np.sqrt(1 - rho**2), products)
    for t in range(1, weeks):
        series[:, t] = rho * series[:, t - 1] + rng.normal(0, 1, products)
    items = pd.Series(np.repeat(np.arange(products), weeks))
    dates = pd.Series(np.tile(pd.date_range("2024-01-01", periods=weeks, freq="7D"), products))
    scores = pd.Series(series.ravel())
    truth = series.sum(axis=1).var()
    assert score_variance(scores, items, None).mean() < 0.4 * truth
    assert abs(score_variance(scores, items, dates, lags=15).mean() / truth - 1) < 0.15
    assert newey_west_lags(91) == 3 and newey_west_lags(500) == 5


# --- products the data cannot speak for -------------------------------------------------------------


def test_a_product_whose_price_never_moved_gets_its_category_elasticity_flagged(unconfounded_panels):
    train = unconfounded_panels[0]
    frozen = train[["product_id"]].drop_duplicates().iloc[0, 0]
    still = train.assign(price=train["price"].where(train["product_id"] != frozen, 3.0))
    for estimator in (FixedEffectsLogLog(), DoubleML(n_folds=3, n_estimators=40)):
        table = estimator.fit(still).elasticity_table()
        row = table.loc[frozen]
        assert not row["own_estimate"] and not row["significant"] and np.isnan(row["raw_elasticity"]), estimator.name
        assert row["elasticity"] == pytest.approx(estimator.categories_.loc[row["category"], "elasticity"])
        assert estimator.no_price_variation_ == [frozen]
        assert table.drop(index=frozen)["own_estimate"].all()


def test_no_price_variation_at_all_is_a_clear_error(unconfounded_panels):
    train = unconfounded_panels[0]
    with pytest.raises(EngineError, match="no product's price varies"):
        FixedEffectsLogLog().fit(train.assign(price=2.5))


def test_products_without_cost_stay_with_the_slope_without_instrument(confounded_panels):
    train = confounded_panels[0]
    products = train["product_id"].unique()
    missing, zero = products[0], products[1]
    costs = train["unit_cost"].where(train["product_id"] != missing).where(train["product_id"] != zero, 0.0)
    estimator = DoubleMLIV(n_folds=3, n_estimators=40).fit(train.assign(unit_cost=costs))
    table = estimator.elasticity_table()
    assert set(table.index) == set(products)
    assert set(table.loc[[missing, zero], "method"]) == {"ols"} and table.loc[[missing, zero], "own_estimate"].all()
    assert (table.drop(index=[missing, zero])["method"] == "iv").mean() > 0.5
    assert any("2 product(s) without" in note for note in estimator.notes_)


def test_a_weak_instrument_falls_back_per_category_with_its_f(confounded_panels):
    train = confounded_panels[0]
    noise = np.exp(np.random.default_rng(0).normal(0, 0.1, len(train)))  # a "cost" unrelated to the price
    iv = DoubleMLIV(n_folds=3, n_estimators=40).fit(train.assign(unit_cost=noise))
    plain = DoubleML(n_folds=3, n_estimators=40, promotion_control=False).fit(train)
    assert (iv.first_stage_f_ < 10).all() and len(iv.first_stage_f_) == train["category"].nunique()
    assert len([n for n in iv.notes_ if n.startswith("weak instrument in category")]) == len(iv.first_stage_f_)
    assert (iv.elasticity_table()["method"] == "ols").all()
    strong = DoubleMLIV(n_folds=3, n_estimators=40).fit(train)
    assert (strong.first_stage_f_ > iv.first_stage_f_.max()).all()
    pd.testing.assert_series_equal(iv.elasticity_table()["elasticity"], plain.elasticity_table()["elasticity"], rtol=0.05, atol=0.05)
