"""What the pages show, computed from the bundle."""

from __future__ import annotations

import pytest

from serving.console import views


def test_unknown_names_get_the_closest_real_ones() -> None:
    known = ["Champions", "Loyal", "At Risk", "Hibernating"]
    assert views.unknown_names(["Champs", "loyal", "Loyal", "zzz"], known) == {"Champs": ["Champions"], "loyal": ["Loyal"], "zzz": []}
    assert views.unknown_names(None, known) == {}


@pytest.mark.parametrize("by", ["segment", "tier"])
def test_group_summaries_add_up_to_the_whole_table(bundle, by: str) -> None:
    summary = views.group_summary(bundle, by)
    frame = bundle.customers.frame
    assert summary["customers"].sum() == frame[by].notna().sum()
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    assert summary["value_at_risk"].sum() == pytest.approx(frame["value_at_risk"].sum())
    if by == "tier":
        assert list(summary.index) == [t for t in ("Bronze", "Silver", "Gold", "Platinum") if t in summary.index]


def test_a_customer_timeline_shows_months_without_purchases_as_zeros(bundle) -> None:
    customer = bundle.customers.query(sort_by="recency_days").index[0]  # the longest since a purchase
    months = views.customer_months(bundle, customer)
    assert list(months["month"]) == list(bundle.timeline.months())
    own = bundle.timeline.of(customer)
    assert months["spend"].sum() == pytest.approx(own["spend"].sum()) and (months["orders"] == 0).any()


def test_segment_categories_are_shares_of_the_members_purchases(bundle) -> None:
    profile = views.segment_profile(bundle, "Champions")
    shares = [share for _, share in profile["categories"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0 + 1e-6  # float32 spends
    assert profile["customers"] == int((bundle.customers.frame["segment"] == "Champions").sum())


def test_the_customer_page_shows_after_sales_only_when_the_bundle_has_it(bundle) -> None:
    import dataclasses

    from serving.customer_table import CustomerTable

    customer = bundle.customers.frame.index[0]
    assert views.customer_detail(bundle, customer)["after_sales"] == {}
    frame = bundle.customers.frame.assign(open_complaints=0.0, complaint_days_open=0.0, support_contacts=0.0)
    frame.loc[customer, ["open_complaints", "complaint_days_open", "support_contacts"]] = [1.0, 9.0, 2.0]
    with_aftersales = dataclasses.replace(bundle, customers=CustomerTable.from_frame(frame.reset_index() if "customer_id" not in frame.index.names else frame))
    shown = views.customer_detail(with_aftersales, customer)["after_sales"]
    assert shown == {"support_contacts": 2, "open_complaints": 1, "complaint_days_open": 9.0}


def test_a_recommendation_says_bought_only_for_items_the_customer_bought(bundle) -> None:
    model = bundle.recommender
    for customer in bundle.customers.frame.index[:20]:
        user = model.customers_.index_of(customer)
        for rows in views.recommendations(bundle, customer, None).values():
            for row in rows:
                column = model.items_.index_of(row.item_id)
                bought = user >= 0 and column >= 0 and model.history_[user][0, column] > 0
                assert row.reason.startswith("bought") == bool(bought), (customer, row)


def test_reasons_name_the_popularity_model_and_never_claim_a_purchase() -> None:
    reason = views._recommendation_reason("model", 0.0, None, popularity=True)
    assert reason == "not bought yet; one of the shop's most bought items"
    assert views._recommendation_reason("model", 3.0, None, popularity=True).startswith("bought 3 times")
