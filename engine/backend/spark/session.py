"""The one place a Spark session is built: local[N] by default, a cluster through Spark Connect with
``remote``; modest memory (this may share a machine), UTC everywhere, Arrow on, a checkpoint directory
always set (long ALS lineages and iterative jobs are cut there)."""

from __future__ import annotations

import math
import os
import sys
import tempfile
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "the Spark backend needs the extra: pip install 'crm-engine[spark]' (PySpark 4.x and Java 17)"
ROWS_PER_PARTITION = 1_000_000  # shuffle partitions: about one per million input rows ...
MIN_PARTITIONS = 4  # ... and at least a few (Spark's default of 200 is for clusters: slow on local[2])


class SparkSettings(BaseModel):
    """How to reach Spark. ``remote`` (``sc://host:15002``) wins over ``master``."""

    model_config = ConfigDict(extra="forbid")
    master: str = Field("local[2]", description="local[N] or a cluster master URL (ignored with remote)")
    remote: str | None = Field(None, description="Spark Connect URL, e.g. sc://spark-connect:15002")
    driver_memory: str = Field("2g", description="driver JVM heap (local mode); keep <= 4g on a shared host")
    checkpoint_dir: str | None = Field(None, description="checkpoint directory (default: a new temporary one)")


def require_pyspark() -> None:
    """Raise an EngineError with the install line if PySpark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise EngineError(INSTALL_HINT) from None


def spark_session(settings: SparkSettings | None = None) -> SparkSession:
    """A Spark session for ``settings`` (an existing one with the same master is reused by Spark)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    checkpoints = settings.checkpoint_dir or tempfile.mkdtemp(prefix="crm-spark-checkpoints-")
    if settings.remote:
        builder = SparkSession.builder.remote(settings.remote)
    else:
        # executors of local mode run this interpreter, so they import the same engine
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        utc = "-Duser.timezone=UTC"
        builder = (
            SparkSession.builder.master(settings.master)
            .config("spark.driver.memory", settings.driver_memory)
            .config("spark.driver.extraJavaOptions", utc)
            .config("spark.executor.extraJavaOptions", utc)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(MIN_PARTITIONS))
        )
    spark = (
        builder.appName("crm-engine")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # pandas writes nanosecond timestamps, which Spark reads only as integers (read_transactions converts)
        .config("spark.sql.legacy.parquet.nanosAsLong", "true")
        .config("spark.checkpoint.dir", checkpoints)
        .getOrCreate()
    )
    if not settings.remote:
        spark.sparkContext.setCheckpointDir(checkpoints)
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def size_partitions(spark: SparkSession, rows: int) -> int:
    """Set (and return) the shuffle partitions for a job over ``rows`` input rows: one per
    ``ROWS_PER_PARTITION`` rows and at least ``MIN_PARTITIONS`` (adaptive query execution, on by
    default, then coalesces the small ones)."""
    partitions = max(MIN_PARTITIONS, math.ceil(rows / ROWS_PER_PARTITION))
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    return partitions
