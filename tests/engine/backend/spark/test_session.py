"""The session builder: UTC, a checkpoint directory, shuffle partitions sized from the data."""

from __future__ import annotations

import pytest

from engine.backend.spark.session import MIN_PARTITIONS, ROWS_PER_PARTITION, size_partitions

pytestmark = pytest.mark.spark


def test_session_is_utc_with_a_checkpoint_directory(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sparkContext.getCheckpointDir()


def test_shuffle_partitions_follow_the_rows(spark):
    assert size_partitions(spark, 10) == MIN_PARTITIONS
    assert size_partitions(spark, 15 * ROWS_PER_PARTITION + 1) == 16
    assert spark.conf.get("spark.sql.shuffle.partitions") == "16"
    size_partitions(spark, 10)
