"""When ``crm retrain`` reuses the recommender's last search and when it searches again
(:func:`training.retrain.search_to_reuse`), on results files written here (no pipeline runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import retrain as R
from training.commands.data import DataArgs
from training.recommender import config_digest, load_config
from training.recommender_search import SEARCH_RECORD


def _options(out: Path, **overrides) -> R.RetrainOptions:
    return R.RetrainOptions(DataArgs("shop.csv"), out, **overrides)


def _write_results(out: Path, data_end: str = "2017-12-04", config: str | None = None, promoted: bool = True,
                   replaced: tuple[str, ...] = ()) -> Path:
    path = out / "recommender" / "results.json"
    path.parent.mkdir(parents=True)
    searched = {"data_end": data_end, "config": config or config_digest(load_config()), "validation_as_of": "2017-08-14"}
    path.write_text(json.dumps({SEARCH_RECORD: {"searched": searched}, "gate": {"promoted": promoted},
                                "baseline_gate": {"replaced": list(replaced)}}))
    return path


def test_the_last_search_is_reused_while_the_data_grew_less_than_the_schedule(tmp_path) -> None:
    path = _write_results(tmp_path)
    assert R.search_to_reuse(_options(tmp_path), "2018-01-01") == (path, "searched on data to 2017-12-04, 28 days before this data's end")
    reuse, why = R.search_to_reuse(_options(tmp_path), "2018-01-02")
    assert reuse is None and why == "the data ends 29 days after the last search's (full search every 28)"
    reuse, why = R.search_to_reuse(_options(tmp_path), "2017-12-01")  # older data than the search's: search again
    assert reuse is None and "-3 days" in why
    assert R.search_to_reuse(_options(tmp_path, full_search_days=0), "2017-12-05")[0] is None


@pytest.mark.parametrize(("written", "reason"), [
    ({"promoted": False}, "the last run did not pass its gates"),
    ({"replaced": ("repeat: blend does not beat buy_again",)}, "the last run did not pass its gates"),
    ({"config": "another"}, "the recommender config changed since the last search"),
])
def test_a_failed_gate_or_another_config_brings_a_full_search_back(tmp_path, written, reason) -> None:
    _write_results(tmp_path, **written)
    assert R.search_to_reuse(_options(tmp_path), "2017-12-10") == (None, reason)


def test_without_an_earlier_run_or_its_record_the_recommender_searches(tmp_path) -> None:
    assert R.search_to_reuse(_options(tmp_path), "2017-12-10") == (None, "no earlier run to reuse")
    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "results.json").write_text("{}")
    assert R.search_to_reuse(_options(tmp_path), "2017-12-10")[1].endswith("holds no search record")
    _write_results(tmp_path / "again")
    assert R.search_to_reuse(_options(tmp_path / "again"), None) == (None, "the data's last day is not known")
