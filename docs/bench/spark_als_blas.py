"""One Spark ALS fit (implicit, rank 64, 5 iterations) on a shop's customer-product purchase counts, with
whichever BLAS/LAPACK the JVM options select; prints the implementations used and the fit's JVM CPU and
wall seconds as one JSON line. See docs/spark-native-blas.md.

Usage: spark_als_blas.py LABEL TRANSACTIONS.parquet [JAVA_OPTIONS]
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
import psutil
from pyspark.ml.recommendation import ALS
from pyspark.sql import SparkSession


def main(label: str, transactions: str, java_options: str = "") -> None:
    lines = pd.read_parquet(transactions, columns=["customer_id", "product_id"])
    counts = lines.groupby(["customer_id", "product_id"], sort=True).size().rename("rating").reset_index()
    counts["user"] = pd.factorize(counts["customer_id"])[0].astype("int32")
    counts["item"] = pd.factorize(counts["product_id"])[0].astype("int32")
    spark = (
        SparkSession.builder.master("local[2]").config("spark.driver.memory", "2g").config("spark.ui.enabled", "false")
        .config("spark.driver.extraJavaOptions", f"-Duser.timezone=UTC {java_options}").getOrCreate()
    )
    netlib = spark._jvm.dev.ludovic.netlib  # type: ignore[union-attr]
    used = {"blas": netlib.blas.BLAS.getInstance().getClass().getSimpleName(),
            "lapack": netlib.lapack.LAPACK.getInstance().getClass().getSimpleName()}
    ratings = spark.createDataFrame(counts[["user", "item", "rating"]].astype({"rating": "float32"})).cache()
    ratings.count()
    jvm = next(p for p in psutil.Process().children(recursive=True) if "java" in p.name())

    def cpu() -> float:
        times = jvm.cpu_times()
        return times.user + times.system

    als = ALS(rank=64, maxIter=5, regParam=0.1, implicitPrefs=True, alpha=1.0, seed=0, numUserBlocks=4,
              numItemBlocks=4, userCol="user", itemCol="item", ratingCol="rating")
    cpu_before, wall_before = cpu(), time.perf_counter()
    als.fit(ratings).itemFactors.toPandas()
    print(json.dumps({"label": label, **used, "ratings": len(counts), "fit_cpu_s": round(cpu() - cpu_before, 1),
                      "fit_wall_s": round(time.perf_counter() - wall_before, 1), "load_1m": psutil.getloadavg()[0]}))
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
