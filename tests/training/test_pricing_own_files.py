"""Bring-your-own files end to end: a CSV shop with products.csv (unit_cost), a daily promotions.csv
and stock.csv, described once in a data config, through ``crm train pricing --data shop.yaml``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from engine.data.columns import Columns
from engine.data.sources import load_shop
from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.pricing import panel as P
from training.cli import app
from training.pricing import PricingConfig, prepare_panels, with_product_costs

SMALL_SHOP = dict(n_customers=600, n_products=24, n_categories=3, n_weeks=60, acquisition_weeks=6, basket_units=25)
FAST = dict(
    holdout_weeks=8, min_weeks=10, estimators=["fixed_effects"], demand_curves=0, segment_offers="none",
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The synthetic shop written as a shop's own files: transactions without costs (their product
    column called sku), products with a unit cost, a daily promotion calendar (its own names, yes/no
    flags) and the opening stock of each week on its first day."""
    shop = generate_shop(SyntheticShopConfig(seed=3, **SMALL_SHOP))
    folder = tmp_path_factory.mktemp("own_shop")
    tx = shop.transactions.drop(columns=[Columns.unit_cost, Columns.revenue]).rename(columns={Columns.item: "sku"})
    tx.to_csv(folder / "sales.csv", index=False)
    costs = (shop.transactions.groupby(Columns.item)[Columns.unit_cost].median() * 0.9).round(2)
    shop.products.assign(unit_cost=shop.products[Columns.item].map(costs)).to_csv(folder / "products.csv", index=False)
    weekly = shop.truth.weekly
    flagged = weekly.loc[weekly["display"] | weekly["mailer"]]
    days = flagged.loc[flagged.index.repeat(7)].assign(day=np.tile(np.arange(7), len(flagged)))
    pd.DataFrame(
        {
            "item": days[Columns.item],
            "day": (days["week_start"] + pd.to_timedelta(days["day"], unit="D")).dt.strftime("%Y-%m-%d"),
            "display": np.where(days["display"], "yes", "no"),
            "mailer": days["mailer"].astype(int),
        }
    ).to_csv(folder / "promotions.csv", index=False)
    weekly[[Columns.item, "week_start", "stock"]].rename(columns={"week_start": "date", "stock": "stock_on_hand"}).to_csv(
        folder / "stock.csv", index=False
    )
    config = {
        "source": "sales.csv",
        "columns": {"sku": Columns.item},
        "products": "products.csv",
        "promotions": {"file": "promotions.csv", "columns": {"item": Columns.item, "day": "date"}},
        "stock": "stock.csv",
    }
    (folder / "shop.yaml").write_text(yaml.safe_dump(config))
    (folder / "pricing.yaml").write_text(yaml.safe_dump(FAST))
    return folder, shop, costs


def test_panel_has_the_files_display_and_stock(files):
    folder, shop, _ = files
    own = load_shop(str(folder / "shop.yaml"))
    assert {r.table for r in own.reports} == {"transactions", "products", "promotions", "stock"}
    panel, _, _ = prepare_panels(own, PricingConfig(**FAST))
    truth = shop.truth.weekly.set_index([Columns.item, "week_start"]).loc[pd.MultiIndex.from_frame(panel[[Columns.item, P.WEEK]])]
    np.testing.assert_array_equal(panel[P.DISPLAY], truth["display"].astype(float))
    np.testing.assert_array_equal(panel[P.MAILER], truth["mailer"].astype(float))
    np.testing.assert_array_equal(panel[P.STOCK], truth["stock"])
    assert panel[P.DISPLAY].sum() > 0 and panel[P.STOCKOUT].any()


@pytest.mark.slow  # crm train pricing end to end with MLflow
def test_cli_train_quotes_carry_the_files_costs(files, tmp_path, monkeypatch):
    folder, _, costs = files
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["train", "pricing", "--data", str(folder / "shop.yaml"), "--config", str(folder / "pricing.yaml"),
         "--out", str(out), "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"],
    )
    assert result.exit_code == 0, result.output
    quotes = pd.read_csv(out / "quotes.csv", index_col="product_id", keep_default_na=False)
    assert len(quotes) > 0
    np.testing.assert_allclose(quotes["unit_cost"].astype(float), costs.loc[quotes.index])
    assert not quotes["flags"].str.contains("assumed_cost").any()


def test_product_costs_fill_only_what_the_transactions_lack():
    facts = pd.DataFrame({Columns.unit_cost: [2.0, np.nan, np.nan]}, index=pd.Index(["a", "b", "c"], name=Columns.item))
    products = pd.DataFrame({Columns.item: ["a", "b", "c"], Columns.unit_cost: [9.0, 3.0, 0.0]})
    filled = with_product_costs(facts, products)[Columns.unit_cost]
    assert filled["a"] == 2.0 and filled["b"] == 3.0 and np.isnan(filled["c"])  # c: unknown, kept (reason no_cost)
