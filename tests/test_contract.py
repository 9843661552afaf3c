"""Schemathesis over every operation of openapi/openapi.json, against the real stack (API, database, WeChat and
Pay sandboxes) with a seeded community, as a member of it and as a stranger to it, and the operator routes
with the operator key.

Every answer must be documented: no 5xx, a documented status, content type, headers and body schema, bad
input refused with 4xx. Path parameters are either generated or the ids of real rows (the member's
community, post, poll, ...), so the fuzzer also reaches the code behind the lookups.

`make test` runs FUZZ_EXAMPLES (default 8) examples per operation and identity; `make fuzz` many more.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator

import hypothesis
import jsonschema_rs
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.transport.requests import ManagedCookiesSession

from tests.seed import Seeded
from tests.stack import OPERATOR_KEY
from tests.support import ROOT

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SCHEMA = schemathesis.openapi.from_path(ROOT / "openapi" / "openapi.json")
REAL_IDS: dict[str, str] = {}  # path parameter name -> the id of a seeded row, filled once seeded
CALLER: dict[str, str] = {}  # the credentials of the identity under test: a header and its value


@SCHEMA.auth(refresh_interval=None, retry_on=[])
class SeededIdentity:
    """Credentials as schemathesis' own auth, so its auth checks know to strip them (and expect a 401/403)."""

    def get(self, case, context):
        return dict(CALLER) or {"Authorization": "Bearer unset"}  # collection time: nobody is seeded yet

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), **data}


@SCHEMA.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, aim valid path parameters at seeded rows; invalid ones (negative cases) stay as they are."""
    if not path_parameters:
        return st.just(path_parameters)
    schemas = path_schemas(context.operation.method, context.operation.path)
    real = {
        name: REAL_IDS[name] if name in REAL_IDS and schemas[name].is_valid(value) else value
        for name, value in path_parameters.items()
    }
    return st.sampled_from([path_parameters, real]) if real != path_parameters else st.just(path_parameters)


@functools.cache
def path_schemas(method: str, path: str) -> dict[str, jsonschema_rs.Validator]:
    shared = SCHEMA.raw_schema["components"].get("parameters", {})
    parameters = [
        shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
        for p in SCHEMA.raw_schema["paths"][path][method.lower()].get("parameters", [])
    ]
    return {p["name"]: jsonschema_rs.validator_for(p["schema"]) for p in parameters if p["in"] == "path"}


@SCHEMA.hook
def filter_failure(context, failure, case, response):
    """Schema-valid input may still break a rule a schema cannot state (a cursor this list never gave out, a
    deadline in the past, an unknown time zone): those 4xx are the API's answer, not a contract breach. Input
    the decoder itself refuses while the schema allows it is one, and stays a failure."""
    if not isinstance(failure, RejectedPositiveData):
        return True
    problem = json.loads(response.content or b"{}")
    return str(problem.get("detail", "")).startswith("Validation failed for ")


@pytest.fixture(scope="module", autouse=True)
def real_ids(seeded: Seeded):
    REAL_IDS.update(seeded.ids)
    yield
    REAL_IDS.clear()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive session for the module's calls (with a session and a connection per call the module took
    112 s on 2 workers, with this one 96-109 s), of the kind schemathesis' own runner shares: it follows redirects
    only on the same host and drops cookies between calls, and schemathesis restores its headers after each."""
    with ManagedCookiesSession() as session:
        yield session


@pytest.fixture(autouse=True)
def identities_as_seeded(live, seeded: Seeded, http: requests.Session):
    """Before each operation: the member is in the community and the stranger is not (the fuzzer may have made
    the member leave, or the stranger join)."""
    community = f"{live.api_url}/v1/communities/{seeded.ids['community_id']}"
    http.post(f"{community}/join", json={}, headers=seeded.users["member"].headers, timeout=30).raise_for_status()
    left = http.delete(f"{community}/members/me", headers=seeded.users["stranger"].headers, timeout=30)
    assert left.status_code in (204, 403), left.text


FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)


@pytest.mark.parametrize("identity", ["member", "stranger"])
@SCHEMA.parametrize()
@FUZZ_SETTINGS
def test_every_answer_is_documented(case, identity, live, seeded: Seeded, http: requests.Session):
    CALLER.clear()
    # Named as the spec's security schemes name them, so the auth checks find and strip them.
    CALLER["Authorization"] = f"Bearer {seeded.users[identity].tokens['accessToken']}"
    case.call_and_validate(base_url=live.api_url, session=http)


@SCHEMA.include(path_regex="^/v1/admin/").parametrize()
@FUZZ_SETTINGS
def test_every_operator_answer_is_documented(case, live, http: requests.Session):
    """The platform operator's routes, with its key (members and strangers only reach its refusal)."""
    CALLER.clear()
    CALLER["X-Operator-Key"] = OPERATOR_KEY
    case.call_and_validate(base_url=live.api_url, session=http)
