"""Schemathesis over the API's own OpenAPI document, in-process through WSGI.

The document is the one the app serves at /api/v1/openapi.json. Every operation is called
with cases Schemathesis generates from it — valid ones and invalid ones (wrong types, NUL
bytes, huge numbers, unknown parameters) — on the API test world (tests/api/world.py:
analysed waves, results, interview lists and 约谈 cases), with the bearer token of an admin,
a county, the office or an analyst; half the cases have their path and query parameters
replaced by real objects, so that the answers carry real data. Every answer must be:

- no server error (not_a_server_error);
- a status code the document lists for the operation, in a content type it lists, with a body
  that validates against its schema (status_code_conformance, content_type_conformance,
  response_schema_conformance, response_headers_conformance);
- refused without a valid token when it succeeds with one (ignored_auth);
- a 405 naming the allowed methods for a method the document does not list (unsupported_method).

The checks stay strict: where they fail, the document or the API is fixed.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from sqlalchemy import select

from app import create_app
from extensions import db
from models import InterviewCase, Unit, Wave
from models.interviews import CASE_STATUSES
from tests.api.world import site, web, world  # noqa: F401  (fixtures)
from tests.conftest import _config
from tests.security.fuzzing import FUZZ

# The document as the app serves it (it needs no database: an app on an empty one serves it).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(_config("sqlite://", None)))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
    unsupported_method,
]
ACCOUNTS = ("admin", "admin", "shiqiao", "linjiang", "office", "analyst")


def real_values() -> dict[str, list]:
    """Objects of the world, by the name of the parameter that takes them."""
    return {
        "wave_slug": sorted(db.session.scalars(select(Wave.slug))),
        "wave": sorted(db.session.scalars(select(Wave.slug))),
        "unit_code": sorted(db.session.scalars(select(Unit.code))),
        "case_id": sorted(db.session.scalars(select(InterviewCase.id))),
        "status": list(CASE_STATUSES),
    }


@schema.parametrize()
@schema.given(data=st.data())
@FUZZ
def test_the_api_answers_as_its_document_says(case, data, web, world):
    real = real_values()
    if data.draw(st.booleans(), label="real objects"):
        if case.path_parameters:
            case.path_parameters = {k: data.draw(st.sampled_from(real[k]), label=k) for k in case.path_parameters}
        if case.operation.path == "/cases":
            case.query = {k: data.draw(st.sampled_from(real[k]), label=k) for k in ("wave", "status") if data.draw(st.booleans())}
    who = data.draw(st.sampled_from(ACCOUNTS), label="account")
    token = world.tokens[who] if data.draw(st.integers(0, 9), label="token") else world.revoked[who]
    case.call_and_validate(app=web, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
