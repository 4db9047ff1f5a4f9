"""The console in a real headless browser (the system's Chromium, driven by Playwright) on the real
server: log in, filter, open a customer, export and compare with the API, and the marketer's three
tasks, each timed, with no console error, no script error and no failed request.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it). Playwright never
downloads a browser here: it is pointed at that executable.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.conftest import require
from tests.serving.console.conftest import KEY, SCRIPT_ID

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
TASK_SECONDS = 60


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Any]:
    from tests.serving.console.live_console import console_server

    with console_server(tmp_path_factory.mktemp("console-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (the browser tests need the system's Chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page with every console error, script error, failed request and dialog it produced."""

    page: Any
    url: str
    problems: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def click(self, selector: str) -> None:
        """Click (a link or a button that loads a page) and wait until the new page has loaded."""
        self.page.locator(selector).first.click()
        self.page.wait_for_load_state("load")

    def sign_in(self) -> None:
        self.go("/console/login")
        self.page.fill("#api_key", KEY)
        self.click("form.login button[type=submit]")
        assert self.page.title().startswith("Overview")

    def download(self, selector: str) -> str:
        with self.page.expect_download() as started:
            self.page.click(selector)
        assert started.value.failure() is None
        return Path(started.value.path()).read_bytes().decode()


@pytest.fixture()
def watched(browser, service) -> Iterator[Watched]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    seen = Watched(page, service.url)
    page.on("console", lambda message: seen.problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: seen.problems.append(f"script error: {error}"))
    # net::ERR_ABORTED is the browser cancelling a request because the page moved on (a favicon still
    # loading when a link is clicked); a failure of the site shows as any other error or a >= 400 status
    page.on("requestfailed", lambda request: seen.problems.append(f"failed {request.url}: {request.failure}")
            if request.failure != "net::ERR_ABORTED" else None)
    page.on("response", lambda response: seen.problems.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.on("dialog", lambda dialog: (seen.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield seen
    context.close()


def _api_csv(url: str, body: dict[str, Any]) -> str:
    answer = httpx.post(url + "/v1/marketing/churn-risk.csv", json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_the_root_leads_to_the_login_form_and_nothing_else_without_a_session(watched: Watched) -> None:
    watched.go("/")
    assert watched.page.url.endswith("/console/") and watched.page.is_visible("#api_key")
    assert watched.page.locator("nav").count() == 0, "no page content before the login"
    # the only problem is the page's own 401 (Chromium logs it as a console error)
    assert all("401" in problem for problem in watched.problems) and watched.problems, watched.problems


def test_log_in_filter_open_a_customer_and_export_what_the_api_exports(watched: Watched) -> None:
    watched.sign_in()
    watched.go("/console/churn")
    watched.page.check("input[name=tier][value=Silver]")
    watched.page.check("input[name=band][value=high]")
    watched.page.check("input[name=band][value=medium]")
    watched.click("#apply")
    listed = watched.page.locator("table.list tbody tr th a").all_inner_texts()
    assert listed and all(row == "Silver" for row in watched.page.locator("table.list tbody tr td:nth-child(3)").all_inner_texts())
    watched.click(f"table.list tbody tr th a >> text={listed[0]}")
    assert watched.page.locator("h1 .id").inner_text() == listed[0]
    watched.page.go_back()
    exported = watched.download("#export")
    assert exported == _api_csv(watched.url, {"tiers": ["Silver"], "bands": ["high", "medium"]})
    assert pd.read_csv(io.StringIO(exported), dtype=str)["customer_id"].tolist()[: len(listed)] == listed
    assert watched.problems == []


def test_task_export_the_100_most_valuable_at_risk_gold_customers(watched: Watched) -> None:
    started = time.monotonic()
    watched.sign_in()
    watched.click("nav >> text=Churn risk")
    watched.page.check("input[name=tier][value=Gold]")
    watched.page.check("input[name=band][value=high]")
    watched.page.check("input[name=band][value=medium]")
    watched.page.select_option("#sort_by", "value_at_risk")
    watched.page.fill("#limit", "100")
    watched.click("#apply")
    exported = pd.read_csv(io.StringIO(watched.download("#export")), dtype={"customer_id": str})
    elapsed = time.monotonic() - started
    expected = _api_csv(watched.url, {"tiers": ["Gold"], "bands": ["high", "medium"], "sort_by": "value_at_risk", "limit": 100})
    assert exported.equals(pd.read_csv(io.StringIO(expected), dtype={"customer_id": str}))
    assert 0 < len(exported) <= 100 and set(exported["tier"]) == {"Gold"}
    assert exported["value_at_risk"].is_monotonic_decreasing
    assert elapsed < TASK_SECONDS, f"task took {elapsed:.1f} s"
    assert watched.problems == []


def test_task_see_why_a_customer_is_at_risk_and_what_to_offer(watched: Watched) -> None:
    started = time.monotonic()
    watched.sign_in()
    watched.click("nav >> text=Churn risk")
    watched.page.check("input[name=band][value=high]")
    watched.click("#apply")
    watched.click("table.list tbody tr th a")
    reasons = watched.page.locator("ul.reasons li").all_inner_texts()
    offers = watched.page.locator("#c-recs ~ table tbody tr").count()
    why_shown = watched.page.locator("#c-recs ~ table tbody tr td:nth-child(3)").all_inner_texts()
    elapsed = time.monotonic() - started
    assert watched.page.locator(".band.high").count() == 1 and reasons
    assert offers > 0 and all(why_shown), "every recommendation says why it is shown"
    assert watched.page.locator("#c-recs ~ table thead th >> text=Their offer").count() > 0, "priced with their offer"
    assert elapsed < TASK_SECONDS, f"task took {elapsed:.1f} s"
    assert watched.problems == []


def test_task_compare_two_segments(watched: Watched) -> None:
    started = time.monotonic()
    watched.sign_in()
    watched.click("nav >> text=Segments")
    watched.page.select_option("#seg-a", "Champions")
    watched.page.select_option("#seg-b", "Hibernating")
    watched.click("#show")
    headers = watched.page.locator("table.compare thead th").all_inner_texts()
    customers = watched.page.locator("table.compare tbody tr").first.locator("td").all_inner_texts()
    elapsed = time.monotonic() - started
    assert headers[1:] == ["Champions", "Hibernating"] and len(customers) == 2
    assert elapsed < TASK_SECONDS, f"task took {elapsed:.1f} s"
    assert watched.problems == []


def test_an_id_with_a_script_tag_is_shown_as_text_and_never_runs(watched: Watched) -> None:
    watched.sign_in()
    watched.go("/console/churn?search=script")
    watched.click("table.list tbody tr th a")
    assert watched.page.locator("h1 .id").inner_text() == SCRIPT_ID
    assert watched.problems == [], "no dialog, no script error"
