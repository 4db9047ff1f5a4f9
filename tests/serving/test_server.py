"""The real service over HTTP: one ``bentoml serve`` process for the module, on a free loopback port,
serving bundles built from small champions in a temporary MLflow registry and BentoML store.

The server starts before any bundle exists (so its unready state is observed), then bundles are
imported while it runs (it picks them up by itself), including one that cannot load.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from engine.customers.view import customer_view, default_as_of
from serving import routes, server
from serving.schemas import MAX_BATCH_CUSTOMERS, MAX_CLV, MAX_K, MAX_PAGE, MAX_PRICE, MAX_PRICE_BATCH, MAX_STOCK
from tests.serving.champions import train_recommender
from tests.serving.live import KEY, Live, live_service
from training.bundle import import_champions
from training.bundle_store import store_bundle, stored_path

pytestmark = pytest.mark.slow  # starts the service


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Live:
    with live_service(tmp_path_factory.mktemp("serving"), before_import=_observe_unready) as service:
        yield service


def _observe_unready(process: server.Server) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(process.url + "/readyz", timeout=2)
            status = httpx.post(process.url + routes.STATUS, json={}, timeout=2)
            recommend = httpx.post(process.url + routes.RECOMMEND, json={"customer_id": "c1"}, timeout=2)
            return {"readyz": ready.status_code, "status": status.json(), "recommend": recommend}
        except httpx.TransportError:
            time.sleep(0.25)
    raise AssertionError("the service did not start")


def test_without_a_bundle_it_runs_but_is_not_ready_and_says_why(live: Live) -> None:
    assert live.before_import["readyz"] == 503
    status = live.before_import["status"]
    assert status["ready"] is False and status["bundle"] is None
    assert status["last_reload"]["ok"] is False and "crm-bundle" in status["last_reload"]["error"]
    assert live.before_import["recommend"].status_code == 503
    assert "crm serve import" in live.before_import["recommend"].json()["error"]
    for answer in (str(status), live.before_import["recommend"].text):
        assert str(live.home) not in answer and "<path>" in answer, "no server path in an open answer"


def test_health_readiness_metrics_and_openapi(live: Live) -> None:
    assert httpx.get(live.url + "/readyz").status_code == 200
    assert httpx.get(live.url + "/healthz").status_code == 200
    live.post(routes.RECOMMEND, {"customer_id": "c00001"})
    live.post(routes.RECOMMEND, {"customer_id": "never-seen"})
    metrics = httpx.get(live.url + "/metrics").text
    assert 'bentoml_service_request_duration_seconds_count{' in metrics and routes.RECOMMEND in metrics
    assert 'crm_bundle_loads_total{outcome="ok"}' in metrics
    assert 'crm_cold_start_answers_total{endpoint="recommend"}' in metrics
    paths = httpx.get(live.url + "/docs.json").json()["paths"]
    for route in (*routes.STOREFRONT, routes.PROFILE, routes.CHURN_RISK, routes.CHURN_RISK_CSV, routes.STATUS, routes.RELOAD):
        assert route in paths


def _known_customer(live: Live) -> str:
    """A customer with a middling history: several items bought, most of the catalogue not."""
    counts = live.shop.transactions.groupby("customer_id")["product_id"].nunique()
    return str((counts - counts.median()).abs().idxmin())


def test_recommendations_for_a_known_customer_name_the_models(live: Live) -> None:
    customer = _known_customer(live)
    answer = live.post(routes.RECOMMEND, {"customer_id": customer, "k": 5, "task": "discovery"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer_id"] == customer and body["source"] == "model" and body["cold_start"] is False
    assert len(body["items"]) == 5
    assert body["versions"]["bundle"] == live.status()["bundle"] and body["versions"]["recommender"] is not None
    bought = set(live.shop.transactions.loc[live.shop.transactions["customer_id"] == customer, "product_id"])
    assert not bought & {item["item_id"] for item in body["items"]}, "discovery must not repeat purchases"
    categories = live.shop.products.set_index("product_id")["category"]
    assert all(item["category"] == categories[item["item_id"]] for item in body["items"])


def test_exclusions_and_the_category_filter(live: Live) -> None:
    customer = _known_customer(live)
    first = live.post(routes.RECOMMEND, {"customer_id": customer, "k": 3, "task": "repeat"}, KEY).json()["items"]
    excluded = [first[0]["item_id"]]
    again = live.post(routes.RECOMMEND, {"customer_id": customer, "k": 3, "task": "repeat", "exclude": excluded}, KEY).json()
    assert excluded[0] not in {item["item_id"] for item in again["items"]}
    category = first[0]["category"]
    filtered = live.post(routes.RECOMMEND, {"customer_id": customer, "k": 4, "category": category}).json()
    assert filtered["items"] and {item["category"] for item in filtered["items"]} == {category}


def test_an_unknown_category_is_a_400_naming_the_field(live: Live) -> None:
    answer = live.post(routes.RECOMMEND, {"customer_id": _known_customer(live), "category": "no-such-category"})
    assert answer.status_code == 400 and answer.json()["error"].startswith("category:")


def test_an_unknown_customer_gets_a_flagged_cold_start_answer(live: Live) -> None:
    answer = live.post(routes.RECOMMEND, {"customer_id": "never-seen", "k": 4})
    assert answer.status_code == 200
    body = answer.json()
    assert body["cold_start"] is True and body["source"] == "cold_start_global" and len(body["items"]) == 4


def test_batch_recommendations_keep_the_order_of_the_request(live: Live) -> None:
    customers = [_known_customer(live), "never-seen", "c00002"]
    body = live.post(routes.RECOMMEND_BATCH, {"customer_ids": customers, "k": 2, "task": "repeat"}, KEY).json()
    assert [r["customer_id"] for r in body["results"]] == customers
    assert [r["cold_start"] for r in body["results"]][:2] == [False, True]
    assert body["versions"]["recommender"] is not None


def test_similar_items_and_an_unknown_item(live: Live) -> None:
    item = str(live.shop.transactions["product_id"].iloc[0])
    known = live.post(routes.SIMILAR_ITEMS, {"item_id": item, "k": 3}).json()
    assert known["known"] is True and len(known["items"]) == 3 and item not in {i["item_id"] for i in known["items"]}
    unknown = live.post(routes.SIMILAR_ITEMS, {"item_id": "no-such-item"})
    assert unknown.status_code == 200
    assert unknown.json()["known"] is False and unknown.json()["items"] == [] and unknown.json()["reason"]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        (routes.RECOMMEND, {"customer_id": "c1", "k": 0}, "k"),
        (routes.RECOMMEND, {"customer_id": "c1", "k": MAX_K + 1}, "k"),
        (routes.RECOMMEND, {"customer_id": "c1", "task": "everything"}, "task"),
        (routes.RECOMMEND, {"customer_id": "c1", "colour": "red"}, "colour"),
        (routes.RECOMMEND, {"k": 3}, "customer_id"),
        (routes.RECOMMEND, {"customer_id": ""}, "customer_id"),
        (routes.RECOMMEND_BATCH, {"customer_ids": [f"c{i}" for i in range(MAX_BATCH_CUSTOMERS + 1)]}, "customer_ids"),
        (routes.SIMILAR_ITEMS, {"item_id": ["a", "b"]}, "item_id"),
    ],
)
def test_malformed_or_oversized_requests_get_a_400_naming_the_field(live: Live, route: str, body: dict, field: str) -> None:
    answer = live.post(route, body)
    assert answer.status_code == 400
    assert field in [str(part) for problem in answer.json()["detail"] for part in problem["loc"]]


PRODUCT = {"product_id": "p0001"}


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        (routes.SIMILAR_ITEMS, {"item_id": "p1", "k": 0}, "k"),
        (routes.SIMILAR_ITEMS, {"item_id": "p1", "k": MAX_K + 1}, "k"),
        (routes.RECOMMEND_BATCH, {"customer_ids": ["c1"], "k": MAX_K + 1}, "k"),
        (routes.RECOMMEND_BATCH, {"customer_ids": []}, "customer_ids"),
        (routes.PRICE, {**PRODUCT, "current_price": 0}, "current_price"),
        (routes.PRICE, {**PRODUCT, "current_price": -1.5}, "current_price"),
        (routes.PRICE, {**PRODUCT, "current_price": 5e-324}, "current_price"),  # was a 500 (found by an outside fuzzer)
        (routes.PRICE_BATCH, {"requests": [{**PRODUCT, "current_price": 1e-300}]}, "current_price"),
        (routes.PRICE, {**PRODUCT, "current_price": MAX_PRICE * 10}, "current_price"),
        (routes.PRICE, {**PRODUCT, "stock": -1}, "stock"),
        (routes.PRICE, {**PRODUCT, "stock": MAX_STOCK * 10}, "stock"),
        (routes.PRICE_BATCH, {"requests": [PRODUCT, {**PRODUCT, "current_price": 1e9}]}, "current_price"),
        (routes.PRICE_BATCH, {"requests": []}, "requests"),
        (routes.CHURN_RISK, {"min_clv": -1}, "min_clv"),
        (routes.CHURN_RISK, {"min_clv": MAX_CLV * 10}, "min_clv"),
        (routes.CHURN_RISK, {"page": 0}, "page"),
        (routes.CHURN_RISK, {"page": MAX_PAGE + 1}, "page"),
        (routes.CHURN_RISK, {"page_size": 0}, "page_size"),
        (routes.CHURN_RISK_CSV, {"limit": 0}, "limit"),
        (routes.CHURN_RISK_CSV, {"limit": 10**6}, "limit"),
    ],
)
def test_every_number_has_a_range_and_a_400_names_the_field(live: Live, route: str, body: dict, field: str) -> None:
    answer = live.post(route, body, KEY)
    assert answer.status_code == 400, answer.text
    assert field in [str(part) for problem in answer.json()["detail"] for part in problem["loc"]]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("field", ["current_price", "stock"])
def test_a_number_that_is_not_finite_is_a_400_naming_the_field(live: Live, field: str, literal: str) -> None:
    body = f'{{"product_id": "p0001", "{field}": {literal}}}'
    answer = httpx.post(live.url + routes.PRICE, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["detail"][0]["loc"] == [field], answer.text


POST_ROUTES = [*routes.STOREFRONT, routes.PROFILE, routes.CHURN_RISK, routes.CHURN_RISK_CSV, routes.RELOAD, routes.STATUS]


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=nope"])
def test_a_multipart_body_without_a_usable_boundary_is_a_400_on_every_route(live: Live, route: str, content_type: str) -> None:
    answer = httpx.post(live.url + route, content=b"customer_id=c1", headers={**KEY, "Content-Type": content_type})
    assert answer.status_code == 400 and "application/json" in answer.json()["error"]


def test_a_body_over_the_size_limit_is_a_413_with_a_clear_message(live: Live) -> None:
    body = b'{"customer_id": "c1", "exclude": ["' + b"x" * (2**20) + b'"]}'
    answer = httpx.post(live.url + routes.RECOMMEND, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "over the limit of 1048576 bytes" in answer.json()["error"]

    def chunks():  # no Content-Length: the guard counts as it reads
        for _ in range(20):
            yield b"x" * 100_000

    chunked = httpx.post(live.url + routes.RECOMMEND, content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413


def test_a_client_error_is_one_info_line_without_a_traceback(live: Live) -> None:
    before = live.log.stat().st_size
    marker = "never-a-customer-" + "x" * 40
    answer = live.post(routes.RECOMMEND, {"customer_id": marker, "k": 0})
    assert answer.status_code == 400
    deadline = time.monotonic() + 5
    while "client error 400" not in (written := live.log.read_text()[before:]) and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [line for line in written.splitlines() if line.strip()]
    assert len(lines) == 1, written
    assert "[INFO]" in lines[0] and f"client error 400 POST {routes.RECOMMEND}" in lines[0] and "k:" in lines[0]
    assert "Traceback" not in written and marker not in written, "no traceback, no request content in the log"


def test_a_customers_own_offer_or_purchases_need_the_key(live: Live) -> None:
    customer = _known_customer(live)
    product = str(live.shop.products["product_id"].iloc[1])
    for headers, status in (({}, 401), ({"X-API-Key": "wrong"}, 403)):
        price = live.post(routes.PRICE, {"product_id": product, "customer_id": customer}, headers)
        assert price.status_code == status and price.json()["error"].startswith("customer_id:")
        batch = live.post(routes.PRICE_BATCH, {"requests": [{"product_id": product}, {"product_id": product, "customer_id": customer}]}, headers)
        assert batch.status_code == status and batch.json()["error"].startswith("requests.1.customer_id:")
        repeat = live.post(routes.RECOMMEND, {"customer_id": customer, "task": "repeat"}, headers)
        assert repeat.status_code == status and repeat.json()["error"].startswith("task:")
        batch_repeat = live.post(routes.RECOMMEND_BATCH, {"customer_ids": [customer], "task": "repeat"}, headers)
        assert batch_repeat.status_code == status
    open_price = live.post(routes.PRICE, {"product_id": product, "segment": "Gold"})
    assert open_price.status_code == 200 and open_price.json()["segment"] == "Gold"  # a segment's offer stays open
    assert live.post(routes.RECOMMEND, {"customer_id": customer}).status_code == 200  # discovery stays open


def test_the_served_openapi_document_is_valid_3_1(live: Live) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    spec = httpx.get(live.url + "/docs.json").json()
    assert spec["openapi"] == "3.1.0" and not list(OpenAPIV31SpecValidator(spec).iter_errors())
    assert live.status()["as_of"].endswith("Z") and live.status()["loaded_at"].endswith("Z")


def test_a_body_that_is_not_json_is_a_400(live: Live) -> None:
    answer = httpx.post(live.url + routes.RECOMMEND, content=b"{customer", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


def test_a_price_comes_with_its_explanation_and_versions(live: Live) -> None:
    product = str(live.shop.products["product_id"].iloc[1])
    body = live.post(routes.PRICE, {"product_id": product, "stock": 25}).json()
    assert body["known"] is True and body["price"] > 0 and body["current_price"] > 0
    assert body["reason"] and isinstance(body["flags"], list) and body["stock"] == 25
    assert body["elasticity_low"] <= body["elasticity"] <= body["elasticity_high"]
    assert body["expected_units"] >= 0 and body["current_units"] >= 0
    assert body["versions"]["pricing"] is not None and body["versions"]["bundle"] == live.status()["bundle"]


def test_an_unknown_product_keeps_its_price_and_says_so(live: Live) -> None:
    answer = live.post(routes.PRICE, {"product_id": "no-such-product", "current_price": 4.99})
    assert answer.status_code == 200
    body = answer.json()
    assert body["known"] is False and body["reason"] == "unknown_product" and body["price"] == 4.99


def test_a_customer_price_uses_the_customers_segment_or_tier(live: Live) -> None:
    customer = _known_customer(live)
    view = customer_view(live.shop.transactions, default_as_of(live.shop.transactions))
    product = str(live.shop.products["product_id"].iloc[1])
    body = live.post(routes.PRICE, {"product_id": product, "customer_id": customer}, KEY).json()
    assert body["segment"] in (view.loc[customer, "segment"], view.loc[customer, "tier"])
    explicit = live.post(routes.PRICE, {"product_id": product, "customer_id": customer, "segment": "Gold"}, KEY).json()
    assert explicit["segment"] == "Gold"


def test_batch_prices_keep_the_order_and_the_limit(live: Live) -> None:
    products = [str(p) for p in live.shop.products["product_id"].iloc[:3]] + ["no-such-product"]
    body = live.post(routes.PRICE_BATCH, {"requests": [{"product_id": p} for p in products]}).json()
    assert [q["product_id"] for q in body["results"]] == products
    assert [q["known"] for q in body["results"]] == [True, True, True, False]
    too_many = live.post(routes.PRICE_BATCH, {"requests": [{"product_id": "p"}] * (MAX_PRICE_BATCH + 1)})
    assert too_many.status_code == 400 and "requests" in too_many.json()["detail"][0]["loc"]
    negative = live.post(routes.PRICE, {"product_id": products[0], "stock": -1})
    assert negative.status_code == 400 and "stock" in negative.json()["detail"][0]["loc"]


def test_profiles_match_the_customer_view_and_unknown_customers_get_the_entry_tier(live: Live) -> None:
    view = customer_view(live.shop.transactions, default_as_of(live.shop.transactions))
    customer = str(view.index[7])
    body = live.post(routes.PROFILE, {"customer_id": customer}, KEY).json()
    assert body["known"] is True
    assert body["segment"] == view.loc[customer, "segment"] and body["tier"] == view.loc[customer, "tier"]
    assert body["rfm"]["frequency"] == view.loc[customer, "frequency"]
    assert body["rfm"]["r_score"] == view.loc[customer, "r_score"]
    assert body["as_of"].endswith("Z"), "date-times are sent with their time zone"
    assert pd.Timestamp(body["as_of"]) == default_as_of(live.shop.transactions).tz_localize("UTC")
    unknown = live.post(routes.PROFILE, {"customer_id": "never-seen"}, KEY).json()
    assert unknown["known"] is False and unknown["rfm"] is None and unknown["tier"] == "Bronze"
    assert unknown["versions"]["bundle"] == body["versions"]["bundle"]


def test_profiles_carry_churn_and_value_consistent_with_the_list(live: Live) -> None:
    listed = live.post(routes.CHURN_RISK, {"page_size": 5}, KEY).json()["customers"][2]
    body = live.post(routes.PROFILE, {"customer_id": listed["customer_id"]}, KEY).json()
    for column in ("churn_probability", "churn_band", "expected_clv", "value_at_risk", "segment", "tier"):
        assert body[column] == listed[column], column
    assert body["value_at_risk"] == pytest.approx(body["churn_probability"] * body["expected_clv"])
    assert body["churn_band"] == ("high" if body["churn_probability"] >= 0.6 else "medium" if body["churn_probability"] >= 0.3 else "low")
    assert all(reason.startswith(("raises risk: ", "lowers risk: ")) for reason in body["reasons"])
    page = live.post(routes.CHURN_RISK, {"page_size": 5}, KEY).json()["customers"]
    profiles = [live.post(routes.PROFILE, {"customer_id": row["customer_id"]}, KEY).json() for row in page]
    assert any(profile["reasons"] for profile in profiles)  # the riskiest customers are given reasons
    assert body["versions"]["churn"] is not None and body["versions"]["clv"] is not None


def test_the_churn_risk_list_sorts_pages_and_filters(live: Live) -> None:
    first = live.post(routes.CHURN_RISK, {"page": 1, "page_size": 10}, KEY).json()
    second = live.post(routes.CHURN_RISK, {"page": 2, "page_size": 10}, KEY).json()
    assert first["total"] == second["total"] > 20 and first["versions"]["churn"] is not None
    risks = [c["value_at_risk"] for c in first["customers"] + second["customers"]]
    assert risks == sorted(risks, reverse=True) and len(risks) == 20
    assert not {c["customer_id"] for c in first["customers"]} & {c["customer_id"] for c in second["customers"]}
    high = live.post(routes.CHURN_RISK, {"bands": ["high"], "min_clv": 100, "page_size": 500}, KEY).json()
    assert high["total"] == len(high["customers"]) > 0
    assert all(c["churn_band"] == "high" and c["expected_clv"] >= 100 for c in high["customers"])
    segment = first["customers"][0]["segment"]
    by_segment = live.post(routes.CHURN_RISK, {"segments": [segment], "sort_by": "churn_probability", "descending": False}, KEY).json()
    probabilities = [c["churn_probability"] for c in by_segment["customers"]]
    assert {c["segment"] for c in by_segment["customers"]} == {segment} and probabilities == sorted(probabilities)
    beyond = live.post(routes.CHURN_RISK, {"page": 1000}, KEY).json()
    assert beyond["customers"] == [] and beyond["total"] == first["total"]
    assert live.post(routes.CHURN_RISK, {"page_size": 10_000}, KEY).status_code == 400
    assert live.post(routes.CHURN_RISK, {"bands": ["severe"]}, KEY).status_code == 400


def test_the_churn_risk_list_exports_as_csv(live: Live) -> None:
    answer = live.post(routes.CHURN_RISK_CSV, {"bands": ["high", "medium"], "limit": 7}, KEY)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["x-model-bundle"] == live.status()["bundle"] and answer.headers["x-model-churn"] != "None"
    table = pd.read_csv(io.StringIO(answer.text))
    assert len(table) == 7 and set(table["churn_band"]) <= {"high", "medium"}
    listed = live.post(routes.CHURN_RISK, {"bands": ["high", "medium"], "page_size": 7}, KEY).json()["customers"]
    assert list(table["customer_id"].astype(str)) == [c["customer_id"] for c in listed]
    assert {"expected_clv", "value_at_risk", "segment", "tier", "reasons", "recency_days"} <= set(table.columns)


def test_marketing_endpoints_need_the_key(live: Live) -> None:
    assert live.post(routes.PROFILE, {"customer_id": "c1"}).status_code == 401
    assert live.post(routes.PROFILE, {"customer_id": "c1"}, {"X-API-Key": "wrong"}).status_code == 403
    assert live.post(routes.CHURN_RISK, {}, {"X-API-Key": "wrong"}).status_code == 403
    assert live.post(routes.RECOMMEND, {"customer_id": "c1"}).status_code == 200  # storefront open


def test_a_new_champion_is_picked_up_while_requests_keep_succeeding(live: Live) -> None:
    customer = _known_customer(live)
    old = live.status()
    train_recommender(live.shop, live.work / "recommender-2", metric=0.9)
    with ThreadPoolExecutor(4) as pool:
        answers = pool.map(lambda _: live.post(routes.RECOMMEND, {"customer_id": customer}), range(400))
        tag, _ = import_champions(live.shop, bentoml_home=live.home)
        new = live.wait_for(lambda s: s["bundle"] == tag)
        answers = list(answers)
    assert all(a.status_code == 200 for a in answers)
    assert {a.json()["versions"]["bundle"] for a in answers} <= {old["bundle"], tag}
    assert new["versions"]["recommender"] != old["versions"]["recommender"] and new["last_reload"]["ok"]
    after = live.post(routes.RECOMMEND, {"customer_id": customer}).json()
    assert after["versions"] == new["versions"]


def _recount(bundle: Path, name: str) -> None:
    """Record a changed file's size and SHA-256 in the bundle's manifest."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    content = (bundle / name).read_bytes()
    manifest["files"][name] = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_a_bundle_that_fails_to_load_leaves_the_old_one_serving(live: Live) -> None:
    serving = live.status()["bundle"]
    broken = live.work / "broken"
    shutil.copytree(stored_path(serving, live.home), broken)
    (broken / "recommender" / "manifest.json").write_text("{ not json")
    _recount(broken, "recommender/manifest.json")  # whole by its checksums, yet its model cannot load
    tag = store_bundle(broken, {"purpose": "broken on purpose"}, live.home)
    status = live.wait_for(lambda s: s["last_reload"]["bundle"] == tag)
    assert status["last_reload"]["ok"] is False and "not valid JSON" in status["last_reload"]["error"]
    assert str(live.home) not in status["last_reload"]["error"], "the log has the path, the answer does not"
    assert status["bundle"] == serving and status["ready"] is True
    assert httpx.get(live.url + "/readyz").status_code == 200
    answer = live.post(routes.RECOMMEND, {"customer_id": "c00001"})
    assert answer.status_code == 200 and answer.json()["versions"]["bundle"] == serving
    log = (live.work / "server.log").read_text()
    assert f"loading bundle {tag} failed, still serving {serving}" in log and f"serving bundle {serving}" in log
    assert 'crm_bundle_loads_total{outcome="failed"}' in httpx.get(live.url + "/metrics").text
