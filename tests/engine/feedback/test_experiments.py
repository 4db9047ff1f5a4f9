import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.errors import EngineError
from engine.feedback.assignment import CHALLENGER, CHAMPION, assign_variant
from engine.feedback.events import EventColumns as E
from engine.feedback.experiments import DecisionRule, analyse, customer_outcomes, required_customers


def _event(kind, customer, request, item, variant, value=0.0):
    return {E.event_type: kind, E.customer_id: customer, E.request_id: request, E.item_id: item, E.variant: variant, E.value: value}


def _hand_events() -> pd.DataFrame:
    rows = []
    for customer, request, variant, bought in (
        ("a", "r1", CHAMPION, {"x": 10.0}),
        ("b", "r2", CHAMPION, {}),
        ("c", "r3", CHALLENGER, {"x": 5.0, "y": 5.0}),
        ("d", "r4", CHALLENGER, {"y": 2.0}),
    ):
        rows += [_event("rec_shown", customer, request, item, variant) for item in ("x", "y")]
        rows += [_event("rec_bought", customer, request, item, variant, value) for item, value in bought.items()]
    rows.append(_event("rec_bought", "b", "r2", "z", CHAMPION, 99.0))  # z was not shown: not a conversion
    rows.append(_event("rec_clicked", "b", "r2", "x", CHAMPION))  # other types are ignored
    rows += [_event("rec_shown", "e", "r5", "x", ""), _event("rec_bought", "e", "r5", "x", "", 7.0)]  # no experiment
    return pd.DataFrame(rows)


def test_customer_outcomes_count_each_customer_once():
    table = customer_outcomes(_hand_events())
    assert table.loc[(CHAMPION, "a")].to_dict() == {"requests": 1, "shown": 2, "hits": 1, "bought": 1, "revenue": 10.0}
    assert table.loc[(CHAMPION, "b")].to_dict() == {"requests": 1, "shown": 2, "hits": 0, "bought": 0, "revenue": 0.0}
    assert table.loc[(CHALLENGER, "c"), "bought"] == 2


def test_hand_computed_intervals():
    report = analyse(_hand_events(), DecisionRule(alpha=0.05, guardrails={}))
    z = stats.norm.ppf(0.975)
    hit = report.comparisons["hit_rate"]
    # champion hits [1, 0] over one request each: 0.5, linearised variance 0.5 / 2; challenger 1.0, variance 0
    assert (hit.champion, hit.challenger) == (0.5, 1.0)
    assert hit.standard_error == pytest.approx(0.5)
    assert hit.ci_low == pytest.approx(0.5 - z * 0.5)
    conversion = report.comparisons["conversion"]
    # bought/shown: [1, 0]/[2, 2] = 0.25 and [2, 1]/[2, 2] = 0.75; each arm's variance 0.125 / 2
    assert (conversion.champion, conversion.challenger) == (0.25, 0.75)
    assert conversion.standard_error == pytest.approx(np.sqrt(0.125))
    revenue = report.comparisons["revenue_per_customer"]
    # [10, 0] and [10, 2]: means 5 and 6, variances of the means 25 and 16, Welch df 41^2 / (25^2 + 16^2)
    assert revenue.difference == pytest.approx(1.0)
    assert revenue.standard_error == pytest.approx(np.sqrt(41.0))
    half_width = stats.t.ppf(0.975, 41.0**2 / (25.0**2 + 16.0**2)) * np.sqrt(41.0)
    assert revenue.ci_high == pytest.approx(1.0 + half_width)
    assert report.customers == {CHAMPION: 2, CHALLENGER: 2}


def test_required_customers_matches_the_textbook_formula():
    # two proportions 0.5 vs 0.55: spread 0.25 + 0.2475, effect 0.05 -> (1.96 + 0.8416)^2 x 0.4975 / 0.0025
    assert required_customers(0.4975, 0.05, 0.05, 0.8) == 1562


def _simulate(seed: int, lift: float, customers: int = 600, base: float = 0.3) -> pd.DataFrame:
    """Customers with their own propensity (beta around ``base``), 1-3 requests of 3 shown items; the
    challenger's items are bought with ``lift`` added to the probability."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{seed}-{i}" for i in range(customers)])
    arm = np.array([assign_variant(f"sim-{seed}", c, 0.5) for c in ids])
    propensity = rng.beta(3, 3 * (1 - base) / base, customers) + np.where(arm == CHALLENGER, lift, 0.0)
    requests = rng.integers(1, 4, customers)
    customer = np.repeat(np.arange(customers), requests * 3)
    request = np.concatenate([np.repeat(np.arange(n), 3) for n in requests])
    shown = pd.DataFrame(
        {
            E.event_type: "rec_shown",
            E.customer_id: ids[customer],
            E.request_id: [f"{c}-{r}" for c, r in zip(ids[customer], request)],
            E.item_id: np.tile(["i1", "i2", "i3"], len(customer) // 3),
            E.variant: arm[customer],
            E.value: 0.0,
        }
    )
    bought = shown.loc[rng.random(len(shown)) < np.clip(propensity[customer], 0, 1)].assign(
        **{E.event_type: "rec_bought", E.value: lambda f: rng.lognormal(1.0, 0.8, len(f))}
    )
    return pd.concat([shown, bought], ignore_index=True)


@pytest.mark.slow  # 200 simulated A/A experiments (a calibration check, not a unit test)
def test_aa_false_positive_rate_is_near_alpha():
    rule = DecisionRule(alpha=0.05, guardrails={})
    significant = sum(analyse(_simulate(seed, 0.0, customers=400), rule).decision in ("promote", "rollback") for seed in range(200))
    # 200 A/A experiments at alpha 0.05: 10 expected, binomial sd 3.1; P(outside [3, 19]) < 1%
    assert 3 <= significant <= 19


def test_ab_with_a_known_lift_is_promoted_and_covered():
    rule = DecisionRule(alpha=0.05)
    reports = [analyse(_simulate(seed, 0.08), rule) for seed in range(40)]
    assert sum(r.decision == "promote" for r in reports) >= 36
    # the lift is on each shown item's purchase probability, i.e. on conversion (bought / shown)
    conversion = [r.comparisons["conversion"] for r in reports]
    covered = sum(c.ci_low <= 0.08 <= c.ci_high for c in conversion)
    assert covered >= 34  # 95% intervals: 38 expected
    worse = analyse(_simulate(7, -0.08), rule)
    assert worse.decision == "rollback"


def test_underpowered_keeps_running_and_states_the_sample_size():
    report = analyse(_simulate(0, 0.0, customers=60), DecisionRule(minimum_detectable_effect=0.05))
    assert report.decision == "keep_running"
    assert report.required_customers_per_arm > 60
    assert str(report.required_customers_per_arm) in report.reason
    # the same null experiment with a sample large enough for a 50% change: the champion stays
    report = analyse(_simulate(0, 0.0, customers=600), DecisionRule(minimum_detectable_effect=0.5))
    assert report.required_customers_per_arm < 250
    assert report.decision == "keep_champion"


def test_guardrail_blocks_a_promotion():
    events = _simulate(5, 0.15)
    shown = events[E.event_type].eq("rec_bought") & events[E.variant].eq(CHALLENGER)
    events.loc[shown, E.value] = events.loc[shown, E.value] * 0.2  # more hits, far less revenue
    report = analyse(events, DecisionRule(guardrails={"revenue_per_customer": 0.05}))
    assert report.primary.ci_low > 0
    assert report.decision in ("keep_champion", "keep_running")
    assert "revenue_per_customer" in report.reason


def test_sample_ratio_mismatch_is_flagged():
    events = _simulate(1, 0.0)
    champions = events[E.variant].eq(CHAMPION)
    dropped = events.loc[champions, E.customer_id].drop_duplicates().iloc[::2]
    events = events.loc[~events[E.customer_id].isin(dropped)]
    report = analyse(events, DecisionRule(challenger_share=0.5))
    assert report.decision == "check_assignment"


def test_bad_events_are_named():
    events = _hand_events()
    with pytest.raises(EngineError, match="row 3: event_type 'bougth'"):
        analyse(events.assign(**{E.event_type: events[E.event_type].where(events.index != 3, "bougth")}))
    with pytest.raises(EngineError, match=r"lack column\(s\) \['variant'\]"):
        analyse(events.drop(columns=E.variant))
    sticky = pd.concat([events, pd.DataFrame([_event("rec_shown", "a", "r9", "x", CHALLENGER)])], ignore_index=True)
    with pytest.raises(EngineError, match="customer 'a' has events in both arms"):
        analyse(sticky)
    with pytest.raises(EngineError, match="fewer than 2 customers"):
        analyse(events[events[E.customer_id] != "a"])


def test_a_purchase_timed_before_the_answer_was_shown_is_not_attributed():
    events = pd.DataFrame([_event("rec_shown", "a", "r1", "x", CHAMPION), _event("rec_shown", "a", "r1", "y", CHAMPION),
                           _event("rec_bought", "a", "r1", "x", CHAMPION, 4.0), _event("rec_bought", "a", "r1", "y", CHAMPION, 6.0)])
    events[E.timestamp] = ["2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z", "2026-11-02T10:05:00Z", "2026-11-01T09:00:00Z"]
    row = customer_outcomes(events).loc[(CHAMPION, "a")]
    assert (row["bought"], row["revenue"], row["hits"]) == (1, 4.0, 1)  # y was bought the day before it was shown
    untimed = customer_outcomes(events.drop(columns=[E.timestamp])).loc[(CHAMPION, "a")]
    assert (untimed["bought"], untimed["revenue"]) == (2, 10.0)
