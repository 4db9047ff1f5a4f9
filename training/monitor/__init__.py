"""``crm monitor``: compare the current data and the champions' predictions with their training reference.

For each champion in the MLflow registry (churn, CLV, recommender, pricing):

- **reference**: what the model was trained on, recomputed from the current data (which holds the
  training lines): churn/CLV features at the latest training snapshot (``train_as_of[0]`` of the
  manifest); the recommender's and pricing model's last weeks before the end of their training data;
- **current**: the same quantities at the end of the current data (features as of the day after the
  last line; the weeks after the model's training data);
- **drift**: PSI per feature and per prediction (:mod:`engine.monitoring.drift`);
- **realised performance** once outcomes are observable: churn predictions made at the model's as-of
  against the labels after its horizon; the recommender's top-N against the purchases since its
  training (and against the bestsellers of its training data in the same period), the funnel and the
  served lists of feedback events; the pricing model's forecast units at the charged price against the
  units sold;
- **breaches** of ``configs/monitor.yaml``, each naming the model, the feature or metric, value and
  threshold.

Outputs: ``report.json``, ``report.md``, ``plots/*.png``, ``metrics.prom`` (Prometheus text exposition
format, for node_exporter's textfile collector), all logged to an MLflow run of the ``monitoring``
experiment. ``crm monitor`` exits with :data:`BREACH_EXIT` when anything breached (cron can chain
``crm retrain --if-breach``).
"""

from training.monitor.run import (
    BREACH_EXIT,
    EXPERIMENT,
    METRICS_PROM,
    MODELS,
    REPORT_JSON,
    REPORT_MD,
    load_events,
    monitor,
    run_monitor,
)

__all__ = ["BREACH_EXIT", "EXPERIMENT", "METRICS_PROM", "MODELS", "REPORT_JSON", "REPORT_MD", "load_events", "monitor", "run_monitor"]
