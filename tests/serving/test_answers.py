"""Answer helpers: no server paths in messages, date-times in UTC."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from serving.answers import as_of, without_paths


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("ModelFormatError: /srv/bentoml/models/crm-bundle/x/recommender/manifest.json is not valid JSON",
         "ModelFormatError: <path> is not valid JSON"),
        ("FileNotFoundError: [Errno 2] No such file or directory: '/home/u/.bentoml/models/crm-bundle/latest'",
         "FileNotFoundError: [Errno 2] No such file or directory: '<path>'"),
        ("cannot read C:\\Users\\shop\\bundle\\customers.parquet", "cannot read <path>"),
        ("missing ~/bentoml/models (or ./models/x)", "missing <path> (or <path>)"),
        ("no model crm-bundle:latest in the store", "no model crm-bundle:latest in the store"),
    ],
)
def test_paths_are_removed_from_messages(message: str, shown: str) -> None:
    assert without_paths(message) == shown


def test_as_of_is_sent_in_utc() -> None:
    naive = SimpleNamespace(as_of=pd.Timestamp("2017-12-31"))
    assert as_of(naive).isoformat() == "2017-12-31T00:00:00+00:00"
    paris = SimpleNamespace(as_of=pd.Timestamp("2017-12-31 01:00", tz="Europe/Paris"))
    assert as_of(paris).isoformat() == "2017-12-31T00:00:00+00:00"
