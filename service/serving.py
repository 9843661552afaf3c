"""The API under granian, stopping without failing a request: drain first, then stop.

granian alone, on SIGTERM, stops listening at once and lets the requests in flight finish. A proxy that still
sends new requests there gets its connections refused; Caddy retries those on another instance, but the Debian
package's Caddy (2.6) retries a POST with its body already consumed: the other instance receives a truncated
request, Caddy counts that instance as failed too and answers 503 "no upstreams available" for every request
until its fail_duration passes (measured: 168 of 387 requests in one stop, tests/test_instances.py).

So with SHUTDOWN_DRAIN_SECONDS > 0 the first SIGTERM (or SIGINT) only starts a drain: the main process signals
its workers (SIGUSR1), whose /readyz then answers 503 and whose live sockets close with 1001 (the clients
reconnect elsewhere), while every request is still served. The proxy's active health check (infra/Caddyfile:
every second) takes the instance out of rotation; after the drain granian stops as usual: it stops listening,
finishes the requests in flight, runs the app's shutdown. A second SIGTERM stops at once. Send SIGTERM to the
main process only (compose, Kubernetes; systemd: KillMode=mixed): a worker signalled directly stops at once.

Then, whatever the drain, the app's shutdown first waits for the HTTP requests in flight (InFlight).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import threading
from collections.abc import Callable

from granian import Granian

log = logging.getLogger("service.serving")

DRAIN_SIGNAL = signal.SIGUSR1


class DrainingGranian(Granian):
    def __init__(self, *args: object, drain_seconds: float = 0.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.drain_seconds = drain_seconds
        self.drain: threading.Timer | None = None
        # Inherited by the workers until their app listens for it: a drain signalled to a worker still
        # starting must not end it (SIGUSR1's default action).
        signal.signal(DRAIN_SIGNAL, signal.SIG_IGN)

    def signal_handler_interrupt(self, *args: object, **kwargs: object) -> None:
        if self.drain_seconds <= 0 or self.drain is not None:  # no drain, or a second signal: stop now
            if self.drain is not None:
                self.drain.cancel()
            super().signal_handler_interrupt(*args, **kwargs)
            return
        log.info("draining before stopping", extra={"seconds": self.drain_seconds})
        for worker in self.wrks:
            with contextlib.suppress(ProcessLookupError, AttributeError, TypeError):
                os.kill(worker.inner.pid, DRAIN_SIGNAL)
        self.drain = threading.Timer(self.drain_seconds, super().signal_handler_interrupt)
        self.drain.daemon = True
        self.drain.start()


class InFlight:
    """The HTTP requests being served (counted by service.middleware), for a shutdown that waits for them.

    granian runs the app's shutdown as soon as it is signalled, beside the requests still in flight: the pool
    closed under them ("pool is closing", "got result for unknown protocol state": 500s and 503s). The app's
    last lifespan (first to end) waits here until none is left, at most ``timeout`` seconds."""

    def __init__(self) -> None:
        self.count = 0  # no event to wait on: one app may be started on several loops (the tests)

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1

    async def finished(self, timeout: float) -> bool:
        """Whether every request in flight finished within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.count and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self.count:
            log.warning("stopping with requests in flight", extra={"requests": self.count})
        return not self.count


def on_drain_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """In a worker: call ``callback`` when the main process starts draining; returns what undoes it. Where the
    loop cannot take signals (not the main thread: an app served by a test client) nothing drains it."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(DRAIN_SIGNAL, callback)
    except (RuntimeError, ValueError, NotImplementedError):
        return lambda: None
    return lambda: loop.remove_signal_handler(DRAIN_SIGNAL)


def raise_open_file_limit() -> None:
    """Every live socket is a file descriptor (two behind a proxy's connection pool): 2,500 sockets on one
    instance do not fit in the usual soft limit of 1,024, so take the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
