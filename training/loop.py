"""The offline feedback loop (``crm bench loop``): a week-by-week replay of a shop's history.

1. **Offline bench**: the champion and the challenger recommenders are fitted before the last
   ``offline_holdout_weeks`` of the training period and scored on them (engine metrics, the
   experiment's primary metric), which orders the two.
2. **A/B**: both are fitted on the ``train_weeks`` and served side by side for ``ab_weeks`` weeks,
   customers split by :func:`engine.feedback.assignment.assign_variant`; the events are analysed by
   :func:`engine.feedback.experiments.analyse` and its decision says which one serves afterwards.
3. **Monitored serving**: the serving model answers every active customer each week; the week's
   events give its realised hit rate; :mod:`engine.feedback.shift_detection` checks it and the
   purchased-item PSI against the first weeks after deployment, and a breach retrains the model on
   everything up to that week (served from the next one); so does the schedule (every
   ``retrain_every_weeks`` from the first served week, whatever breaches retrained in between). A shift is planted (a share of the
   catalogue gets new ids from ``shift.week`` on) and, with ``control``, the same weeks are replayed
   without it to count false alarms.

Recommenders are called in process (no HTTP); customers buy what they actually bought that week.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.feedback.assignment import CHALLENGER, CHAMPION, assign_variant
from engine.feedback.events import EventColumns
from engine.feedback.experiments import DecisionRule, analyse, customer_outcomes
from engine.feedback.replay import complete_weeks, plant_new_range, recommendation_events, week_of, week_start
from engine.feedback.shift_detection import ItemBins, ShiftRule, breaches, item_bins
from engine.monitoring.drift import psi_from_shares
from engine.recommend.base import RecommenderModel
from engine.recommend.evaluation import evaluate_model, relevant_items
from engine.recommend.registry import make_recommender

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "loop.yaml"
Progress = Callable[[str], None]
# the offline metric that orders what the online primary metric measures (bought / shown is precision;
# revenue has no offline counterpart in the engine's metrics, hit rate stands in)
_OFFLINE_METRIC = {"hit_rate": "hit_rate", "conversion": "precision", "revenue_per_customer": "hit_rate"}


class ModelSpec(BaseModel):
    """A recommender by kind and parameters (as :func:`make_recommender` takes them)."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class ShiftConfig(BaseModel):
    """The planted shift: from ``week`` on, a random ``share`` of the catalogue is sold under new ids."""

    model_config = ConfigDict(extra="forbid")
    week: int = Field(ge=1)
    share: float = Field(0.5, gt=0, le=1)


class LoopConfig(BaseModel):
    """``configs/loop.yaml`` (validated; a misspelt key is an error naming it)."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 42
    k: int = Field(10, ge=1)
    task: Literal["repeat", "discovery"] = "repeat"
    train_weeks: int = Field(16, ge=2)
    offline_holdout_weeks: int = Field(4, ge=1)
    ab_weeks: int = Field(4, ge=1)
    challenger_share: float = Field(0.5, gt=0, lt=1)
    champion: ModelSpec
    challenger: ModelSpec
    decision: DecisionRule = Field(default_factory=DecisionRule)
    monitor: ShiftRule = Field(default_factory=ShiftRule)
    shift: ShiftConfig | None = None
    restore_weeks: int = Field(4, ge=1)
    retrain_every_weeks: int | None = Field(None, ge=1)
    control: bool = True


def load_config(path: str | Path | None = None) -> LoopConfig:
    """Read and validate the loop config (default: ``configs/loop.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        raise EngineError(f"loop config {path} does not exist")
    return LoopConfig.model_validate(yaml.safe_load(path.read_text()) or {})


@dataclass
class Weeks:
    """The transactions with each line's week number, cut into weeks once."""

    transactions: pd.DataFrame
    start: pd.Timestamp
    number: np.ndarray
    count: int
    delisted: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    delisted_from: int | None = None

    @classmethod
    def of(cls, transactions: pd.DataFrame) -> Weeks:
        start = week_start(transactions)
        return cls(transactions, start, week_of(transactions, start), complete_weeks(transactions, start))

    def before(self, week: int) -> pd.DataFrame:
        return self.transactions.loc[self.number < week]

    def of_week(self, week: int) -> pd.DataFrame:
        return self.transactions.loc[self.number == week]

    def begins(self, week: int) -> pd.Timestamp:
        return self.start + pd.Timedelta(weeks=week)

    def not_offered(self, week: int) -> np.ndarray | None:
        """Items the storefront no longer offers in ``week`` (the ids a new range replaced)."""
        return self.delisted if self.delisted_from is not None and week >= self.delisted_from else None


def _fit(spec: ModelSpec, weeks: Weeks, before: int) -> RecommenderModel:
    """A model of ``spec`` fitted on the weeks before ``before``."""
    return make_recommender(spec.kind, spec.params).fit(weeks.before(before), as_of=weeks.begins(before))


def _label(spec: ModelSpec, trained_before: int) -> str:
    return f"{spec.kind}@w{trained_before}"


def _active(lines: pd.DataFrame) -> list[str]:
    """Customers who bought something this week (they visit the storefront and are shown a list)."""
    return sorted(lines.loc[lines[Columns.quantity] > 0, Columns.customer].astype(str).unique())


def _rates(events: pd.DataFrame) -> dict[str, float]:
    """Realised hit rate, conversion and revenue per customer of one set of events."""
    totals = customer_outcomes(events).sum()
    return {
        "hit_rate": float(totals["hits"] / totals["requests"]),
        "conversion": float(totals["bought"] / totals["shown"]),
        "revenue_per_customer": float(totals["revenue"] / totals["requests"]),
        "customers": int(totals["requests"]),
    }


def check_timeline(config: LoopConfig, n_weeks: int) -> None:
    """The phases must fit in the data, in order; the error names the setting to change."""
    serving = config.train_weeks + config.ab_weeks
    if config.offline_holdout_weeks >= config.train_weeks:
        raise EngineError(f"offline_holdout_weeks={config.offline_holdout_weeks} must be below train_weeks={config.train_weeks}")
    if serving + config.monitor.reference_weeks >= n_weeks:
        raise EngineError(f"the data has {n_weeks} complete weeks: too few for train_weeks + ab_weeks + reference_weeks")
    if config.shift is not None:
        earliest = serving + config.monitor.reference_weeks
        latest = n_weeks - config.restore_weeks - 2
        if not earliest <= config.shift.week <= latest:
            raise EngineError(
                f"shift.week={config.shift.week} must be within [{earliest}, {latest}]: after the A/B and the "
                f"monitor's reference weeks, and early enough to leave restore_weeks={config.restore_weeks} after a retrain"
            )


def offline_ordering(weeks: Weeks, config: LoopConfig) -> dict[str, Any]:
    """Both recommenders fitted before the holdout (the last weeks of the training period) and scored
    on it with the engine's metrics; ``better`` is the arm with the higher primary metric."""
    cut = config.train_weeks - config.offline_holdout_weeks
    history = weeks.before(cut)
    holdout = weeks.transactions.loc[(weeks.number >= cut) & (weeks.number < config.train_weeks)]
    relevant = relevant_items(holdout, history, task=config.task)
    metric = f"{_OFFLINE_METRIC[config.decision.primary_metric]}@{config.k}"
    scores = {}
    for arm, spec in ((CHAMPION, config.champion), (CHALLENGER, config.challenger)):
        metrics = evaluate_model(_fit(spec, weeks, cut), relevant, k=config.k, task=config.task)
        scores[arm] = {"model": spec.kind, **metrics}
    better = CHALLENGER if scores[CHALLENGER][metric] > scores[CHAMPION][metric] else CHAMPION
    return {"fitted_before_week": cut, "holdout_weeks": [cut, config.train_weeks - 1], "metric": metric,
            "scores": scores, "better": better}


@dataclass
class ABOutcome:
    report: dict[str, Any]
    weeks: list[dict[str, Any]]
    events: pd.DataFrame
    serving: ModelSpec
    model: RecommenderModel
    label: str


def run_ab(weeks: Weeks, config: LoopConfig, progress: Progress) -> ABOutcome:
    """Champion and challenger fitted on the training weeks, served side by side by sticky customer
    hash, analysed once at the planned end; the arm the decision keeps is served afterwards."""
    first = config.train_weeks
    specs = {CHAMPION: config.champion, CHALLENGER: config.challenger}
    models = {arm: _fit(spec, weeks, first) for arm, spec in specs.items()}
    labels = {arm: _label(spec, first) for arm, spec in specs.items()}
    experiment = f"loop-{config.seed}"
    frames, rows = [], []
    for week in range(first, first + config.ab_weeks):
        lines = weeks.of_week(week)
        customers = _active(lines)
        variants = {c: assign_variant(experiment, c, config.challenger_share) for c in customers}
        recommendations = [
            result
            for arm, model in models.items()
            for result in model.recommend([c for c in customers if variants[c] == arm], k=config.k, task=config.task)
        ]
        events = recommendation_events(recommendations, lines, weeks.begins(week), f"w{week}:", variants, labels)
        frames.append(events)
        for arm in (CHAMPION, CHALLENGER):
            rows.append({"week": week, "variant": arm, "model": labels[arm],
                         **_rates(events.loc[events[EventColumns.variant] == arm])})
        progress(f"A/B week {week}: {len(customers)} customers")
    events = pd.concat(frames, ignore_index=True)
    rule = config.decision.model_copy(update={"challenger_share": config.challenger_share})
    report = analyse(events, rule)
    winner = CHALLENGER if report.decision == "promote" else CHAMPION
    payload = {**report.as_dict(), "experiment": experiment, "weeks": [first, first + config.ab_weeks - 1],
               "models": labels, "serving_after": winner}
    return ABOutcome(payload, rows, events, specs[winner], models[winner], labels[winner])


@dataclass
class _Served:
    """The model in service and the monitor's reference, set in its first weeks."""

    model: RecommenderModel
    label: str
    deployed: int
    known: frozenset[str]
    hit_rates: list[float] = field(default_factory=list)
    items: list[pd.Series] = field(default_factory=list)
    bins: ItemBins | None = None
    reference: np.ndarray | None = None


def _deploy(model: RecommenderModel, label: str, trained_before: int, deployed: int, weeks: Weeks) -> _Served:
    """The served state of a model fitted on the weeks before ``trained_before``, from week ``deployed``."""
    known = frozenset(weeks.before(trained_before)[Columns.item].astype(str).unique())
    return _Served(model, label, deployed, known)


def monitored_serving(
    weeks: Weeks, config: LoopConfig, ab: ABOutcome, progress: Progress, name: str
) -> list[dict[str, Any]]:
    """Serve every active customer week by week from the end of the A/B, measure each week from its
    events, check for a shift, and retrain on a breach or on the schedule (served from the next week)."""
    rule = config.monitor
    first = config.train_weeks + config.ab_weeks
    served = _deploy(ab.model, ab.label, config.train_weeks, first, weeks)
    rows = []
    every = config.retrain_every_weeks
    for week in range(first, weeks.count):
        lines = weeks.of_week(week)
        recommendations = served.model.recommend(
            _active(lines), k=config.k, task=config.task, exclude=weeks.not_offered(week)
        )
        events = recommendation_events(recommendations, lines, weeks.begins(week), f"w{week}:", model_versions={"": served.label})
        row: dict[str, Any] = {"week": week, "model": served.label, **_rates(events), "psi": None, "breaches": [],
                               "retrained": False, "retrain_reason": None}
        purchased = lines.loc[lines[Columns.quantity] > 0, Columns.item]
        if week - served.deployed < rule.reference_weeks:
            served.hit_rates.append(row["hit_rate"])
            served.items.append(purchased)
            row["reference"] = True
        else:
            if served.bins is None:
                pooled = pd.concat(served.items)
                served.bins = item_bins(pooled, served.known, rule.bins)
                served.reference = served.bins.shares(pooled)
            row["psi"] = psi_from_shares(served.reference, served.bins.shares(purchased))
            row["breaches"] = breaches(rule, row["hit_rate"], float(np.mean(served.hit_rates)), row["psi"])
        # the schedule is a calendar from the first served week: a breach's retrain does not move it, so
        # a model retrained on the first week of a shift is retrained again at the next scheduled date
        scheduled = every is not None and (week + 1 - first) % every == 0
        if (row["breaches"] or scheduled) and week + 1 < weeks.count:
            model = _fit(ab.serving, weeks, week + 1)
            served = _deploy(model, _label(ab.serving, week + 1), week + 1, week + 1, weeks)
            row["retrained"], row["retrain_reason"] = True, "breach" if row["breaches"] else "schedule"
        rows.append(row)
        drift = "" if row["psi"] is None else f", PSI {row['psi']:.3f}"
        progress(f"{name} week {week}: hit rate {row['hit_rate']:.3f}{drift}{' RETRAIN' if row['retrained'] else ''}")
    return rows


def summarise(rows: list[dict[str, Any]], config: LoopConfig) -> dict[str, Any]:
    """Detection delay, pre-shift and post-retrain hit rates, and the restored ratio of a shifted run."""
    if config.shift is None:
        return {"shift_detected_after_weeks": None, "restored_ratio": None}
    by_week = {row["week"]: row for row in rows}
    shift = config.shift.week
    pre = [row["hit_rate"] for row in rows if row["week"] < shift]
    detected = next((row["week"] for row in rows if row["week"] >= shift and row["breaches"]), None)
    summary: dict[str, Any] = {
        "shift_week": shift,
        "pre_shift_hit_rate": float(np.mean(pre)),
        "false_alarms_before_shift": [row["week"] for row in rows if row["week"] < shift and row["breaches"]],
        "detected_week": detected,
        "shift_detected_after_weeks": None if detected is None else detected - shift + 1,
        "restored_ratio": None,
    }
    if detected is not None and by_week[detected]["retrained"]:
        after = [by_week[w]["hit_rate"] for w in range(detected + 1, detected + 1 + config.restore_weeks) if w in by_week]
        summary["retrained_week"] = detected + 1
        summary["post_retrain_weeks"] = [detected + 1, detected + len(after)]
        summary["post_retrain_hit_rate"] = float(np.mean(after))
        summary["restored_ratio"] = float(np.mean(after) / np.mean(pre))
    return summary


def run_loop(transactions: pd.DataFrame, config: LoopConfig, progress: Progress = lambda _: None) -> dict[str, Any]:
    """The whole replay; returns the bench payload (see the module docstring)."""
    started = time.perf_counter()
    weeks = Weeks.of(transactions)
    check_timeline(config, weeks.count)
    progress("offline bench on the last training weeks")
    offline = offline_ordering(weeks, config)
    ab = run_ab(weeks, config, progress)
    if ab.report["decision"] in ("keep_running", "check_assignment"):
        agrees = False
    else:
        agrees = ab.report["serving_after"] == offline["better"]
    shifted, renewed = weeks, np.empty(0)
    if config.shift is not None:
        moved, renewed = plant_new_range(transactions, weeks.begins(config.shift.week), config.shift.share, config.seed)
        shifted = Weeks(moved, weeks.start, weeks.number, weeks.count, renewed, config.shift.week)
    rows = monitored_serving(shifted, config, ab, progress, "shifted" if config.shift else "served")
    payload: dict[str, Any] = {
        **summarise(rows, config),
        "ab_agrees_with_offline": agrees,
        "seed": config.seed,
        "weeks_in_data": weeks.count,
        "data_start": str(weeks.start.date()),
        "shift": None if config.shift is None else {**config.shift.model_dump(), "renewed_items": int(len(renewed))},
        "offline": offline,
        "ab": {**ab.report, "weekly": ab.weeks},
        "weeks": rows,
    }
    if config.control and config.shift is not None:
        control = monitored_serving(weeks, config, ab, progress, "control")
        payload["control"] = {
            "false_alarm_weeks": [row["week"] for row in control if row["breaches"]],
            "weeks": control,
        }
        if payload["restored_ratio"] is not None:  # the retrained model against the unshifted replay, same weeks
            first, last = payload["post_retrain_weeks"]
            same = [row["hit_rate"] for row in control if first <= row["week"] <= last]
            payload["control"]["hit_rate_same_weeks"] = float(np.mean(same))
            payload["restored_vs_control"] = payload["post_retrain_hit_rate"] / float(np.mean(same))
    payload["config"] = config.model_dump()
    payload["seconds"] = round(time.perf_counter() - started, 1)
    payload["ab_events"] = ab.events
    return payload


def plot_loop(payload: dict[str, Any]) -> Any:
    """Weekly realised hit rate: the A/B arms, the served model with the shift and the retrains
    marked, and the replay without the shift (control)."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(12, 4.5))
    for arm, style in ((CHAMPION, "s--"), (CHALLENGER, "o--")):
        rows = [row for row in payload["ab"]["weekly"] if row["variant"] == arm]
        axis.plot([r["week"] for r in rows], [r["hit_rate"] for r in rows], style, label=f"A/B {arm}: {rows[0]['model']}")
    if "control" in payload:
        control = payload["control"]["weeks"]
        axis.plot([r["week"] for r in control], [r["hit_rate"] for r in control], color="#999999", label="served, no shift (control)")
    rows = payload["weeks"]
    axis.plot([r["week"] for r in rows], [r["hit_rate"] for r in rows], "k.-", label="served, shifted")
    first, last = payload["ab"]["weeks"]
    axis.axvspan(first - 0.5, last + 0.5, color="#dddddd", alpha=0.5, label=f"A/B: {payload['ab']['decision']}")
    if payload.get("shift"):
        axis.axvline(payload["shift"]["week"] - 0.5, color="red", label=f"shift: {payload['shift']['share']:.0%} of items renewed")
    for number, row in enumerate(r for r in rows if r["retrained"]):
        axis.axvline(row["week"] + 0.5, color="green", linestyle=":", label="retrain" if number == 0 else None)
    axis.set_xlabel("week")
    axis.set_ylabel(f"realised hit rate@{payload['config']['k']}")
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    return figure
