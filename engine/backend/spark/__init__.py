"""The Spark backend (optional extra ``crm-engine[spark]``, PySpark 4.x): the pipelines' verbs on
Spark SQL / DataFrames, implicit ALS with ``pyspark.ml``, per-category fan-out with ``applyInPandas``
and batch scoring with ``mapInPandas``. Nothing here imports ``pyspark`` at module import time, so
the engine imports and runs without the extra."""
