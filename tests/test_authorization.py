"""Who may call each route, asserted over HTTP for every operation in the spec.

The spec's `security` of an operation is its rule: `bearer` routes answer 401 to a caller without a
token, `operator` routes answer 403 `operator_only` without the operator key, and a route with no
security must be listed in PUBLIC with the reason it is open. A new route that declares no rule, or
declares one it does not enforce, fails here. Role checks inside a community (member, admin, owner) are
asserted by each domain's IDOR tests.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support import ROOT

SPEC = json.loads((ROOT / "openapi" / "openapi.json").read_text())

PUBLIC = {
    ("GET", "/healthz"): "probe",
    ("GET", "/readyz"): "probe",
    ("POST", "/v1/auth/login"): "exchanges a wx.login code",
    ("POST", "/v1/auth/refresh"): "presents a refresh token",
    ("POST", "/v1/auth/logout"): "presents a refresh token",
    ("POST", "/v1/pay/notify"): "WeChat Pay, verified by its platform signature",
    ("POST", "/v1/pay/refund-notify"): "WeChat Pay, verified by its platform signature",
    ("POST", "/v1/pay/transfer-notify"): "WeChat Pay, verified by its platform signature",
    ("GET", "/v1/wechat/messages"): "WeChat's URL check, verified by its signature",
    ("POST", "/v1/wechat/messages"): "WeChat's message push, verified by its signature",
}

OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in {"get", "post", "put", "patch", "delete"}
]


def rule(operation: dict) -> str:
    schemes = {name for requirement in operation.get("security") or [] for name in requirement}
    return "operator" if "operator" in schemes else "bearer" if "bearer" in schemes else "public"


def example_body(operation: dict) -> dict | None:
    content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
    if content is None:
        return None
    for example in (content.get("examples") or {}).values():
        if isinstance(example, dict) and "value" in example:
            return example["value"]
    return content.get("example", {})


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
async def test_every_route_enforces_its_rule(client, method, path, operation):
    kind = rule(operation)
    if kind == "public":
        assert (method, path) in PUBLIC, f"{method} {path} declares no security: add it to PUBLIC with a reason"
        return
    body = example_body(operation)
    response = await client.request(method, concrete(path), json=body)
    if kind == "bearer":
        assert response.status_code == 401, f"{method} {path} without a token: {response.status_code}"
        assert response.json()["code"] == "unauthorized"
        forged = await client.request(
            method, concrete(path), json=body, headers={"Authorization": "Bearer not.a.token"}
        )
        assert forged.status_code == 401
    else:
        assert response.status_code == 403 and response.json()["code"] == "operator_only", response.text


def test_public_routes_are_all_in_the_spec():
    documented = {(m, p) for m, p, _ in OPERATIONS}
    missing = {route for route in PUBLIC if route not in documented and not route[1].startswith("/v1/wechat")}
    assert missing == set()
