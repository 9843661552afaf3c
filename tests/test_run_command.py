"""`make run` for people: the settings it derives, what it warns about, and the ready banner it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from benchmarks.processes import free_ports
from service.__main__ import _dev_settings, lan_address, start_up_warnings
from service.settings import load_settings
from tests.support import ROOT


def test_the_public_url_follows_the_port_and_the_sandbox_follows_a_lan_host(monkeypatch, database_url):
    for name in ("PUBLIC_BASE_URL", "SANDBOX_HOST", "WECHAT_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("SANDBOX_PORT", "8124")
    monkeypatch.setenv("HOST", "0.0.0.0")
    before = dict(os.environ)
    try:
        settings = _dev_settings()
    finally:  # it hands its settings to child processes through os.environ
        os.environ.clear()
        os.environ.update(before)
    assert settings.public_base_url == "http://127.0.0.1:8123"
    assert settings.sandbox_host == "0.0.0.0"
    assert settings.wechat_api_base == "http://127.0.0.1:8124"


def test_settings_that_send_traffic_elsewhere_are_said(monkeypatch):
    monkeypatch.delenv("WECHAT_API_BASE", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert start_up_warnings(load_settings({}, port=8000)) == []
    monkeypatch.setenv("WECHAT_API_BASE", "http://127.0.0.1:9999")
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    moved = load_settings(
        {}, port=8001, wechat_api_base="http://127.0.0.1:9999", public_base_url="http://127.0.0.1:8000"
    )
    first, second = start_up_warnings(moved)
    assert "WECHAT_API_BASE" in first and "sandbox is not started" in first
    assert "PUBLIC_BASE_URL http://127.0.0.1:8000 is not on PORT 8001" in second
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://api.example.com")
    proxied = load_settings({}, port=443, public_base_url="https://api.example.com")
    assert len(start_up_warnings(proxied)) == 1  # only WECHAT_API_BASE


def test_run_prints_one_ready_banner_with_the_urls(database_url):
    port, sandbox_port = free_ports(2)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("WECHAT_API_BASE", "PUBLIC_BASE_URL")},
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "SANDBOX_PORT": str(sandbox_port),
        "HOST": "0.0.0.0",
        "PUBLIC_BASE_URL": "http://127.0.0.1:1",  # disagrees with PORT: said at start-up
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("Ctrl-C" in line for line in seen):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            seen.append(line)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    text = "".join(seen)
    assert "the API is ready" in text, text
    assert f"API       http://127.0.0.1:{port}\n" in text
    assert f"Docs      http://127.0.0.1:{port}/schema" in text
    assert f"Sandbox   http://127.0.0.1:{sandbox_port}" in text
    if lan_address():
        assert re.search(rf"LAN       http://[0-9.]+:{port}", text)
    assert f"is not on PORT {port}" in text
    assert text.count("the API is ready") == 1
