"""The OpenAPI document the service publishes is valid 3.1 and keeps optional fields nullable."""

from __future__ import annotations

import copy
import json

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from serving import routes
from serving.openapi import fix_spec


@pytest.fixture(scope="module")
def generated() -> dict:
    from serving.service import CRMService

    return json.loads(json.dumps(CRMService.openapi_spec.asdict()))  # as served: JSON keys are strings


def _request_schema(spec: dict, route: str) -> dict:
    return spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_bentoml_alone_publishes_an_invalid_document(generated: dict) -> None:
    """The defect this module exists for (if BentoML fixes it, fix_spec can go)."""
    assert generated["openapi"].startswith("3.0")
    broken = copy.deepcopy(generated)
    broken["openapi"] = "3.1.0"
    assert list(OpenAPIV31SpecValidator(broken).iter_errors())


def test_the_fixed_document_is_valid_openapi_3_1(generated: dict) -> None:
    spec = fix_spec(copy.deepcopy(generated))
    assert spec["openapi"] == "3.1.0"
    assert [str(error)[:200] for error in OpenAPIV31SpecValidator(spec).iter_errors()] == []
    for route in (*routes.STOREFRONT, routes.PROFILE, routes.CHURN_RISK, routes.EVENTS):
        assert route in spec["paths"]
    events = _request_schema(spec, routes.EVENTS)  # an ASGI endpoint of its own, documented by fix_spec
    assert spec["components"]["schemas"][events["$ref"].rsplit("/", 1)[1]]["properties"]["events"]["maxItems"] == 1000
    assert spec["paths"][routes.EVENTS]["post"]["security"] == [{"ApiKey": []}]


def test_optional_request_fields_are_nullable_and_numbers_bounded(generated: dict) -> None:
    price = _request_schema(fix_spec(copy.deepcopy(generated)), routes.PRICE)["properties"]
    assert price["stock"]["type"] == ["number", "null"] and price["stock"]["maximum"] == 1e9
    assert price["current_price"]["minimum"] == 0.01 and price["current_price"]["maximum"] == 1e7
    assert price["product_id"]["type"] == "string"  # required fields stay as they are


def test_keyed_routes_declare_the_api_key(generated: dict) -> None:
    spec = fix_spec(copy.deepcopy(generated))
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "x-api-key", "description": spec["components"]["securitySchemes"]["ApiKey"]["description"]}
    assert spec["paths"][routes.PROFILE]["post"]["security"] == [{"ApiKey": []}]
    assert "security" not in spec["paths"][routes.RECOMMEND]["post"]


def test_date_times_in_answers_must_carry_a_time_zone() -> None:
    from pydantic import ValidationError

    from serving.schemas import ReloadAttempt

    with pytest.raises(ValidationError, match="timezone"):
        ReloadAttempt(at="2017-12-31T00:00:00", bundle="b", ok=True)
    assert ReloadAttempt(at="2017-12-31T00:00:00Z", bundle="b", ok=True).model_dump_json().count("Z") == 1
