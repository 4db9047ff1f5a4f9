"""What a recommender run reports beyond its result rows: latency per row, the plots logged to
MLflow, and the bench JSON summarised across out-of-time cuts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.recommend.comparison import BASELINE_ROWS, SIGNIFICANT_SE, ModelResult, standard_error
from engine.recommend.latency import measure_latency
from training.recommender_protocol import recommend_task
from training.recommender_search import Progress, quiet

if TYPE_CHECKING:
    from training.recommender import Experiment


def add_latency(experiment: Experiment, progress: Progress = quiet) -> None:
    """Measure every result row's latency on the test window's evaluated customers."""
    config = experiment.config
    for row in experiment.results:
        progress(f"latency: {row.model} {row.task}")
        customers = list(experiment.protocol.test.relevant[row.task])
        row.timing = measure_latency(
            experiment.models[row.model], customers, config.k, recommend_task(row.task),  # type: ignore[arg-type]
            config.latency_calls, config.seed,
        )


def plot_results(experiment: Experiment) -> Any:
    """Bar chart of the primary metric of every model on every task of the test window."""
    import matplotlib.pyplot as plt

    metric = experiment.config.metric()
    tasks = experiment.protocol.tasks
    names = list(dict.fromkeys(row.model for row in experiment.results))
    figure, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.5), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        values = [experiment.result(name, task).metrics[metric] for name in names]
        colours = ["#999999" if name in BASELINE_ROWS else "#1f77b4" for name in names]
        axis.barh(names, values, color=colours)
        axis.set_title(f"{task}: {metric} (test window)")
        axis.invert_yaxis()
    figure.tight_layout()
    return figure


def plot_search(experiment: Experiment) -> Any:
    """Validation metric of every candidate tried, and of every blend weight."""
    import matplotlib.pyplot as plt

    metric = experiment.config.metric()
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    labels = [f"{t.kind} {i}" for i, t in enumerate(experiment.search)]
    axes[0].barh(labels, [t.metrics[metric] for t in experiment.search])
    axes[0].set_title(f"validation {metric} per candidate")
    axes[0].invert_yaxis()
    if experiment.choices.blend_search:
        for label, curve in experiment.choices.blend_search.items():
            weights = sorted(curve)
            axes[1].plot(weights, [curve[w] for w in weights], marker="o", label=f"buy-again {label}")
        axes[1].set_xlabel("blend weight of the collaborative model")
        axes[1].set_title(f"validation repeat {metric} of the blend")
        axes[1].legend(fontsize="small")
    else:
        axes[1].set_visible(False)
    figure.tight_layout()
    return figure


def summarise_cuts(experiments: list[Experiment]) -> list[dict[str, Any]]:
    """Per model and task over the cuts: the mean and standard error of the primary metric across
    cuts, the mean ratio to the task's best baseline, every cut's gap in standard errors, and whether
    the model beat its best baseline significantly on every cut."""
    metric = experiments[0].config.metric()
    rows: dict[tuple[str, str], list[ModelResult]] = {}
    for experiment in experiments:
        for row in experiment.results:
            rows.setdefault((row.model, row.task), []).append(row)
    summary = []
    for (model, task), found in rows.items():
        values = np.array([row.metrics[metric] for row in found])
        entry: dict[str, Any] = {
            "model": model,
            "task": task,
            "cuts": len(found),
            metric: float(values.mean()),
            "se_across_cuts": standard_error(values),
        }
        versus = [row.versus for row in found if row.versus]
        if versus:
            entry["versus_best_baseline"] = {
                "models": [v["model"] for v in versus],
                "mean_ratio": float(np.mean([v["ratio"] for v in versus])),
                "min_ratio": float(np.min([v["ratio"] for v in versus])),
                "gap_in_se": [v["gap_in_se"] for v in versus],
                "significant_on_every_cut": all(v["significant"] for v in versus),
            }
        summary.append(entry)
    return summary


def cuts_payload(experiments: list[Experiment]) -> dict[str, Any]:
    """The bench JSON: the latest cut's full payload, ``cuts`` with every cut's results, and the
    summary across cuts."""
    return {
        **experiments[0].payload(),
        "cuts": [
            {"cut": e.cut, "split": e.protocol.description, "results": [row.as_dict() for row in e.results],
             "chosen": {"model": e.chosen_name, "spec": e.chosen.spec()}}
            for e in experiments
        ],
        "summary": summarise_cuts(experiments),
        "significance": f"a gap counts when it is at least {SIGNIFICANT_SE} paired standard errors (per customer)",
    }
