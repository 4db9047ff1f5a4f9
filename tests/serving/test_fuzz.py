"""Property-based fuzzing of the real service (``bentoml serve``) over HTTP.

Two generators, one run each:

- schemathesis reads the service's own OpenAPI document and generates requests for every operation,
  valid ones and ones that break the schema, each sent without the key, with a wrong key and with the
  right one;
- a hypothesis strategy of our own mixes routes, methods, content types (multipart with no, an empty or
  a made-up boundary, forms, pickle, text), bodies (random bytes, JSON, multipart-looking text) and keys,
  which a schema-driven generator never sends.

Every answer must be below 500; an answer to a caller without the right key must carry no personal
field (a customer's segment, tier, churn or value scores, RFM) and no file path of the server.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from serving import routes
from tests.serving.champions import API_KEY
from tests.serving.live import Live, live_service

pytestmark = pytest.mark.fuzz

MIN_REQUESTS = 5_000
# per operation: valid requests without, with a wrong and with the right key, schema-breaking ones without
# and with the key: 5 runs x 110 examples x 10 operations = 5,500 requests (a run may stop early when
# hypothesis has tried every distinct request, e.g. for a body-less route)
EXAMPLES_PER_RUN = 110
RAW_EXAMPLES = 600
WRONG_KEY = {"X-API-Key": "not-the-key"}
KEYS = {"without key": {}, "wrong key": WRONG_KEY, "with key": {"X-API-Key": API_KEY}}
# answer fields that describe one customer; never in an answer to a caller without the key
PERSONAL = {"tier", "churn_probability", "churn_band", "expected_clv", "value_at_risk", "rfm", "reasons",
            "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"}
FUZZ_SETTINGS = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Live:
    with live_service(tmp_path_factory.mktemp("fuzz")) as service:
        yield service


def personal_fields(request_body: Any, answer: Any) -> list[str]:
    """The personal fields with a value in ``answer`` (a ``segment`` the caller sent is only an echo)."""
    sent = [value for name, value in _fields(request_body) if name == "segment"]
    return [name for name, value in _fields(answer)
            if value is not None and (name in PERSONAL or (name == "segment" and value not in sent))]


def _fields(node: Any) -> list[tuple[str, Any]]:
    """Every (name, value) pair of a JSON value, at any depth."""
    if isinstance(node, dict):
        return [pair for name, value in node.items() for pair in [(name, value), *_fields(value)]]
    if isinstance(node, list):
        return [pair for value in node for pair in _fields(value)]
    return []


def check_answer(live: Live, route: str, keyed: bool, body: Any, status: int, text: str, label: str) -> None:
    """Below 500, no server path; without the key, an API answer is JSON with no personal field."""
    assert status < 500, f"{label}: {status} {text[:300]}"
    assert str(live.work) not in text and "/tmp/" not in text, f"{label}: a server path in {text[:300]}"
    if keyed or not route.startswith("/v1/"):  # the OpenAPI document names the fields; /metrics is text
        return
    try:
        answer = json.loads(text)
    except ValueError:
        assert status >= 400 or "," not in text, f"{label}: a non-JSON answer {text[:200]}"  # CSV is keyed
        return
    assert not personal_fields(body, answer), f"{label}: personal fields {personal_fields(body, answer)} in {text[:300]}"


def _body_of(case: Any) -> Any:
    return case.body if isinstance(case.body, dict | list) else None


def _fuzz_operation(live: Live, session: requests.Session, operation: Any, mode: GenerationMode, key: str,
                    statuses: Counter) -> None:
    """Send up to ``EXAMPLES_PER_RUN`` generated requests to one operation and check each answer."""

    @settings(max_examples=EXAMPLES_PER_RUN, **FUZZ_SETTINGS)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        answer = case.call(session=session, headers=KEYS[key], timeout=30)
        statuses[answer.status_code] += 1
        check_answer(live, operation.path, key == "with key", _body_of(case), answer.status_code, answer.text,
                     f"{operation.label} {mode.value} {key}")

    try:
        run()
    except Unsatisfiable:  # an operation whose body has nothing to break
        pass


def test_schema_driven_fuzz_finds_no_server_error_and_no_personal_data(live: Live) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/docs.json")
    schema.config.update(base_url=live.url)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith("/v1/")]
    assert {op.path for op in operations} >= {*routes.STOREFRONT, routes.PROFILE, routes.CHURN_RISK}
    session = requests.Session()
    statuses: Counter = Counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for key in KEYS:
                if key != "wrong key" or mode is GenerationMode.POSITIVE:  # a wrong key is refused before the body is read
                    _fuzz_operation(live, session, operation, mode, key, statuses)
    total = sum(statuses.values())
    print(f"schema-driven fuzz: {total} requests, statuses {dict(sorted(statuses.items()))}")
    assert total >= MIN_REQUESTS
    assert not [status for status in statuses if status >= 500]


# --- transport-level fuzz: what a schema-driven generator never sends ---------------------------------------

ROUTES = [*routes.STOREFRONT, routes.PROFILE, routes.CHURN_RISK, routes.CHURN_RISK_CSV, routes.RELOAD, routes.STATUS,
          "/docs.json", "/readyz", "/metrics", "/v1/nothing-here"]
header_text = st.characters(min_codepoint=0x20, max_codepoint=0x7E)  # what an HTTP client can put in a header
boundaries = st.text(header_text, max_size=80)
content_types = st.one_of(
    st.none(),
    st.sampled_from(["application/json", "application/json; charset=latin-1", "multipart/form-data",
                     "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"", "multipart/mixed",
                     "application/x-www-form-urlencoded", "application/vnd.bentoml+pickle", "text/plain", "*/*"]),
    boundaries.map(lambda boundary: f"multipart/form-data; boundary={boundary}".strip()),
    st.text(header_text, max_size=60).map(str.strip),  # a header value cannot end in a space
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=2048),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.builds(lambda b, name, value: f"--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--{b}--\r\n".encode(),
              boundaries, st.sampled_from(["customer_id", "k", "product_id", "stock", "x"]), st.text(max_size=30)),
)


@settings(max_examples=RAW_EXAMPLES, **FUZZ_SETTINGS)
@given(route=st.sampled_from(ROUTES), method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]),
       content_type=content_types, body=bodies, key=st.sampled_from(list(KEYS)))
def _raw_request(live: Live, client: httpx.Client, statuses: Counter, route: str, method: str,
                 content_type: str | None, body: bytes, key: str) -> None:
    headers = {**KEYS[key], **({"Content-Type": content_type} if content_type is not None else {})}
    answer = client.request(method, live.url + route, content=body, headers=headers)
    statuses[answer.status_code] += 1
    check_answer(live, route, key == "with key", None, answer.status_code, answer.text,
                 f"{method} {route} content-type {content_type!r} body {body[:80]!r} {key}")


def test_transport_level_fuzz_finds_no_server_error(live: Live) -> None:
    statuses: Counter = Counter()
    with httpx.Client(timeout=30) as client:
        _raw_request(live, client, statuses)
    print(f"transport-level fuzz: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= RAW_EXAMPLES // 2
    assert not [status for status in statuses if status >= 500]
