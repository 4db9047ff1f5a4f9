"""One Spark session (local[2], 1 GB driver) for every Spark test: it takes ~5 s to start, so it is
built once per run; the tests use tiny tables so that the session, not the data, is their cost."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import require

pytest.importorskip("pyspark", reason="the Spark backend's tests need the extra crm-engine[spark]")


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from engine.backend.spark.session import SparkSettings, spark_session

    require(shutil.which("java") is not None, "no Java runtime: apt-get install openjdk-17-jre-headless (Spark needs Java 17)")

    session = spark_session(
        SparkSettings(master="local[2]", driver_memory="1g", checkpoint_dir=str(tmp_path_factory.mktemp("checkpoints")))
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def backend(spark):
    from engine.backend.spark.backend import SparkBackend

    return SparkBackend(spark)


# the customer-value fixtures (a small synthetic shop, its snapshots, fitted churn and CLV models)
from tests.engine.customers.conftest import churn_model, clv_model, small_shop, small_snapshots  # noqa: E402,F401
