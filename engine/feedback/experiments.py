"""Online experiment analysis: per-variant metrics from recommendation events, their confidence
intervals and a decision rule (promote the challenger, roll it back, keep running, or keep the champion).

The unit of randomisation is the customer (:func:`engine.feedback.assignment.assign_variant`), so the
unit of analysis is the customer too: events are first summed per customer, and every variance is a
variance across customers. Treating each shown item or each request as independent would understate
the variance (a customer's answers are correlated) and make the test call too many winners.

Metrics (challenger minus champion, with a two-sided ``1 - alpha`` interval):

- ``hit_rate``: requests with at least one recommended item bought / requests shown;
- ``conversion``: recommended items bought / recommended items shown;
- ``revenue_per_customer``: value of the bought recommendations per exposed customer.

The two rates are ratios of customer sums; their variance is the delta-method (linearised) variance of
a ratio of means across customers, which is exact for large samples and reduces to the familiar
difference-of-proportions variance when every customer has one request. Revenue per customer is a
plain mean across customers, compared with Welch's t interval (unequal variances; with hundreds of
customers per arm the mean is close to normal even for a skewed revenue, and the interval costs no
resampling, unlike a bootstrap, so it stays cheap enough to recompute on every report).

The decision rule is a fixed-horizon test: analyse once, when the planned sample is in. Checking it
every day and stopping at the first significant answer would inflate the false-positive rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from engine.errors import EngineError
from engine.feedback.assignment import CHALLENGER, CHAMPION
from engine.feedback.events import EVENT_TYPES, EventColumns

Metric = Literal["hit_rate", "conversion", "revenue_per_customer"]
METRICS: tuple[str, ...] = ("hit_rate", "conversion", "revenue_per_customer")
Decision = Literal["promote", "rollback", "keep_running", "keep_champion", "check_assignment"]

SHOWN, BOUGHT = "rec_shown", "rec_bought"
_RATIOS = {"hit_rate": ("hits", "requests"), "conversion": ("bought", "shown")}
_NEEDED = (
    EventColumns.event_type,
    EventColumns.customer_id,
    EventColumns.item_id,
    EventColumns.request_id,
    EventColumns.variant,
    EventColumns.value,
)


class DecisionRule(BaseModel):
    """When the challenger replaces the champion (validated; a misspelt key is an error).

    ``minimum_detectable_effect`` is relative to the champion's primary metric: the smallest lift worth
    detecting, from which the sample size per arm is computed. ``guardrails`` maps a metric to the
    largest relative loss tolerated: the challenger is promoted only if the interval of its difference
    on that metric lies above ``-margin x champion value`` (non-inferiority shown)."""

    model_config = ConfigDict(extra="forbid")
    primary_metric: Metric = "hit_rate"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0.5, lt=1)
    minimum_detectable_effect: float = Field(0.05, gt=0)
    guardrails: dict[Metric, float] = Field(default_factory=lambda: {"revenue_per_customer": 0.10})  # type: ignore[arg-type]
    challenger_share: float | None = Field(None, gt=0, lt=1)
    srm_alpha: float = Field(0.001, gt=0, lt=1)


@dataclass(frozen=True)
class Comparison:
    """One metric in both arms and the challenger's difference with its interval."""

    metric: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    standard_error: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExperimentReport:
    """Per-arm sizes, every metric's comparison, the sample size the rule needs, and its decision."""

    customers: dict[str, int]
    comparisons: dict[str, Comparison]
    required_customers_per_arm: int
    srm_p_value: float | None
    decision: str
    reason: str

    @property
    def primary(self) -> Comparison:
        return next(iter(self.comparisons.values()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "comparisons": {name: value.as_dict() for name, value in self.comparisons.items()},
            "required_customers_per_arm": self.required_customers_per_arm,
            "srm_p_value": self.srm_p_value,
            "decision": self.decision,
            "reason": self.reason,
        }


def check_events(events: pd.DataFrame) -> pd.DataFrame:
    """The events with the columns the analysis needs; an unknown event type names its first row."""
    missing = [column for column in _NEEDED if column not in events.columns]
    if missing:
        raise EngineError(f"events lack column(s) {missing}; expected the columns of EventColumns")
    unknown = ~events[EventColumns.event_type].isin(EVENT_TYPES)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise EngineError(
            f"events row {row}: event_type {events[EventColumns.event_type].iloc[row]!r} is not one of {EVENT_TYPES}"
        )
    value = pd.to_numeric(events[EventColumns.value], errors="coerce")
    bad = value.isna() & events[EventColumns.event_type].eq(BOUGHT)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise EngineError(f"events row {row}: rec_bought needs a numeric value, got {events[EventColumns.value].iloc[row]!r}")
    return events.assign(**{EventColumns.value: value.fillna(0.0)})


def customer_outcomes(events: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, customer) who was shown recommendations: ``requests`` (answers shown), ``hits``
    (answers with at least one item bought), ``shown`` and ``bought`` (recommended items; an item
    counts once per answer) and ``revenue`` (value of the bought recommendations). Events of other
    types are ignored; a purchase of an item that was not shown in that answer is not a conversion, nor
    is one timed before the answer was first shown (when the events carry timestamps, as stored ones do)."""
    e = EventColumns
    events = check_events(events)
    keys = [e.variant, e.customer_id, e.request_id, e.item_id]
    shown = events.loc[events[e.event_type].eq(SHOWN), keys].drop_duplicates()
    bought = events.loc[events[e.event_type].eq(BOUGHT), keys + [e.value]]
    if e.timestamp in events.columns:
        moment = pd.to_datetime(events[e.timestamp], utc=True, errors="coerce")
        first_shown = moment[events[e.event_type].eq(SHOWN)].groupby(
            [events[k] for k in keys], sort=False, dropna=False).min().rename("shown_at").reset_index()
        bought = bought.assign(bought_at=moment[bought.index]).merge(first_shown, on=keys, how="left")
        bought = bought.loc[~(bought["bought_at"] < bought["shown_at"]), keys + [e.value]]  # unknown times are kept
    bought = bought.groupby(keys, sort=False, dropna=False)[e.value].sum().rename("revenue").reset_index()
    lines = shown.merge(bought, on=keys, how="left")
    lines["bought"] = lines["revenue"].notna()
    lines["revenue"] = lines["revenue"].fillna(0.0)
    lines["shown"] = 1
    requests = lines.groupby(keys[:3], sort=False)[["shown", "bought", "revenue"]].sum()
    requests["hits"] = requests["bought"] > 0
    requests["requests"] = 1
    table = requests.groupby(level=[0, 1])[["requests", "shown", "hits", "bought", "revenue"]].sum()
    return table.astype({"requests": int, "shown": int, "hits": int, "bought": int, "revenue": float})


def _arm_estimate(arm: pd.DataFrame, metric: str) -> tuple[float, float, float]:
    """(value, variance of the value, per-customer variance) of ``metric`` in one arm."""
    n = len(arm)
    if metric in _RATIOS:
        numerator, denominator = (arm[column].to_numpy(dtype=float) for column in _RATIOS[metric])
        ratio = numerator.sum() / denominator.sum()
        linearised = (numerator - ratio * denominator) / denominator.mean()
        spread = float(linearised.var(ddof=1))
        return float(ratio), spread / n, spread
    revenue = arm["revenue"].to_numpy(dtype=float)
    spread = float(revenue.var(ddof=1))
    return float(revenue.mean()), spread / n, spread


def compare(outcomes: pd.DataFrame, metric: str, alpha: float) -> tuple[Comparison, float]:
    """The challenger's difference on ``metric`` with a two-sided ``1 - alpha`` interval, and the
    per-customer variance summed over both arms (what the sample-size formula needs)."""
    if metric not in METRICS:
        raise EngineError(f"metric must be one of {METRICS}, got {metric!r}")
    arms = {arm: outcomes.xs(arm, level=EventColumns.variant) for arm in (CHAMPION, CHALLENGER)}
    (value0, var0, spread0), (value1, var1, spread1) = (_arm_estimate(arms[a], metric) for a in (CHAMPION, CHALLENGER))
    se = float(np.sqrt(var0 + var1))
    if metric in _RATIOS:
        quantile = float(stats.norm.ppf(1 - alpha / 2))
    else:  # Welch-Satterthwaite degrees of freedom
        n0, n1 = len(arms[CHAMPION]), len(arms[CHALLENGER])
        df = (var0 + var1) ** 2 / (var0**2 / (n0 - 1) + var1**2 / (n1 - 1)) if var0 + var1 > 0 else np.inf
        quantile = float(stats.t.ppf(1 - alpha / 2, df))
    difference = value1 - value0
    comparison = Comparison(metric, value0, value1, difference, difference - quantile * se, difference + quantile * se, se)
    return comparison, spread0 + spread1


def required_customers(spread: float, effect: float, alpha: float, power: float) -> int:
    """Customers per arm for a two-sided test at ``alpha`` to detect an absolute ``effect`` with
    ``power``, given the summed per-customer variance of both arms: ``(z_(1-alpha/2) + z_power)^2 x
    spread / effect^2``."""
    if effect <= 0:
        raise EngineError(f"the effect to detect must be positive, got {effect}")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(np.ceil(z**2 * spread / effect**2))


def _srm_p_value(counts: dict[str, int], share: float | None) -> float | None:
    """Sample-ratio mismatch: the chi-square p-value of the arm sizes against the configured split."""
    if share is None:
        return None
    total = counts[CHAMPION] + counts[CHALLENGER]
    expected = [total * (1 - share), total * share]
    return float(stats.chisquare([counts[CHAMPION], counts[CHALLENGER]], expected).pvalue)


def analyse(events: pd.DataFrame, rule: DecisionRule | None = None) -> ExperimentReport:
    """Per-variant metrics, intervals and the decision of ``rule`` on an experiment's events.

    Decisions: ``rollback`` when the primary metric is significantly worse; ``promote`` when it is
    significantly better and every guardrail's non-inferiority is shown; otherwise ``keep_running``
    while an arm has fewer customers than the sample size needed for the minimum detectable effect,
    and ``keep_champion`` after that (no effect of that size); ``check_assignment`` when the arm sizes
    contradict the configured split (a broken assignment invalidates every comparison).
    Events outside the experiment (empty ``variant``) are left out; a customer seen in both arms is an
    error, since assignment is sticky.
    """
    rule = rule or DecisionRule()
    outcomes = customer_outcomes(events)
    variants = outcomes.index.get_level_values(EventColumns.variant)
    outcomes = outcomes.loc[variants.isin([CHAMPION, CHALLENGER])]
    variants = outcomes.index.get_level_values(EventColumns.variant)
    customers = outcomes.index.get_level_values(EventColumns.customer_id)
    both = customers[customers.duplicated()]
    if len(both):
        raise EngineError(f"customer {both[0]!r} has events in both arms; assignment must be sticky per customer")
    counts = {arm: int((variants == arm).sum()) for arm in (CHAMPION, CHALLENGER)}
    small = [arm for arm, count in counts.items() if count < 2]
    if small:
        raise EngineError(f"arm(s) {small} have fewer than 2 customers with rec_shown events: {counts}")
    names: list[str] = [str(rule.primary_metric), *(str(name) for name in rule.guardrails if name != rule.primary_metric)]
    names += [name for name in METRICS if name not in names]
    compared = {name: compare(outcomes, name, rule.alpha) for name in names}
    comparisons = {name: result[0] for name, result in compared.items()}
    primary, spread = compared[rule.primary_metric]
    effect = rule.minimum_detectable_effect * abs(primary.champion)
    required = required_customers(spread, effect, rule.alpha, rule.power) if effect > 0 else 0
    srm = _srm_p_value(counts, rule.challenger_share)
    decision, reason = _decide(rule, comparisons, counts, required, srm)
    return ExperimentReport(counts, comparisons, required, srm, decision, reason)


def _decide(
    rule: DecisionRule, comparisons: dict[str, Comparison], counts: dict[str, int], required: int, srm: float | None
) -> tuple[Decision, str]:
    primary = comparisons[rule.primary_metric]
    interval = f"{primary.metric} difference {primary.difference:+.4f} [{primary.ci_low:+.4f}, {primary.ci_high:+.4f}]"
    if srm is not None and srm < rule.srm_alpha:
        return "check_assignment", (
            f"arm sizes {counts} contradict the configured challenger share {rule.challenger_share} "
            f"(sample-ratio mismatch p={srm:.2g}); fix the assignment before reading any metric"
        )
    if primary.ci_high < 0:
        return "rollback", f"challenger significantly worse: {interval}"
    if primary.ci_low > 0:
        failed = [
            f"{name} difference {comparisons[name].difference:+.4g} (lower bound {comparisons[name].ci_low:+.4g} "
            f"below -{margin:g} x champion {comparisons[name].champion:.4g})"
            for name, margin in rule.guardrails.items()
            if comparisons[name].ci_low < -margin * abs(comparisons[name].champion)
        ]
        if not failed:
            return "promote", f"challenger significantly better: {interval}; guardrails hold"
        if min(counts.values()) < required:
            return "keep_running", f"{interval}, but guardrail not shown yet: {'; '.join(failed)}"
        return "keep_champion", f"{interval}, but guardrail fails: {'; '.join(failed)}"
    if min(counts.values()) < required:
        return "keep_running", (
            f"{interval} includes 0 with {min(counts.values())} customers in the smaller arm; "
            f"{required} per arm are needed to detect a {rule.minimum_detectable_effect:.0%} change"
        )
    return "keep_champion", (
        f"{interval} includes 0 with the planned sample ({required} per arm): no "
        f"{rule.minimum_detectable_effect:.0%} change; the champion stays"
    )
