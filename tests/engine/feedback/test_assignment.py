import pytest

from engine.errors import EngineError
from engine.feedback.assignment import CHALLENGER, CHAMPION, assign_variant, bucket


def test_assignment_is_sticky_and_splits_near_the_share():
    customers = [f"c{i}" for i in range(20_000)]
    arms = [assign_variant("exp-a", c, 0.3) for c in customers]
    assert arms == [assign_variant("exp-a", c, 0.3) for c in customers]
    share = arms.count(CHALLENGER) / len(arms)
    assert abs(share - 0.3) < 0.015  # 4.6 binomial standard errors


def test_experiments_reshuffle_independently():
    customers = [f"c{i}" for i in range(10_000)]
    a = [assign_variant("exp-a", c, 0.5) == CHALLENGER for c in customers]
    b = [assign_variant("exp-b", c, 0.5) == CHALLENGER for c in customers]
    agreement = sum(x == y for x, y in zip(a, b)) / len(customers)
    assert abs(agreement - 0.5) < 0.03


def test_share_bounds_and_extremes():
    assert assign_variant("e", "c1", 0.0) == CHAMPION
    assert assign_variant("e", "c1", 1.0) == CHALLENGER
    assert 0.0 <= bucket("e", "c1") < 1.0
    with pytest.raises(EngineError, match="challenger_share"):
        assign_variant("e", "c1", 1.5)
