"""The Spark backend (optional extra ``crm-engine[spark]``, PySpark 4.x): the pipelines' verbs on
Spark SQL / DataFrames, implicit ALS with ``pyspark.ml``, per-category fan-out with ``applyInPandas``
and batch scoring with ``mapInPandas``. Nothing here imports ``pyspark`` at module import time, so
the engine imports and runs without the extra.

What stays on the driver, and why:

- LightGBM (churn, CLV, the DML nuisances, the repeat ranker) and the BG/NBD / Pareto/NBD /
  Gamma-Gamma fits train on the per-customer (or per product-week) aggregates the backend returns,
  not on lines: Complete Journey's 2.6M lines are 2,500 customers, ten times its history 25,000.
  A feature table costs about rows x features x 8 bytes plus LightGBM's one-byte bins, so 40 features
  reach ~15 GB near 50 million customers: that is where single-node training stops holding on a
  24-64 GB driver (then: a sample, or SynapseML's distributed LightGBM), far above the shops this
  engine is for.
- Segment rules, tier windows and the pooled shrinkage of elasticities are per-customer or
  per-category arithmetic on those aggregates: the same code as the local backend.
"""
