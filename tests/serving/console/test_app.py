"""The console's pages over ASGI (Starlette's test client): sessions, CSRF, headers, escaping, the
churn list's filters and export, and the pages' contents."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pandas as pd
import pytest

from serving.console import PREFIX
from serving.console.middleware import SECURITY_HEADERS
from serving.console.session import SESSION_COOKIE
from serving.console.throttle import MAX_FAILURES, WINDOW_SECONDS
from serving.schemas import ChurnRiskExportRequest
from tests.serving.console.conftest import FORMULA_ID, KEY, SCRIPT_ID, console_client, sign_in

PAGES = ["/", "/churn", "/churn.csv", "/customer?id=c00001", "/segments", "/segment.csv?name=Loyal", "/models"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_answers_401_with_the_login_form_without_a_session(client, page: str) -> None:
    answer = client.get(PREFIX + page)
    assert answer.status_code == 401
    assert 'name="api_key"' in answer.text and "customer" not in answer.headers.get("content-type", "")
    forged = client.get(PREFIX + page, cookies={SESSION_COOKIE: "9999999999.nonce.0000"})
    assert forged.status_code == 401


def test_the_login_sets_a_hardened_cookie_and_never_shows_the_key(client) -> None:
    form = client.get(PREFIX + "/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)
    answer = client.post(PREFIX + "/login", data={"csrf": token, "api_key": KEY, "next": PREFIX + "/churn"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == PREFIX + "/churn"
    cookie = next(value for value in answer.headers.get_list("set-cookie") if value.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/console/" in cookie
    assert KEY not in cookie
    for page in PAGES:
        shown = client.get(PREFIX + page)
        assert shown.status_code == 200, page
        assert KEY not in shown.text and KEY not in str(shown.url)


def test_the_cookie_is_secure_unless_configured_off(bundle) -> None:
    with console_client(bundle, secure_cookie=True) as client:
        form = client.get(PREFIX + "/login")
        assert "Secure" in form.headers["set-cookie"]
    with console_client(bundle) as client:
        assert "Secure" not in client.get(PREFIX + "/login").headers["set-cookie"]


def test_a_wrong_key_a_missing_csrf_token_and_an_outside_target_are_refused(client) -> None:
    form = client.get(PREFIX + "/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)
    wrong = client.post(PREFIX + "/login", data={"csrf": token, "api_key": "guess"}, follow_redirects=False)
    assert wrong.status_code == 401 and "not the API key" in wrong.text and SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    forged = client.post(PREFIX + "/login", data={"csrf": "0" * 64, "api_key": KEY}, follow_redirects=False)
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(PREFIX + "/login").text).group(1)
    outside = client.post(PREFIX + "/login", data={"csrf": token, "api_key": KEY, "next": "https://evil.example/"},
                          follow_redirects=False)
    assert outside.status_code == 303 and outside.headers["location"] == PREFIX + "/", "no open redirect"


def test_sign_out_needs_the_session_csrf_token(signed_in) -> None:
    refused = signed_in.post(PREFIX + "/logout", data={"csrf": "nope"}, follow_redirects=False)
    assert refused.status_code == 403 and signed_in.get(PREFIX + "/").status_code == 200
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', signed_in.get(PREFIX + "/").text).group(1)
    assert signed_in.post(PREFIX + "/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert signed_in.get(PREFIX + "/").status_code == 401


@pytest.mark.parametrize("page", ["/login", "/", "/churn", "/static/console.css", "/customer?id=nobody"])
def test_security_headers_on_every_answer(signed_in, page: str) -> None:
    answer = signed_in.get(PREFIX + page)
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, name
    assert answer.headers["cache-control"] == ("public, max-age=3600" if "static" in page else "no-store")
    assert "unsafe-inline" not in answer.headers["content-security-policy"]


def test_a_closed_console_without_a_configured_key(bundle) -> None:
    with console_client(bundle, api_key=None) as client:
        assert client.get(PREFIX + "/").status_code == 403
        assert client.post(PREFIX + "/login", data={"api_key": ""}).status_code == 403


def test_without_a_bundle_the_pages_say_what_to_run() -> None:
    with console_client(None) as client:
        answer = sign_in(client).get(PREFIX + "/churn")
        assert answer.status_code == 503 and "crm serve import" in answer.text


def test_ids_with_markup_render_as_text(signed_in) -> None:
    page = signed_in.get(PREFIX + "/customer?id=" + quote(SCRIPT_ID))
    assert page.status_code == 200
    assert SCRIPT_ID not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    listed = signed_in.get(PREFIX + "/churn?search=script")
    assert SCRIPT_ID not in listed.text and "&lt;script&gt;" in listed.text
    missing = signed_in.get(PREFIX + "/customer?id=" + quote("<img src=x onerror=alert(1)>"))
    assert missing.status_code == 404 and "<img" not in missing.text


def _api_csv(bundle, **filters) -> str:
    """What the API's churn-risk.csv endpoint answers for these filters (the endpoint's own calls)."""
    request = ChurnRiskExportRequest(**filters)
    selected = bundle.customers.query(request.segments, request.tiers, request.bands, request.min_clv,
                                      request.sort_by, request.descending, request.search)
    return bundle.customers.to_csv(selected.iloc[: request.limit])


def test_the_list_filters_sorts_and_pages_like_the_api(signed_in, bundle) -> None:
    page = signed_in.get(PREFIX + "/churn?tier=Gold&tier=Silver&band=high&sort_by=churn_probability&order=asc&page=1")
    expected = bundle.customers.query(tiers=["Gold", "Silver"], bands=["high"], sort_by="churn_probability", descending=False)
    shown = re.findall(r'href="/console/customer\?id=([^"]+)"', page.text)
    assert shown == list(expected.index[:50]) and f"{len(expected):,} customers match" in page.text
    second = signed_in.get(PREFIX + "/churn?page=2")
    everyone = bundle.customers.query()
    assert re.findall(r'href="/console/customer\?id=([^"]+)"', second.text)[:3] == list(everyone.index[50:53])


def test_the_export_is_the_filtered_list_as_the_api_writes_it(signed_in, bundle) -> None:
    answer = signed_in.get(PREFIX + "/churn.csv?tier=Silver&band=high&band=medium&min_clv=50&limit=7")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"] and answer.headers["x-model-bundle"] == bundle.tag
    assert answer.text == _api_csv(bundle, tiers=["Silver"], bands=["high", "medium"], min_clv=50, limit=7)
    assert len(bundle.customers.query(tiers=["Silver"], bands=["high", "medium"], min_clv=50)) > 7, "the limit cut it"
    assert len(pd.read_csv(io.StringIO(answer.text))) == 7


def test_formula_ids_are_neutralised_in_both_exports(signed_in, bundle) -> None:
    rows = pd.read_csv(io.StringIO(signed_in.get(PREFIX + "/churn.csv?search=HYPERLINK").text), dtype=str)
    assert rows["customer_id"].tolist() == ["'" + FORMULA_ID]
    segment = bundle.customers.lookup(FORMULA_ID)["segment"]
    members = pd.read_csv(io.StringIO(signed_in.get(PREFIX + "/segment.csv?name=" + quote(segment)).text), dtype=str)
    assert "'" + FORMULA_ID in set(members["customer_id"]) and FORMULA_ID not in set(members["customer_id"])


def test_a_misspelt_segment_is_offered_the_real_names(signed_in) -> None:
    page = signed_in.get(PREFIX + "/churn?segment=Champs")
    assert page.status_code == 200 and "There is no segment “Champs”" in page.text
    assert 'href="/console/churn?segment=Champions"' in page.text and "0 customers match" in page.text
    segments = signed_in.get(PREFIX + "/segments?name=loyal")
    assert segments.status_code == 404 and 'href="/console/segments?name=Loyal"' in segments.text
    tier = signed_in.get(PREFIX + "/churn?tier=Gld").text
    assert "There is no tier “Gld”" in tier and 'href="/console/churn?tier=Gold"' in tier
    export = signed_in.get(PREFIX + "/segment.csv?name=Hibernatin")
    assert export.status_code == 404 and "Did you mean Hibernating?" in export.text


@pytest.mark.parametrize("query", ["page=0", "min_clv=-1", "sort_by=name", "band=extreme", "limit=0", "min_clv=abc"])
def test_bad_filters_are_a_400_naming_the_field(signed_in, query: str) -> None:
    path = "/churn.csv?" if query.startswith("limit") else "/churn?"
    answer = signed_in.get(PREFIX + path + query)
    assert answer.status_code == 400 and query.split("=")[0].replace("band", "bands") in answer.text


def test_the_customer_page_shows_scores_tier_progress_timeline_and_reasoned_recommendations(signed_in, bundle) -> None:
    customer = bundle.customers.query(tiers=["Bronze"]).index[0]
    row = bundle.customers.lookup(customer)
    page = signed_in.get(PREFIX + "/customer?id=" + quote(customer)).text
    assert row["segment"] in page and f"reaches <strong>{row['next_tier']}</strong>" in page
    assert "no purchase for 60 days" in page and "value at risk" in page
    assert "Purchase timeline" in page and "<svg" in page
    assert "Buy again (repeat)" in page and "Try something new (discovery)" in page
    assert "customers with similar baskets buy it" in page or "popular" in page
    assert "After-sales history" not in page, "shown only when the bundle has such data"


def test_the_overview_segments_and_models_pages(signed_in, bundle) -> None:
    overview = signed_in.get(PREFIX + "/").text
    assert overview.count('role="img"') == 7, "three charts per grouping and the monthly trend"
    assert "Customers, revenue and churn risk by segment" in overview and bundle.tag in overview
    compare = signed_in.get(PREFIX + "/segments?name=Champions&name=Hibernating").text
    assert "<th scope=\"col\">Champions</th><th scope=\"col\">Hibernating</th>" in compare
    assert "What they buy" in compare and "segment.csv?name=Champions" in compare
    models = signed_in.get(PREFIX + "/models").text
    assert "model 0.7100 vs best baseline recency 0.6600 (gap 3.2 SE); serving lightgbm" in models
    assert "beats its baselines" in models
    assert "no baseline figures recorded" in models and "No retrain schedule" in models


def test_the_models_page_dates_the_next_retrain_and_links_mlflow(bundle) -> None:
    with console_client(bundle, retrain_days=7, mlflow_uri="http://mlflow.internal:5000") as client:
        page = sign_in(client).get(PREFIX + "/models").text
    next_date = (bundle.as_of + pd.Timedelta(days=7)).strftime("%b %-d, %Y")
    assert f"Next retrain: <strong>{next_date}</strong>" in page
    assert 'href="http://mlflow.internal:5000/#/models/crm-churn/versions/2"' in page


def test_top_n_keeps_the_first_customers_in_the_list_and_in_its_export_link(signed_in, bundle) -> None:
    page = signed_in.get(PREFIX + "/churn?band=high&limit=3").text
    shown = re.findall(r'href="/console/customer\?id=([^"]+)"', page)
    assert shown == list(bundle.customers.query(bands=["high"]).index[:3])
    assert "the top 3 kept" in page and 'href="/console/churn.csv?band=high&amp;limit=3"' in page


def test_failed_logins_are_limited_per_client_with_a_429_and_retry_after(client) -> None:
    def attempt(key: str):
        form = client.get(PREFIX + "/login")
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)
        return client.post(PREFIX + "/login", data={"csrf": token, "api_key": key}, follow_redirects=False)

    assert [attempt("guess").status_code for _ in range(MAX_FAILURES)] == [401] * MAX_FAILURES
    refused = attempt(KEY)  # even the right key: the key is not checked while the client is over the limit
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= WINDOW_SECONDS
    assert "try again in" in refused.text and SESSION_COOKIE not in refused.headers.get("set-cookie", "")
