"""The baseline gate of a recommender run (a model must beat each task's best baseline, or that
baseline takes its part's place), its warnings, and the refit of what passed on every line to serve."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.customers.segments import SegmentRules
from engine.data.dataset import ShopData
from engine.recommend.base import RecommenderModel
from engine.recommend.blend import BlendRecommender
from engine.recommend.comparison import BASELINE_ROWS, SIGNIFICANT_SE
from engine.recommend.evaluation import evaluate_model
from engine.recommend.registry import make_recommender
from training.recommender_protocol import fitted_lines, recommend_task
from training.recommender_search import OWN_ITEMS, Progress, quiet

if TYPE_CHECKING:
    from training.recommender import Experiment

SERVED_REFIT = "served_refit"  # manifest flag: refitted on every line after its evaluation
SERVED_ON_TEST = "served"  # Experiment.models: the served configuration fitted before the test window, when it differs


@dataclass
class BaselineGate:
    """What the baseline gate decided: the configuration to serve (the chosen model, or with a part
    replaced by the baseline that beat it), its primary metric on the test window, why a part was
    replaced, and warnings (small samples, degenerate fits, gaps within noise)."""

    served: dict[str, Any]
    value: float
    replaced: list[str]
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"served": self.served, "value": self.value, "replaced": self.replaced, "warnings": self.warnings}


def gate_on_baselines(experiment: Experiment, progress: Progress = quiet) -> BaselineGate:
    """A model must beat its baselines: on each task of the test window the chosen model is compared
    with the task's best baseline (paired over customers); where it does not beat it by more than
    ``baseline_margin_se`` standard errors (any margin when 0), the baseline takes its place (the
    blend's discovery part becomes the popularity baseline; its repeat mix becomes the tuned
    buy-again (weight 0) or the popularity baseline (weight 1); a classic model is replaced whole). The served configuration is scored again on the
    test window when it changed."""
    config, name = experiment.config, experiment.chosen_name
    spec = json.loads(json.dumps(experiment.chosen.spec()))
    replaced: list[str] = []
    for task in experiment.protocol.tasks:
        row = experiment.result(name, task)
        versus = row.versus or {}
        if not versus or _wins(versus, config.baseline_margin_se):
            continue
        baseline = experiment.models[versus["model"]].spec()
        reason = (
            f"{task}: {name} {row.metrics[config.metric()]:.4f} does not beat the baseline {versus['model']} "
            f"{versus['value']:.4f} (gap {versus['gap_in_se']:+.1f} SE, needed > {config.baseline_margin_se})"
        )
        if spec["kind"] != BlendRecommender.kind:
            spec = baseline
        elif task == "discovery" and baseline["kind"] not in OWN_ITEMS:
            spec["params"]["collaborative"] = baseline
        elif task == "repeat" and baseline["kind"] == "buy_again":
            spec["params"].update(buy_again=baseline, weight=0.0)
        elif task == "repeat":  # a popularity list: the repeat mix becomes that list alone
            spec["params"].update(repeat_collaborative=baseline, weight=1.0)
        else:
            reason += "; kept: the baseline cannot take that part's place"
        replaced.append(reason)
    value = experiment.primary_value()
    if spec != experiment.chosen.spec():
        progress(f"baseline gate: scoring the served configuration {spec['kind']} on the test window")
        test = experiment.protocol.test
        model = make_recommender(**spec).fit(test.fit, as_of=test.as_of)
        experiment.models[SERVED_ON_TEST] = model  # a champion with this configuration is re-scored with it
        relevant = test.relevant[experiment.primary_task]
        value = evaluate_model(model, relevant, k=config.k, task=recommend_task(experiment.primary_task))[config.metric()]
    return BaselineGate(spec, float(value), replaced, _warnings(experiment))


def _wins(versus: dict[str, Any], margin_se: float) -> bool:
    return versus["gap"] > 0 and (margin_se == 0 or versus["gap_in_se"] > margin_se)


def _warnings(experiment: Experiment) -> list[str]:
    """Small samples, degenerate fits (one list for nearly everyone), and wins within noise."""
    config, warnings = experiment.config, []
    for task in experiment.protocol.tasks:
        row = experiment.result(experiment.chosen_name, task)
        if row.n_customers < config.min_evaluated_customers:
            warnings.append(
                f"small sample: {task} is evaluated on {row.n_customers} customers "
                f"(< min_evaluated_customers={config.min_evaluated_customers}); gaps between models are noisy"
            )
        if row.versus and row.versus["gap"] > 0 and not row.versus["significant"]:
            warnings.append(
                f"not significant: {row.model} beats {row.versus['model']} on {task} by "
                f"{row.versus['gap_in_se']:.1f} SE only (< {SIGNIFICANT_SE})"
            )
    for row in experiment.results:
        if row.model not in BASELINE_ROWS and row.n_customers > 1 and row.same_list_share >= config.same_list_warning:
            warnings.append(
                f"degenerate fit: {row.model} gives the same top-{config.k} list to {row.same_list_share:.0%} "
                f"of customers in {row.task}"
            )
    return warnings


def refit_to_serve(spec: dict[str, Any], shop: ShopData, segment_rules: SegmentRules | None = None) -> RecommenderModel:
    """The configuration to serve fitted again on every line of the shop. The one fitted before the
    test window stays the evidence; serving it would leave out the latest weeks (8 on Complete
    Journey), customers who came in them included. ``segment_rules`` name the cold-start segments as
    the served customer table names them. The products table's categories are fitted on, as in the
    evaluation; the saved model does not need them."""
    return make_recommender(**spec).fit(fitted_lines(shop), segment_rules=segment_rules)


def served_manifest(experiment: Experiment) -> dict[str, Any]:
    """What the served model's manifest records of its evidence: the test window it was chosen on."""
    test_as_of = experiment.protocol.test.as_of
    return {SERVED_REFIT: True, "evaluated_as_of": None if test_as_of is None else str(test_as_of.date())}
