"""The skeleton: probes, problem+json errors, request ids, logs, settings."""

from __future__ import annotations

import gc
import json
import logging
import re
import weakref
from typing import Annotated

import msgspec
import pytest
from litestar import get, post
from litestar.params import JSONBody, QueryParameter

from service.app import create_app
from service.core.ids import PathId
from service.errors import Problem
from service.settings import SettingsError, load_settings
from tests.stack import OPERATOR_KEY
from tests.support import ROOT, api_client, database_name, drop_database, http_client, serve
from tests.wechat_support import bearer, login
from tests.world import assert_problem


class Item(msgspec.Struct, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    price_fen: Annotated[int, msgspec.Meta(ge=0)]


@post("/test/items", sync_to_thread=False)
def create_item(data: JSONBody[Item]) -> Item:
    return data


@get("/test/items/{item_id:int}", sync_to_thread=False)
def read_item(item_id: PathId, limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10) -> dict:
    if item_id == 7:
        raise Problem("not_found", "no item 7")
    return {"id": str(item_id), "limit": limit}


@get("/test/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("secret internals")


@pytest.fixture
async def test_client(settings):
    async with api_client(settings, extra_routes=[create_item, read_item, boom]) as client:
        yield client


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["migration"] >= 1


async def test_readyz_answers_503_when_database_is_gone(client, database_url, admin_url):
    await drop_database(admin_url, database_name(database_url))
    body = assert_problem(await client.get("/readyz"), 503, "not_ready")
    assert "database unavailable" in body["detail"]


async def test_unknown_route_is_problem_json(client):
    assert_problem(await client.get("/v1/nowhere"), 404, "not_found")


async def test_wrong_method_is_problem_json(client):
    assert_problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_malformed_json_is_400(test_client):
    response = await test_client.post(
        "/test/items", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "bad_request")


async def test_field_errors_are_listed(test_client):
    response = await test_client.post("/test/items", json={"name": "far too long a name", "priceFen": -1})
    body = assert_problem(response, 400, "validation_failed")
    assert {e["field"] for e in body["errors"]} & {"name", "priceFen", "price_fen", "body"}


async def test_wrong_body_type_is_400(test_client):
    response = await test_client.post("/test/items", json=[1, 2, 3])
    assert_problem(response, 400, "validation_failed")


async def test_wrong_content_type_is_rejected(test_client):
    response = await test_client.post("/test/items", content=b"name=x", headers={"content-type": "text/plain"})
    assert response.status_code in (400, 415)
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_huge_body_is_413(settings):
    small = msgspec.structs.replace(settings, max_body_bytes=1024)
    async with api_client(small, extra_routes=[create_item]) as client:
        response = await client.post(
            "/test/items", content=b'{"name": "' + b"x" * 5000 + b'"}', headers={"content-type": "application/json"}
        )
    assert_problem(response, 413, "payload_too_large")


async def test_bad_query_and_path_parameters_are_400(test_client):
    assert_problem(await test_client.get("/test/items/1?limit=500"), 400, "validation_failed")
    assert_problem(await test_client.get("/test/items/1?limit=abc"), 400, "validation_failed")
    assert_problem(await test_client.get("/test/items/99999999999999999999999999"), 400, "validation_failed")
    assert_problem(await test_client.get("/test/items/0x10"), 404, "not_found")


async def test_domain_problem_carries_detail(test_client):
    body = assert_problem(await test_client.get("/test/items/7"), 404, "not_found")
    assert body["detail"] == "no item 7"


async def test_unexpected_error_is_500_without_internals(test_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = await test_client.get("/test/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "secret internals" not in response.text
    assert body["requestId"]
    assert any("secret internals" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_request_id_is_echoed_or_generated(client):
    mine = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


async def test_access_log_lines_are_json_with_request_id(client, capsys):
    from service.logs import configure_logging

    configure_logging("INFO", "json")
    try:
        await client.get("/healthz", headers={"x-request-id": "log-me-1"})
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger().handlers.clear()
    access = [line for line in lines if line.get("requestId") == "log-me-1"]
    assert access and access[0]["path"] == "/healthz" and access[0]["status"] == 200


def test_settings_name_the_bad_variable():
    with pytest.raises(SettingsError, match="PORT"):
        load_settings({"PORT": "eighty"})
    with pytest.raises(SettingsError, match="DB_POOL_MAX"):
        load_settings({"DB_POOL_MAX": "0"})
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        load_settings({"LOG_LEVEL": "LOUD"})
    with pytest.raises(SettingsError, match="SECRET_KEY is required"):
        load_settings({"ENVIRONMENT": "production", "DATABASE_URL": "postgresql://x/y"})


def test_settings_never_show_secrets():
    settings = load_settings({"SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql://u:hunter2@h/d"})
    assert "hunter2" not in repr(settings) and "s" * 40 not in str(settings)
    assert settings.port == 8000


def test_cli_reports_bad_variable_and_exits_2(monkeypatch, capsys):
    from service.__main__ import main

    monkeypatch.setenv("PORT", "-1")
    assert main(["migrate"]) == 2
    assert "PORT" in capsys.readouterr().err


async def test_options_allows_every_method_of_the_path_without_a_token(client):
    # Found by the contract fuzzer: Litestar's automatic OPTIONS listed only the first handler of a path
    # (`Allow: DELETE, OPTIONS` for GET, PUT and DELETE), and the bearer guard answered 401 to it.
    response = await client.options("/v1/activities/1")
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, OPTIONS, PUT"
    assert (await client.options("/v1/me")).headers["allow"] == "DELETE, GET, OPTIONS, PUT"


async def test_every_route_that_reads_a_body_refuses_one_too_large_and_documents_it(settings, sandbox):
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    small = msgspec.structs.replace(settings, max_body_bytes=2048, operator_api_key=OPERATOR_KEY)
    oversized = b'{"text": "' + b"x" * 4096 + b'"}'
    async with api_client(small) as client:
        tokens = await login(client, sandbox.url, "alice")
        headers = {**bearer(tokens), "x-operator-key": OPERATOR_KEY, "content-type": "application/json"}
        checked = 0
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "413" not in operation.get("responses", {}):
                    continue
                if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
                    continue  # the upload has a limit of its own (10 MB): tests/media/test_upload.py
                url = re.sub(r"\{[^}]+\}", "1", path)
                response = await client.request(method, url, content=oversized, headers=headers)
                assert_problem(response, 413, "payload_too_large")
                checked += 1
    # Every operation with a JSON body, and WeChat's four raw-body calls.
    with_body = sum(
        "application/json" in op.get("requestBody", {}).get("content", {})
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
    )
    assert checked == with_body + 4


async def test_nul_characters_are_400_not_500(client, sandbox):
    # Found by the contract fuzzer: PostgreSQL text cannot hold U+0000, and it reached the database as a 500.
    tokens = await login(client, sandbox.url, "alice")
    body = {"name": "跑团", "description": "a\u0000b"}
    problem = assert_problem(
        await client.post("/v1/communities", json=body, headers=bearer(tokens)), 400, "validation_failed"
    )
    assert problem["errors"][0]["field"] == "body"
    listed = await client.get("/v1/communities", params={"q": "a\u0000"}, headers=bearer(tokens))
    assert assert_problem(listed, 400, "validation_failed")["errors"][0]["field"] == "query"
    # A backslash followed by the text u0000 is just text.
    created = await client.post(
        "/v1/communities", json={"name": "跑团", "description": "\\u0000"}, headers=bearer(tokens)
    )
    assert created.status_code == 201 and created.json()["description"] == "\\u0000"


class Marker:
    pass


async def test_an_app_served_and_dropped_is_freed(settings):
    """Nothing outside an app keeps it: a cache keyed by route handler once held every app the suite built (30 in a
    worker, 2 M objects, seconds per garbage collection). The app decodes a body (where that cache was), is
    dropped, and a second app is built (the last app built may be referenced by module-level handlers)."""
    app = create_app(settings)
    async with serve(app) as base_url, http_client(base_url=base_url) as api:
        response = await api.post("/v1/auth/login", json={"code": 7})
        assert response.status_code == 400, response.text  # decoded, strictly, into the handler's body type
    app.state.marker = marker = Marker()  # lives as long as the app
    freed = weakref.ref(marker)
    del app, marker
    create_app(settings)
    gc.collect()
    assert freed() is None
