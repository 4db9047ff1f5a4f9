"""The real-data helper: skipped on a user's machine, a failure in CI when the data set is missing."""

from __future__ import annotations

import pytest

from tests.conftest import shared_data


def test_missing_real_data_is_skipped_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        shared_data("no/such/file.csv")


def test_missing_real_data_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        shared_data("no/such/file.csv")
