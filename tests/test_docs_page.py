"""The interactive API docs page (Swagger UI at /schema) loads the spec and renders the operations, in headless
Debian chromium, with no network but the app's own. The screenshot is kept in tests/artefacts/."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from playwright.async_api import async_playwright

from service.app import create_app
from tests.support import ROOT, serve

ARTEFACTS = ROOT / "tests" / "artefacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is required: `make test` installs it (apt-get install chromium)"
    # Debian's /usr/bin/chromium is a shell launcher; the browser itself sits beside its libraries.
    binary = Path("/usr/lib/chromium/chromium")
    return str(binary) if binary.exists() else path


async def test_swagger_ui_renders_every_operation(settings, tmp_path):
    ARTEFACTS.mkdir(exist_ok=True)
    async with serve(create_app(settings)) as base_url, async_playwright() as playwright:
        spec = json.loads((ROOT / "openapi" / "openapi.json").read_text())
        operation_ids = {
            op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op
        }
        browser = await playwright.chromium.launch_persistent_context(
            tmp_path / "profile",  # a fresh profile
            executable_path=chromium(),
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 2000},
        )
        try:
            page = await browser.new_page()
            outside, errors = [], []
            page.on(
                "request",
                lambda r: None if r.url.startswith(base_url) or r.url.startswith("data:") else outside.append(r.url),
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            answer = await page.goto(f"{base_url}/schema", wait_until="networkidle")
            assert answer is not None and answer.status == 200
            await page.wait_for_selector(".opblock", timeout=30_000)
            title = await page.text_content(".info .title")
            # Each block's id is operations-{tag}-{operationId}; an operation with two tags shows twice.
            blocks = await page.eval_on_selector_all(".opblock", "blocks => blocks.map(b => b.id)")
            tags = await page.eval_on_selector_all(".opblock-tag", "tags => tags.map(t => t.dataset.tag)")
            await page.screenshot(path=str(ARTEFACTS / "swagger-ui.png"))

            # Open one operation: its parameters, example request and documented errors render too.
            await page.click("#operations-communities-joinCommunity .opblock-summary")
            await page.wait_for_selector("#operations-communities-joinCommunity .responses-table", timeout=10_000)
            join = await page.text_content("#operations-communities-joinCommunity")
            await page.screenshot(path=str(ARTEFACTS / "swagger-ui-join.png"), full_page=False)
        finally:
            await browser.close()
    assert "Community backend API" in (title or "")
    rendered = {block.split("-", 2)[2] for block in blocks}
    assert rendered == operation_ids, f"not rendered: {operation_ids - rendered}"
    assert {t["name"] for t in spec["tags"]} <= set(tags)
    assert "community_full" in join and "Idempotency-Key" in join
    assert not errors, errors
    assert not outside, f"the page reached outside the app: {outside}"


async def test_no_docs_page_loads_from_a_cdn(client):
    """Scalar's page loaded its script from a CDN (blank offline, unreliable in China): it is not served."""
    assert (await client.get("/schema/scalar")).status_code == 404
    swagger = await client.get("/schema")
    assert swagger.status_code == 200
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", swagger.text), "a script or style from outside"
