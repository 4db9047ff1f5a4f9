"""Batch scoring with mapInPandas to Parquet: the same rows as the local backend's chunk scorer."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.backend import LocalBackend
from engine.customers.scoring import RiskBands
from tests.engine.backend.test_scoring import scoring_inputs  # noqa: F401

pytestmark = pytest.mark.spark


def test_spark_scores_every_customer_as_the_local_backend_does(backend, scoring_inputs, tmp_path):  # noqa: F811
    customers, churn_dir, _, recommender_dir = scoring_inputs
    written = backend.score_to_parquet(customers, churn_dir, tmp_path / "spark", recommender_dir, 5, RiskBands())
    LocalBackend().score_to_parquet(customers, churn_dir, tmp_path / "local", recommender_dir, 5, RiskBands())

    def read(folder: str) -> pd.DataFrame:
        frame = pd.read_parquet(tmp_path / folder).set_index("customer_id").loc[customers.index.astype(str)]
        return frame.assign(top_items=frame["top_items"].map(list))

    assert written == len(customers)
    pd.testing.assert_frame_equal(read("spark"), read("local"), check_exact=True)
