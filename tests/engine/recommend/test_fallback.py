"""Cold start follows the configured segment table: a renamed segment still gets its own popularity."""

from __future__ import annotations

from engine.customers.segments import DEFAULT_SEGMENT_RULES, SegmentRules
from engine.customers.view import customer_view
from engine.data.split import default_as_of
from engine.recommend.base import COLD_START_GLOBAL, COLD_START_SEGMENT
from engine.recommend.popularity import PopularityRecommender

from .conftest import planted_shop


def _renamed(prefix: str) -> SegmentRules:
    rules = DEFAULT_SEGMENT_RULES.model_dump()
    for rule in rules["rules"]:
        rule["name"] = f"{prefix}{rule['name']}"
    return SegmentRules.model_validate(rules)


def test_a_renamed_segment_gets_its_segment_popularity_when_the_rules_are_passed():
    shop, rules = planted_shop(), _renamed("Shop's ")
    segment = customer_view(shop, default_as_of(shop), rules)["segment"].iloc[0]
    assert segment.startswith("Shop's ")
    model = PopularityRecommender().fit(shop, segment_rules=rules)
    (answer,) = model.recommend("a-new-customer", k=3, segments={"a-new-customer": segment})
    assert answer.source == COLD_START_SEGMENT


def test_with_the_default_rules_the_renamed_segment_is_unknown_and_falls_back_to_global():
    shop, rules = planted_shop(), _renamed("Shop's ")
    model = PopularityRecommender().fit(shop)
    (answer,) = model.recommend("a-new-customer", k=3, segments={"a-new-customer": rules.names[0]})
    assert answer.source == COLD_START_GLOBAL
