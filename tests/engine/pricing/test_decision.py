"""The decision rule: the certainty-equivalent profit against quadrature and hand-computed optima."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.pricing import decision as D
from engine.pricing import guardrails as G


def test_risk_neutral_certainty_equivalent_is_the_expected_profit():
    # rho = 0: log CE differences are log differences of E[(p - c) (p / r) ** e], e ~ N(-2.5, 0.4^2),
    # computed here by Gauss-Hermite quadrature
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    e, se, cost, reference = -2.5, 0.4, 2.0, 4.99
    curvature = D.penalty(se, 0.0)

    def expected(price: float) -> float:
        return float(np.sum(weights * (price - cost) * (price / reference) ** (e + se * nodes)) / np.sqrt(2 * np.pi))

    for price in (3.49, 4.49, 6.99, 9.99):
        sign, value = D.certainty_equivalent(price, reference, e, cost, curvature)
        assert sign == 1 and value == pytest.approx(math.log(expected(price)), abs=1e-9)


@pytest.mark.parametrize("e", [-1.5, -2.5, -4.0])
def test_the_estimate_alone_gives_the_constant_elasticity_optimum(e):
    assert D.optimum(4.99, e, 2.0, D.penalty(0.3, 1.0)) == pytest.approx(2.0 * e / (1 + e))
    assert D.optimum(4.99, e, 0.0, 0.0) == 0.0  # revenue: as low as allowed
    assert D.optimum(4.99, -0.8, 2.0, 0.0) == math.inf  # inelastic: as high as allowed


def test_more_doubt_or_risk_aversion_moves_the_aim_towards_the_reference_price():
    reference, cost, e = 4.99, 2.0, -2.5  # the estimate alone: 3.33
    aims = [D.optimum(reference, e, cost, D.penalty(se, 25.0)) for se in (0.0, 0.1, 0.3, 0.6, 1.0)]
    assert aims[0] == pytest.approx(10 / 3)
    assert all(a < b for a, b in zip(aims, aims[1:])) and aims[-1] < reference
    for aim, se in zip(aims[1:], (0.1, 0.3, 0.6, 1.0)):  # the aim is where d log CE / dL = 0
        move = math.log(aim / reference)
        assert aim / (aim - cost) + e - D.penalty(se, 25.0) * move == pytest.approx(0.0, abs=1e-9)
        # and where the plug-in rule would go with the certainty-equivalent elasticity
        e_ce = D.equivalent_elasticity(aim, reference, e, D.penalty(se, 25.0))
        assert cost * e_ce / (1 + e_ce) == pytest.approx(aim)


def test_an_inelastic_estimate_gets_a_bounded_raise_and_revenue_a_closed_form():
    aim = D.optimum(4.99, -0.6, 2.0, D.penalty(0.3, 25.0))
    assert 4.99 < aim < math.inf
    curvature = D.penalty(0.3, 25.0)
    assert D.optimum(4.99, -2.0, 0.0, curvature) == pytest.approx(4.99 * math.exp(-1.0 / curvature))


@pytest.mark.parametrize(("reference", "cost"), [(0.01, 0.009), (1e9, 0.01), (1e9, 9.9e8), (0.02, 1e-6), (1e9, 1e-5)])
def test_extreme_magnitudes_stay_finite_and_above_cost(reference, cost):
    for e in (-50.0, -1.2, -0.1, 2.0):
        aim = D.optimum(reference, e, cost, D.penalty(0.5, 25.0))
        assert math.isfinite(aim) and aim > cost
        if e > -1:  # profit rises with the price at the estimate: the aim is a raise, however cheap the cost
            assert aim > reference
        assert D.best_price([reference, aim], reference, e, cost, D.penalty(0.5, 25.0)) in (reference, aim)


def test_a_loss_ranks_below_any_gain_and_smaller_losses_first():
    key = lambda p: D.certainty_equivalent(p, 5.0, -2.0, 4.0, 0.5)  # noqa: E731
    assert key(4.5) > key(4.0) > key(3.5) > key(3.0)  # 4.0: break even; below it, the loss at the estimate
    assert D.best_price([3.0, 3.5, 4.5], 5.0, -2.0, 4.0, 0.5) == 4.5


def test_uncertainty_flags_name_what_the_decision_weighed():
    interval = G.Interval(low=2.5, high=7.5, low_rule=None, high_rule=None, relaxed=(), floor=2.1, ceiling=7.5)
    sure = D.uncertainty_flags(interval, 4.99, -2.5, -2.0, 2.0, D.optimum(4.99, -2.5, 2.0, D.penalty(0.05, 25.0)))
    assert sure == []
    unsure = D.uncertainty_flags(interval, 4.99, -0.9, 0.3, 2.0, D.optimum(4.99, -0.9, 2.0, D.penalty(0.6, 25.0)))
    assert unsure == [G.NOT_SIGNIFICANT, G.INELASTIC, G.UNCERTAIN]
