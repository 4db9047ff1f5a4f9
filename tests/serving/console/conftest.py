"""A small served bundle written without MLflow, and a console app on it.

Customers come from the synthetic shop with its real RFM segments and tiers; churn and CLV scores are
made up deterministically (the console only shows them). Two extra customers have hostile ids: one with
a ``<script>`` tag, one that a spreadsheet would run as a formula.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from engine.customers.timeline import monthly_purchases
from engine.customers.view import customer_view, default_as_of
from serving.bundle import Bundle, load_bundle, write_bundle
from serving.console import PREFIX, create_app
from serving.console.settings import ConsoleSettings
from tests.serving.champions import fit_pricing, small_shop

KEY = "console-test-key-0123"
SCRIPT_ID = "<script>alert(1)</script>"
FORMULA_ID = "=HYPERLINK(1)"


def customer_frame(transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    view = customer_view(transactions, as_of)
    rng = np.random.default_rng(0)
    probability = rng.uniform(0.02, 0.95, len(view))
    clv = rng.gamma(2.0, 150.0, len(view))
    view["churn_probability"] = probability
    view["churn_band"] = np.where(probability >= 0.6, "high", np.where(probability >= 0.3, "medium", "low"))
    view["expected_clv"] = clv
    view["value_at_risk"] = probability * clv
    view["reasons"] = "no purchase for 60 days; spend fell 40% vs the previous quarter"
    for hostile in (SCRIPT_ID, FORMULA_ID):
        view.loc[hostile] = view.iloc[0]
    return view


EVALUATION = {
    "churn": {"metric": "test_auc", "value": 0.71, "baseline_gate": {
        "served": "lightgbm", "model_metric": 0.71, "best_baseline": "recency", "baseline_metric": 0.66,
        "gap_in_se": 3.2, "reason": "beats"}},
    "recommender": {"metric": "ndcg@10", "value": 0.2, "baseline_gate": []},
}


def write_small_bundle(directory: Path) -> Path:
    """A served bundle folder: a synthetic shop, its real segments and tiers, made-up scores, a small
    ALS recommender, a price optimizer, the purchase timeline and an evaluation."""
    from engine.recommend.als import ALSRecommender

    shop = small_shop()
    as_of = default_as_of(shop.transactions)
    recommender = ALSRecommender(factors=8, iterations=5, num_threads=1).fit(shop.transactions)
    return write_bundle(
        directory / "bundle", customers=customer_frame(shop.transactions, as_of), as_of=as_of, entry_tier="Bronze",
        versions={"recommender": "3", "churn": "2", "clv": "1", "pricing": "4"}, data_source=shop.source,
        data_fingerprint=shop.fingerprint(), recommender_dir=recommender.save(directory / "recommender"),
        pricing_dir=fit_pricing(shop, directory / "pricing"), products=shop.products,
        timeline=monthly_purchases(shop.transactions, as_of), evaluation=EVALUATION,
    )


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Bundle:
    return load_bundle(write_small_bundle(tmp_path_factory.mktemp("console-bundle")), "crm-bundle:test")


def console_client(bundle: Bundle | None, **settings) -> TestClient:
    """A test client of the console mounted under /console like in the service (plain http: no Secure)."""
    values = {"api_key": KEY, "secure_cookie": False, **settings}
    app = Starlette(routes=[Mount(PREFIX, create_app(lambda: bundle, ConsoleSettings(**values)))])
    return TestClient(app, base_url="http://testserver")


def sign_in(client: TestClient) -> TestClient:
    form = client.get(PREFIX + "/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post(PREFIX + "/login", data={"csrf": token, "api_key": KEY, "next": PREFIX + "/"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture()
def client(bundle: Bundle) -> TestClient:
    with console_client(bundle) as anonymous:
        yield anonymous


@pytest.fixture()
def signed_in(client: TestClient) -> TestClient:
    return sign_in(client)
