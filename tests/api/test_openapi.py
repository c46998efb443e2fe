"""The OpenAPI 3.1 document describes exactly the routes of `app.url_map` under /api/v1,
and the answers on real data validate against its schemas (JSON Schema 2020-12)."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from api.openapi import document
from tests.api.routes import fill, routes


API = routes(("/api/v1",))
PREFIX = "/api/v1"


def openapi_path(rule: str) -> str:
    """/api/v1/waves/<wave_slug> → /waves/{wave_slug}"""
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule[len(PREFIX):])


def resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = doc["components"][kind][name]
    return node


def validator(doc: dict, schema: dict) -> Draft202012Validator:
    """A validator for `schema` that resolves #/components/… against the document."""
    return Draft202012Validator({**schema, "components": doc["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_document_is_served_without_a_token(web, world):
    response = web.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json == document()
    assert response.json["openapi"] == "3.1.0"


def test_every_api_route_is_described_and_nothing_else():
    doc = document()
    served = {(openapi_path(r.rule), r.method.lower()) for r in API}
    described = {(path, method) for path, item in doc["paths"].items() for method in item if method in
                 ("get", "put", "post", "delete", "patch", "head", "options", "trace")}
    assert served - described == set(), f"routes missing from the OpenAPI document: {sorted(served - described)}"
    assert described - served == set(), f"documented but not served: {sorted(described - served)}"


@pytest.mark.parametrize("route", API, ids=[r.id for r in API])
def test_path_parameters_match_the_route(route):
    doc = document()
    operation = doc["paths"][openapi_path(route.rule)][route.method.lower()]
    declared = [resolve(doc, p) for p in operation.get("parameters", [])]
    assert sorted(p["name"] for p in declared if p["in"] == "path") == sorted(route.params)
    for p in declared:
        if p["in"] == "path":
            assert p["required"] is True
            converter = re.search(r"<([a-z]+):" + p["name"] + ">", route.rule)
            assert (p["schema"].get("type") == "integer") == bool(converter and converter.group(1) == "int"), p["name"]


def test_security_is_bearer_everywhere_but_the_document():
    doc = document()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {**doc["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearerAuth": []}]
    for path, item in doc["paths"].items():
        for operation in item.values():
            assert ("security" in operation) == (path == "/openapi.json")
            assert "401" in operation["responses"] or path == "/openapi.json"


def test_every_schema_is_valid_json_schema_and_every_ref_resolves():
    doc = document()
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    text = repr(doc)
    for kind, name in re.findall(r"#/components/(\w+)/(\w+)", text):
        assert name in doc["components"][kind], f"dangling $ref #/components/{kind}/{name}"


def _urls(world) -> list[tuple[str, str, int]]:
    """(url, account, expected status) for every API route, on the world's data: the admin,
    and a county account on a city-wide wave, plus the error answers."""
    out = []
    for route in API:
        if route.rule.endswith("openapi.json"):
            continue
        url = route.rule
        for name, value in fill(route, world).items():
            url = re.sub(r"<(?:[a-z]+:)?" + name + ">", str(value), url)
        out += [(url, "admin", 200), (url, "shiqiao", 200)]
    out += [
        ("/api/v1/cases?wave=2026Q3-city&status=scheduled", "office", 200),
        ("/api/v1/waves/2026Q4-city/results", "analyst", 409),
        ("/api/v1/waves/2026Q3-linjiang", "shiqiao", 404),
        ("/api/v1/cases?status=nonsense", "admin", 400),
    ]
    return out


def test_answers_on_real_data_validate_against_the_document(web, world):
    doc = document()
    client = web.test_client()
    checked = set()
    for url, who, status in _urls(world):
        response = client.get(url, headers={"Authorization": f"Bearer {world.tokens[who]}"})
        assert response.status_code == status, (url, who, response.get_data(as_text=True)[:300])
        path = openapi_path(next(r.rule for r in API if re.fullmatch(
            re.sub(r"<[^>]+>", "[^/]+", r.rule), url.split("?")[0])))
        spec = doc["paths"][path]["get"]["responses"][str(status)]
        schema = resolve(doc, spec)["content"]["application/json"]["schema"]
        errors = sorted(validator(doc, schema).iter_errors(response.json), key=lambda e: e.path)
        assert not errors, f"{url} as {who}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
        checked.add(path)
    assert checked == {openapi_path(r.rule) for r in API} - {"/openapi.json"}


def test_the_schemas_are_closed_so_undocumented_fields_fail(world):
    doc = document()
    unit = validator(doc, {"$ref": "#/components/schemas/UnitResult"})
    from survey.results import stored_result

    good = stored_result(world.wave("2026Q3-city")).payload["units"][0]
    assert unit.is_valid(good)
    assert not unit.is_valid({**good, "surprise": 1})
    assert not unit.is_valid({k: v for k, v in good.items() if k != "composite"})
