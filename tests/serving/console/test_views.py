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
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0 + 1e-9
    assert profile["customers"] == int((bundle.customers.frame["segment"] == "Champions").sum())
