"""One TLS context per process for the outbound HTTP clients (WeChat, WeChat Pay, notifications).

httpx builds a context for every client it makes, reading the whole CA bundle each time (about 22 ms): every
start-up paid it, and the tests, which start an app and its clients for each test, paid it thousands of times."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's own default (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR), built once."""
    return httpx.create_ssl_context()
