"""Churn and CLV pipelines against a temporary MLflow store, the churn list and the bench contract,
on a small synthetic shop written as a user's CSV file."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.features import CHURNED
from engine.customers.fitting import fit_churn, prepare
from engine.customers.gate import gate_before
from engine.customers.metrics import roc_auc
from engine.customers.protocols import PROTOCOLS, protocol_for
from engine.customers.view import default_as_of
from engine.data.sources import load_shop
from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.errors import EngineError
from training import tracking
from training.cli import app
from training.customers import train_churn, train_clv
from training.customers_bench import bench_customers

runner = CliRunner()


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory):
    shop = generate_shop(SyntheticShopConfig(seed=5, n_customers=300, n_products=15, n_categories=3, n_weeks=52, acquisition_weeks=13))
    path = tmp_path_factory.mktemp("shop") / "orders.csv"
    shop.transactions.drop(columns="revenue").to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One temporary MLflow store for the module: the pipeline test trains the champions that the
    churn-list test then uses."""
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        uri = f"sqlite:///{folder}/mlflow.db"
        tracking.configure(uri)
        yield uri


@pytest.fixture(scope="module")
def trained(store, orders_csv, tmp_path_factory):
    shop = load_shop(str(orders_csv))
    out = tmp_path_factory.mktemp("runs")
    return out, train_churn(shop, ChurnConfig(), out / "churn"), train_clv(shop, ClvConfig(), out / "clv"), shop


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_train_churn_and_clv_register_gate_and_save(trained):
    tmp_path, churn, clv, _ = trained
    assert churn["registered_version"] == "1" and churn["gate"]["promoted"]
    assert [row["model"] for row in churn["churn"]] == ["lightgbm", "bgnbd", "pareto_nbd", "recency"]
    gate = churn["baseline_gate"]
    assert gate["served"] in ("lightgbm", "bgnbd", "pareto_nbd") and gate["best_baseline"] in ("recency", "bgnbd", "pareto_nbd")
    manifest = json.loads((tmp_path / "churn" / "model" / "manifest.json").read_text())
    assert manifest["params"]["estimator"] == gate["served"] and manifest["baseline_gate"] == gate
    assert (tmp_path / "churn" / "model" / "booster.txt").is_file() == (gate["served"] == "lightgbm")
    assert {band["band"] for band in churn["calibration"]["bands"]} <= {"low", "medium", "high"}
    assert 0 <= churn["calibration"]["ece"] < 0.2
    assert json.loads((tmp_path / "churn" / "summary.json").read_text())["windows"]["horizon_days"] == 90
    assert clv["registered_version"] == "1" and clv["gate"]["promoted"]
    assert clv["chosen"] in ("lightgbm", "bgnbd", "pareto_nbd")
    assert sum(row["chosen"] for row in clv["clv"]) == 1

    import mlflow

    run = mlflow.search_runs(experiment_names=["churn"]).iloc[0]
    assert run["metrics.test_auc"] > 0.5 and run["tags.seed"] == "0"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"], "plots")}
    assert artifacts == {"plots/churn_gain_lift.png", "plots/churn_calibration.png", "plots/churn_band_reliability.png"}
    assert run["tags.served_estimator"] == gate["served"] and run["tags.baseline_gate"] == gate["reason"]


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_retraining_on_the_same_data_does_not_replace_the_champion(trained):
    tmp_path, _, _, shop = trained
    champion = tracking.champion_version("crm-churn")
    again = train_churn(shop, ChurnConfig(), tmp_path / "churn2")  # same data and seed: not better
    assert not again["gate"]["promoted"] and "does not beat" in again["gate"]["reason"]
    assert "re-scored on this run" in again["gate"]["reason"]
    assert tracking.champion_version("crm-churn") == champion


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_churn_list_writes_exactly_n_rows_with_champions_or_fitted(store, trained, orders_csv, tmp_path):
    out = tmp_path / "list.csv"
    fitted = runner.invoke(
        app, ["churn-list", "--data", str(orders_csv), "--top", "7", "--out", str(out), "--refit", "--tracking-uri", store]
    )
    assert fitted.exit_code == 0, fitted.output
    assert "fitted on the fly" in fitted.output
    table = pd.read_csv(out)
    assert len(out.read_text().strip().splitlines()) == 8  # header + 7 rows
    assert list(table.columns)[:6] == ["customer_id", "churn_probability", "churn_band", "expected_clv", "value_at_risk", "segment"]
    assert table["value_at_risk"].is_monotonic_decreasing

    champions = runner.invoke(
        app, ["churn-list", "--data", str(orders_csv), "--top", "3", "--band", "low", "--out", str(tmp_path / "l.parquet"), "--tracking-uri", store]
    )
    assert champions.exit_code == 0, champions.output
    assert "MLflow champions crm-churn v" in champions.output
    selected = pd.read_parquet(tmp_path / "l.parquet")
    assert len(selected) == 3 and (selected["churn_band"] == "low").all()


def test_churn_list_refuses_bad_options(orders_csv, tmp_path):
    bad_band = runner.invoke(app, ["churn-list", "--data", str(orders_csv), "--band", "severe", "--out", str(tmp_path / "x.csv")])
    assert bad_band.exit_code != 0 and "severe" in bad_band.output
    bad_suffix = runner.invoke(app, ["churn-list", "--data", str(orders_csv), "--out", str(tmp_path / "x.xlsx")])
    assert bad_suffix.exit_code != 0 and ".csv or .parquet" in bad_suffix.output


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_bench_writes_the_contract(orders_csv):
    shop = load_shop(str(orders_csv))
    result = bench_customers(shop, ChurnConfig(), ClvConfig())
    assert result["dataset"] == str(orders_csv) and result["protocol"]["name"] == "config"
    assert {"auc", "pr_auc", "log_loss", "top_decile_lift"} <= set(result["churn"][0])
    assert {"normalized_gini", "mae", "spearman", "decile_mape", "predicted_total", "actual_total"} <= set(result["clv"][0])
    assert {row["model"] for row in result["churn"]} >= {"recency", "bgnbd", "pareto_nbd", "gap_hazard"}
    cuts = result["cuts"]
    assert len(cuts) == 3 and [cut["cut"] for cut in cuts] == sorted((cut["cut"] for cut in cuts), reverse=True)
    assert (pd.Timestamp(cuts[0]["cut"]) - pd.Timestamp(cuts[1]["cut"])).days == 28  # the config's step_days
    for cut in cuts:
        for row in cut["results"]:
            assert row["best_baseline"] in ("recency", "bgnbd", "pareto_nbd") and row["best_baseline"] != row["model"]
            assert row["gap_se"] > 0 and row["gap_in_se"] == pytest.approx(row["gap"] / row["gap_se"])
        assert cut["churn_gate"]["served"] in ("lightgbm", "bgnbd", "pareto_nbd")
    across = {row["model"]: row for row in result["across_cuts"]["churn"]}
    aucs = [next(r["auc"] for r in cut["results"] if r["model"] == "lightgbm") for cut in cuts]
    assert across["lightgbm"]["mean_auc"] == pytest.approx(sum(aucs) / 3)
    pooled = result["calibration_pooled"]["lightgbm"]
    assert sum(band["customers"] for band in pooled["bands"]) == sum(cut["windows"]["rows"]["test"] for cut in cuts)
    assert set(result["anchors"]) == {"bgnbd", "pareto_nbd", "gamma_gamma"}
    assert result["anchors"]["bgnbd"]["log_likelihood"] < 0
    assert result["scoring"]["customers"] > 0 and result["scoring"]["seconds"] > 0


def test_protocols_by_source():
    assert protocol_for("cdnow:/data/CDNOW_master.txt", ChurnConfig()) == PROTOCOLS["cdnow"]
    assert protocol_for("completejourney", ChurnConfig()).horizon_days == 91
    assert protocol_for("orders.csv", ChurnConfig()).horizon_days == 90


def test_config_typo_is_an_error_naming_the_key(tmp_path, orders_csv):
    config = tmp_path / "churn.yaml"
    config.write_text("features:\n  horizon_dayz: 30\n")
    result = runner.invoke(app, ["train", "churn", "--data", str(orders_csv), "--config", str(config)])
    assert result.exit_code == 2 and "horizon_dayz" in result.stderr


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_gate_replaces_a_champion_built_for_another_window(trained):
    tmp_path, _, _, shop = trained
    shorter = ChurnConfig.model_validate({"features": {"horizon_days": 60}})
    other_window = train_churn(shop, shorter, tmp_path / "churn60")
    assert other_window["gate"]["promoted"] and "60-day" not in other_window["gate"]["reason"]
    assert "90-day window" in other_window["gate"]["reason"] and "replaced" in other_window["gate"]["reason"]
    # and back: the 90-day model replaces the 60-day champion (the module's other tests expect 90 days)
    back = train_churn(shop, ChurnConfig(), tmp_path / "churn90")
    assert back["gate"]["promoted"] and "60-day window" in back["gate"]["reason"]


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_the_served_churn_and_clv_models_stand_at_the_data_end(trained):
    tmp_path, churn, clv, shop = trained
    end = str(default_as_of(shop.transactions).date())
    for name, summary in (("churn", churn), ("clv", clv)):
        manifest = json.loads((tmp_path / name / "model" / "manifest.json").read_text())
        assert manifest["as_of"] == end and summary["served_model"]["as_of"] == end
        # evaluated on the test window, then refitted on windows ending at the data's end
        assert manifest["evaluated_as_of"] == summary["windows"]["test_as_of"] < end
        assert manifest["train_as_of"][0] == str((pd.Timestamp(end) - pd.Timedelta(days=90)).date())


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_churn_list_as_of_scores_as_a_model_trained_with_windows_ending_there(store, trained, orders_csv, tmp_path):
    shop = trained[3]
    as_of = (shop.transactions["timestamp"].min() + pd.Timedelta(days=210)).normalize()
    listing = ["churn-list", "--data", str(orders_csv), "--as-of", str(as_of.date()), "--tracking-uri", store]
    # the champions were fitted on every line: scoring with them at an earlier date would look ahead
    refused = runner.invoke(app, [*listing, "--out", str(tmp_path / "refused.csv")])
    assert refused.exit_code == 2
    assert "look ahead" in refused.stderr and "--refit" in refused.stderr
    assert not (tmp_path / "refused.csv").exists()

    out = tmp_path / "as_of.parquet"
    fitted = runner.invoke(app, [*listing, "--refit", "--top", "100000", "--out", str(out)])
    assert fitted.exit_code == 0, fitted.output
    listed = pd.read_parquet(out).set_index("customer_id")

    config = ChurnConfig.model_validate({"windows": {"as_of": str(as_of.date())}})
    churn_gate, _, _ = gate_before(shop, config, ClvConfig(), as_of)  # the gate on the window before the as-of
    assert f"baseline gate: {churn_gate.reason}" in " ".join(fitted.output.split())
    data = prepare(shop, config.features, config.windows, config.seed)
    model = fit_churn(data, config, churn_gate.served)
    expected = pd.Series(model.predict_proba(data.test), index=data.test.index)
    assert set(listed.index) == set(data.test.index)
    pd.testing.assert_series_equal(
        listed["churn_probability"].sort_index(), expected.round(4).sort_index(), check_names=False, check_index_type=False
    )
    outcome = data.test[CHURNED].reindex(listed.index)
    assert roc_auc(outcome, listed["churn_probability"]) == pytest.approx(roc_auc(data.test[CHURNED], expected), abs=2e-3)


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_serve_import_refuses_customer_champions_fitted_after_its_as_of(trained):
    from training.bundle import Champion, customer_frame
    from training.commands.segments import SegmentsConfig

    tmp_path, _, _, shop = trained
    champions = {
        part: Champion(part, "1", shop.source, shop.fingerprint(), tmp_path / part / "model") for part in ("churn", "clv")
    }
    end = default_as_of(shop.transactions)
    profiles = customer_frame(shop, end, SegmentsConfig(), champions)
    assert profiles["churn_probability"].notna().any()
    with pytest.raises(EngineError, match="look ahead"):
        customer_frame(shop, end - pd.Timedelta(days=60), SegmentsConfig(), champions)


@pytest.mark.slow  # whole pipelines with MLflow (20-70 s each on a loaded machine)
def test_the_gate_serves_the_best_baseline_when_lightgbm_does_not_beat_it(trained, orders_csv, store, tmp_path):
    _, _, _, shop = trained
    demanding = ChurnConfig(baseline_margin_se=1e6)  # no model beats a baseline by a million SEs
    summary = train_churn(shop, demanding, tmp_path / "churn")
    gate = summary["baseline_gate"]
    rows = {row["model"]: row for row in summary["churn"]}
    assert gate["served"] == max(("bgnbd", "pareto_nbd"), key=lambda name: rows[name]["auc"])
    assert f"serving the baseline {gate['served']}" in gate["reason"] and "required 1e+06" in gate["reason"]
    data = prepare(shop, demanding.features, demanding.windows, demanding.seed)
    validation_churners = int(data.validation[CHURNED].sum())
    assert any("small sample" in w for w in gate["warnings"]) == (
        min(validation_churners, len(data.validation) - validation_churners, int(data.test[CHURNED].sum()),
            int((1 - data.test[CHURNED]).sum())) < 30
    )
    served = ChurnClassifier.load(tmp_path / "churn" / "model")
    assert served.estimator == gate["served"] and served.booster_ is None
    clv = train_clv(shop, ClvConfig(baseline_margin_se=1e6), tmp_path / "clv")
    assert clv["baseline_gate"]["served"] in ("bgnbd", "pareto_nbd")
    assert ClvModel.load(tmp_path / "clv" / "model").choice_ == clv["baseline_gate"]["served"]
    # serving reads whatever was promoted: the list is written with these models too
    listing = runner.invoke(app, ["churn-list", "--data", str(orders_csv), "--top", "5", "--out", str(tmp_path / "l.csv"),
                                  "--tracking-uri", store])
    assert listing.exit_code == 0, listing.output
