"""``crm train churn``, ``crm train clv``, ``crm churn-list`` and ``crm bench customers``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from engine.errors import EngineError
from training.commands.data import DataArgs, takes_data
from training.commands.engine_options import takes_engine
from training.commands.options import TrackingOption
from training.config import load_config
from training.console import console, step

if TYPE_CHECKING:
    import pandas as pd

    from engine.customers.churn_gbm import ChurnClassifier
    from engine.customers.clv import ClvModel
    from engine.customers.config import ChurnConfig, ClvConfig
    from engine.data.dataset import ShopData

ChurnConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML like configs/churn.yaml")]
ClvConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML like configs/clv.yaml")]


@takes_data()
@takes_engine
def train_churn(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Folder for the model, tables and summary.json")] = Path("out/churn"),
    config: ChurnConfigOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Fit the churn model (P(no purchase in the next N days)) on earlier windows, test it on the last
    one against recency and BG/NBD / Pareto/NBD; log to MLflow, register crm-churn, gate on test AUC."""
    from engine.customers.config import ChurnConfig
    from training import tracking
    from training.customers import train_churn

    settings = load_config(config, ChurnConfig)
    shop = source.load()
    tracking.configure(tracking_uri)
    with step(f"churn: {settings.windows.train_windows} training windows, {settings.features.horizon_days}-day horizon, MLflow"):
        summary = train_churn(shop, settings, out)
    windows = summary["windows"]
    _print_rows(f"Churn on the test window from {windows['test_as_of']} ({windows['horizon_days']} days; "
                f"boosted from {summary['base_model']})", summary["churn"])
    _print_rows("Calibration of the served estimator by risk band (test window; ECE "
                f"{summary['calibration']['ece']:.4f})", summary["calibration"]["bands"], key="band")
    console.print(f"baseline gate: {summary['baseline_gate']['reason']}")
    console.print(f"registered crm-churn v{summary['registered_version']}: {summary['gate']['reason']}")
    console.print(f"wrote {out}/model and {out}/summary.json")


@takes_data()
@takes_engine
def train_clv(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Folder for the model and summary.json")] = Path("out/clv"),
    config: ClvConfigOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Fit the CLV models (LightGBM Tweedie; BG/NBD and Pareto/NBD x Gamma-Gamma), choose by validation
    Gini, test on the last window; log to MLflow, register crm-clv, gate on test normalized Gini."""
    from engine.customers.config import ClvConfig
    from training import tracking
    from training.customers import train_clv

    settings = load_config(config, ClvConfig)
    shop = source.load()
    tracking.configure(tracking_uri)
    with step(f"clv: {settings.windows.train_windows} training windows, {settings.features.horizon_days}-day window, MLflow"):
        summary = train_clv(shop, settings, out)
    windows = summary["windows"]
    _print_rows(f"Spend in the test window from {windows['test_as_of']} ({windows['horizon_days']} days; "
                f"chosen: {summary['chosen']})", summary["clv"])
    console.print(f"baseline gate: {summary['baseline_gate']['reason']}")
    console.print(f"registered crm-clv v{summary['registered_version']}: {summary['gate']['reason']}")
    console.print(f"wrote {out}/model and {out}/summary.json")


@takes_data()
def churn_list(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="CSV or Parquet file for the list")],
    top: Annotated[int, typer.Option("--top", min=1, help="Number of customers (rows) to write")] = 100,
    segment: Annotated[str | None, typer.Option("--segment", help="Only this RFM segment, e.g. 'At Risk'")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="Only this loyalty tier, e.g. Gold")] = None,
    band: Annotated[str | None, typer.Option("--band", help="Only this churn-risk band: low, medium or high")] = None,
    min_clv: Annotated[float | None, typer.Option("--min-clv", help="Only customers with expected CLV >= this")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score as of this date (default: the day after the last line)")] = None,
    churn_config: Annotated[Path | None, typer.Option("--churn-config", help="YAML like configs/churn.yaml (risk bands; fitting)")] = None,
    clv_config: Annotated[Path | None, typer.Option("--clv-config", help="YAML like configs/clv.yaml (used when fitting)")] = None,
    segments_config: Annotated[Path | None, typer.Option("--segments-config", help="YAML like configs/segments.yaml (segment names)")] = None,
    refit: Annotated[bool, typer.Option("--refit", help="Fit the models on this data even if MLflow champions exist")] = False,
    tracking_uri: TrackingOption = None,
) -> None:
    """Every customer scored as of a date (churn probability, risk band, expected CLV, value at risk,
    RFM segment, loyalty tier, top reasons); writes the top N by value at risk (churn probability x CLV).

    Uses the crm-churn and crm-clv champions from MLflow when both exist and were trained on the same
    data source, and refuses them when they were fitted on lines from the as-of date on (look-ahead);
    otherwise, or with --refit, fits both models on the lines before the as-of date (no MLflow run),
    through the same baseline gate as crm train churn|clv on the last window before that date: a model
    that does not beat its best baseline is replaced by it. Small samples and degenerate fits are warned
    about by name."""
    import pandas as pd

    from engine.customers.aftersales import AfterSales
    from engine.customers.config import ChurnConfig, ClvConfig
    from engine.customers.gate import scoring_warnings
    from engine.customers.scoring import churn_list as select
    from engine.customers.scoring import score_customers
    from engine.customers.view import default_as_of
    from training import tracking
    from training.commands.segments import SegmentsConfig

    if band is not None and band not in ("low", "medium", "high"):
        raise typer.BadParameter(f"{band!r} is not one of low, medium, high", param_hint="--band")
    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(f"{out.name}: the list is written as .csv or .parquet", param_hint="--out")
    churn_settings, clv_settings = load_config(churn_config, ChurnConfig), load_config(clv_config, ClvConfig)
    rules = load_config(segments_config, SegmentsConfig).segments
    shop = source.load()
    tracking.configure(tracking_uri)
    end = default_as_of(shop.transactions)
    moment = pd.Timestamp(as_of) if as_of else end
    (churn, clv), origin, warnings = _models_to_score(shop, churn_settings, clv_settings, moment, end, refit)
    with step(f"scoring every customer ({origin})"):
        scores = score_customers(shop.transactions, churn, clv, moment, shop.products, churn_settings.risk_bands,
                                 segment_rules=rules, aftersales=AfterSales.of(shop))
    for warning in [*warnings, *scoring_warnings(scores, churn_settings.risk_bands)]:
        console.print(f"[yellow]warning: {warning}[/yellow]")
    chosen = select(scores, top, segment, tier, band, min_clv)
    if len(chosen) < top:
        console.print(f"[yellow]only {len(chosen):,} customers match the filters; writing {len(chosen):,} rows, not {top:,}[/yellow]")
    _write_table(chosen.round(4).reset_index(), out)
    bands = scores["churn_band"].value_counts().to_dict()
    console.print(f"{len(scores):,} customers scored; bands {bands}; total value at risk {scores['value_at_risk'].sum():,.0f}")
    console.print(f"wrote {out} ({len(chosen):,} rows)")


def _models_to_score(
    shop: ShopData, churn_settings: ChurnConfig, clv_settings: ClvConfig, moment: pd.Timestamp, end: pd.Timestamp, refit: bool
) -> tuple[tuple[ChurnClassifier, ClvModel], str, list[str]]:
    """The churn and CLV models of ``crm churn-list``: the MLflow champions (refused when fitted after
    ``moment``), else (or with ``refit``) the estimators the baseline gates choose on the last window
    before ``moment``, fitted on the lines before it; where they come from, and the gates' warnings."""
    from engine.customers.gate import gated_models
    from training import tracking
    from training.customers import champion_models

    models = None if refit else champion_models(shop.source, moment, end)
    if models is not None:
        return models, f"MLflow champions crm-churn v{tracking.champion_version('crm-churn')}, crm-clv v{tracking.champion_version('crm-clv')}", []
    with step(f"no crm-churn/crm-clv champions trained on {shop.source} (or --refit): gating and fitting both on the lines before {moment.date()}"):
        gated = gated_models(shop, churn_settings, clv_settings, moment)
    for gate in (gated.churn_gate, gated.clv_gate):
        console.print(f"baseline gate: {gate.reason}")
    return (gated.churn, gated.clv), f"fitted on the fly: churn {gated.churn.estimator}, CLV {gated.clv.choice_}", list(gated.warnings)


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="JSON file for the figures")],
    churn_config: Annotated[Path | None, typer.Option("--churn-config", help="YAML like configs/churn.yaml")] = None,
    clv_config: Annotated[Path | None, typer.Option("--clv-config", help="YAML like configs/clv.yaml")] = None,
    cut: Annotated[list[datetime] | None, typer.Option("--cut", formats=["%Y-%m-%d"], help="Test as-of date to evaluate instead of the protocol's cuts (repeatable)")] = None,
) -> None:
    """Churn and CLV of the models and the baselines (recency, BG/NBD, Pareto/NBD, historical rate) on
    three out-of-time cuts of the source's protocol (CDNOW: features as of 1997-12-31, 26-week outcome;
    Complete Journey: last 13 weeks; each then 28 and 56 days earlier) or the --cut dates: per cut and
    as mean +- SE across cuts, with the gap to the best baseline in SEs, the baseline gates, ECE and
    calibration by risk band, the probabilistic models' parameters, and the time to score every
    customer. Writes JSON, and the pooled band reliability plots beside it (OUT.bands-*.png)."""
    from engine.customers.config import ChurnConfig, ClvConfig
    from engine.customers.plots import band_reliability_chart
    from training.customers_bench import bench_customers
    from training.tracking import write_json

    churn_settings, clv_settings = load_config(churn_config, ChurnConfig), load_config(clv_config, ClvConfig)
    shop = source.load()
    with step(f"customer-value bench on {source.data}"):
        result = bench_customers(shop, churn_settings, clv_settings, [moment.date() for moment in cut] if cut else None)
    write_json(out, result)
    for name, report in result["calibration_pooled"].items():
        figure = band_reliability_chart(report["bands"], f"Churn by risk band, pooled over cuts: {name} (ECE {report['ece']:.3f})")
        figure.savefig(out.with_name(f"{out.stem}.bands-{name}.png"), dpi=100)
    console.print(result["protocol"]["description"])
    for cut in result["cuts"]:
        _print_rows(f"Churn, cut {cut['cut']}", cut["results"])
        _print_rows(f"CLV: spend in the window from {cut['cut']}", cut["clv"])
        for name in ("churn_gate", "clv_gate"):
            console.print(f"{name.replace('_', ' ')}: {cut[name]['reason']}")
            for warning in cut[name]["warnings"]:
                console.print(f"[yellow]warning: {warning}[/yellow]")
    _print_rows(f"Churn across {len(result['cuts'])} cuts (mean, SE)", result["across_cuts"]["churn"])
    _print_rows(f"CLV across {len(result['cuts'])} cuts (mean, SE)", result["across_cuts"]["clv"])
    for name, report in result["calibration_pooled"].items():
        _print_rows(f"Churn calibration by band, pooled over cuts: {name} (ECE {report['ece']:.4f}, "
                    f"monotone: {report['monotone']})", report["bands"], key="band")
    for name, fitted in result["anchors"].items():
        params = ", ".join(f"{key}={value:.4g}" for key, value in fitted["params"].items())
        console.print(f"{name} as of {fitted['as_of']}: {params}; log-likelihood {fitted['log_likelihood']:.1f}")
    console.print(f"scored {result['scoring']['customers']:,} customers in {result['scoring']['seconds']:.2f} s")
    console.print(f"wrote {out}")


def _write_table(table: Any, out: Path) -> None:
    """Write ``table`` as CSV or Parquet by ``out``'s suffix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)


def _print_rows(title: str, rows: list[dict[str, Any]], key: str = "model") -> None:
    if not rows:
        raise EngineError("no rows to show")
    columns = [column for column in rows[0] if column not in (key, "chosen")]
    table = Table(title=title)
    table.add_column(key)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        cells = [f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        table.add_row(str(row[key]) + (" *" if row.get("chosen") else ""), *cells)
    console.print(table)
