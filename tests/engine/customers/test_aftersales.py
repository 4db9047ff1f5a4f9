"""After-sales features by hand at an as-of cut (nothing from after the cut), the reasons they are
phrased with, and the no-data path: a shop without after-sales data gets the same features and the
same predictions as before the feature existed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.customers.aftersales import AFTERSALES_FEATURES, AfterSales, aftersales_features, aftersales_profile
from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.features import FEATURES, FeatureSpec, customer_features
from engine.customers.reasons import phrase_reasons
from engine.customers.segments import segment_profile
from engine.customers.windows import labelled_snapshots
from engine.data.aftersales import validate_support_contacts, validate_surveys
from engine.errors import EngineError

AS_OF = pd.Timestamp("2024-03-01")


@pytest.fixture
def aftersales() -> AfterSales:
    contacts, _ = validate_support_contacts(pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b", "c"],
        "opened_at": ["2024-01-01", "2024-02-01", "2024-02-20", "2024-03-05", "2024-01-10", "2024-02-21", "2024-01-01"],
        "topic": ["question", "Complaint", "complaint", "complaint", "delivery", "complaint", "complaint"],
        # a: resolved in 4 days (rated 5); resolved in 10 days (rated 2); open; opened after the cut
        # b: resolved in 2 days (rated 4); resolved after the cut (open at the cut, its rating unknown then)
        # c: never resolved
        "resolved_at": ["2024-01-05", "2024-02-11", None, None, "2024-01-12", "2024-03-03", None],
        "satisfaction": [5, 2, None, 1, 4, 1, None],
    }))
    surveys, _ = validate_surveys(pd.DataFrame({
        "customer_id": ["a", "a", "b", "b"],
        "timestamp": ["2024-01-15", "2024-02-15", "2024-02-01", "2024-03-02"],
        "kind": ["NPS", "NPS", "CSAT", "NPS"],
        "score": [9, 4, 2, 0],
    }))
    return AfterSales(contacts, surveys)


def test_features_by_hand_at_the_cut(aftersales):
    frame = aftersales_features(aftersales, AS_OF, pd.Index(["a", "b", "c", "d"]), ("complaint",))
    assert list(frame.columns) == list(AFTERSALES_FEATURES)
    expected = pd.DataFrame(
        {
            "support_contacts": [3, 2, 1, 0],
            "open_complaints": [1, 1, 1, 0],
            # a: open since 2024-02-20 (10 days at the cut); b: since 02-21 (9); c: since 01-01 (60)
            "complaint_days_open": [10, 9, 60, 0],
            "mean_days_to_resolve": [7, 2, np.nan, np.nan],
            "satisfaction_last": [2, 4, np.nan, np.nan],
            "satisfaction_change": [-3, np.nan, np.nan, np.nan],
            "nps_last": [4, np.nan, np.nan, np.nan],
            "csat_last": [np.nan, 2, np.nan, np.nan],
        },
        index=pd.Index(["a", "b", "c", "d"]),
        dtype=float,
    )
    pd.testing.assert_frame_equal(frame, expected, check_names=False)
    # after b's resolution (03-03) and the last contacts: a's 03-05 complaint is open, b's closed and rated
    later = aftersales_features(aftersales, pd.Timestamp("2024-03-10"), pd.Index(["a", "b"]), ("complaint",))
    assert later["open_complaints"].tolist() == [2, 0] and later["complaint_days_open"].tolist() == [19, 0]
    assert later["satisfaction_last"].tolist() == [2, 1] and later["nps_last"].tolist() == [4, 0]


def test_only_the_tables_a_shop_has(aftersales):
    customers = pd.Index(["a"])
    contacts_only = aftersales_features(AfterSales(contacts=aftersales.contacts), AS_OF, customers, ("complaint",))
    assert "nps_last" not in contacts_only and "open_complaints" in contacts_only
    # a topic list decides what a complaint is
    questions = aftersales_features(aftersales, AS_OF, customers, ("question",))
    assert questions["open_complaints"].tolist() == [0]
    profile = aftersales_profile(aftersales, AS_OF, customers)
    assert "satisfaction_change" not in profile and profile.loc["a", "complaint_days_open"] == 10
    assert aftersales_profile(None, AS_OF, customers).columns.empty


def test_reasons_are_readable(aftersales):
    features = aftersales_features(aftersales, AS_OF, pd.Index(["a", "b", "d"]), ("complaint",))
    features = features.assign(recency_days=5.0, mean_gap_days=10.0, purchase_days_90=3.0, spend_90=10.0,
                               spend_prior_90=10.0, return_line_share=0.0, return_value_share=0.0,
                               discount_share=0.0, distinct_products=5.0)
    contributions = pd.DataFrame(
        {"complaint_days_open": [0.4, 0.3, 0.0], "satisfaction_change": [0.2, 0.0, 0.0], "csat_last": [0.0, 0.1, 0.0]},
        index=features.index,
    )
    reasons = phrase_reasons(contributions, features).tolist()
    assert reasons == [
        "raises risk: complaint open for 10 days; raises risk: satisfaction fell from 5 to 2",
        "raises risk: complaint open for 9 days; raises risk: last CSAT answer 2 of 5",
        "",
    ]


def test_segment_profile_summarises_aftersales(aftersales):
    view = pd.DataFrame({"recency_days": [1, 2, 3], "frequency": [1, 1, 1], "monetary": [10.0, 20.0, 30.0]},
                        index=pd.Index(["a", "b", "c"]))
    view = view.join(aftersales_profile(aftersales, AS_OF, view.index))
    profile = segment_profile(view, pd.Series(["x", "x", "y"], index=view.index))
    assert profile.loc["x", "share_open_complaint"] == 1.0 and profile.loc["x", "avg_satisfaction"] == 3.0
    assert "avg_nps" in profile and "share_open_complaint" not in segment_profile(view[["recency_days", "frequency", "monetary"]],
                                                                                 pd.Series(["x", "x", "y"], index=view.index))


def test_no_aftersales_data_changes_nothing(small_shop, small_snapshots):
    """Rows built without after-sales data have exactly the old features, and a churn model fitted on
    them predicts exactly what a model fitted on the after-sales rows stripped of those columns does."""
    bare, spec = small_snapshots, small_snapshots.test_snapshot.spec
    full = labelled_snapshots(small_shop.transactions, bare.plan, spec, small_shop.products, 0.25, seed=0,
                              aftersales=AfterSales.of(small_shop))
    assert list(bare.test_snapshot.features.columns) == list(FEATURES)
    assert list(full.test_snapshot.features.columns) == [*FEATURES, *AFTERSALES_FEATURES]
    stripped = {name: getattr(full, name).drop(columns=list(AFTERSALES_FEATURES)) for name in ("train", "validation", "test")}
    pd.testing.assert_frame_equal(bare.test, stripped["test"])

    def fitted(train, validation):
        return ChurnClassifier(spec=spec, n_estimators=60).fit(train, train["churned"], validation, validation["churned"])

    old = fitted(bare.train, bare.validation)
    assert old.feature_names_ == list(FEATURES)
    np.testing.assert_array_equal(old.predict_proba(bare.test), fitted(stripped["train"], stripped["validation"]).predict_proba(bare.test))
    # a model that learnt after-sales features refuses rows without them, and says why
    with_aftersales = fitted(full.train, full.validation)
    assert with_aftersales.feature_names_[-len(AFTERSALES_FEATURES):] == list(AFTERSALES_FEATURES)
    with pytest.raises(EngineError, match="after-sales features"):
        with_aftersales.predict_proba(bare.test)


def test_snapshot_uses_only_contacts_before_the_cut(small_shop):
    aftersales = AfterSales.of(small_shop)
    as_of = small_shop.transactions["timestamp"].min() + pd.Timedelta(days=120)
    snapshot = customer_features(small_shop.transactions, as_of, FeatureSpec(), small_shop.products, aftersales)
    before = small_shop.support_contacts.loc[small_shop.support_contacts["opened_at"] < as_of]
    counted = before.groupby("customer_id").size().reindex(snapshot.features.index, fill_value=0)
    assert snapshot.features["support_contacts"].tolist() == counted.astype(float).tolist()
