"""`python -m service worker`: the job kinds of the one domain list, run until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

import httpx

from service.core.domain import Domain, check_declared, install
from service.db.pool import create_pool_when_reachable
from service.domains import DOMAINS
from service.jobs import JobContext
from service.jobs.worker import Worker
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay
from service.wechat.tls import tls_context


async def run_worker(settings: Settings, domains: Sequence[Domain] = DOMAINS) -> None:
    """The pool, the HTTP client and the WeChat clients, then work until SIGTERM."""
    jobs = install(domains)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Waiting beats exiting: `make run` starts a worker nobody restarts, and an orchestrator's back-off after
    # repeated exits would keep the jobs waiting for minutes once the database is back.
    pool = await create_pool_when_reachable(settings, stop)
    if pool is None:
        return
    http = httpx.AsyncClient(verify=tls_context(), timeout=httpx.Timeout(settings.wechat_timeout, connect=2.0))
    try:
        async with pool.acquire() as conn:
            await check_declared(conn, domains, jobs)
        context = JobContext(
            pool=pool,
            settings=settings,
            http=http,
            services={"pay": WeChatPay.from_settings(settings, http), "wechat": WeChatClient(http, pool, settings)},
        )
        worker = Worker(
            context,
            jobs,
            concurrency=settings.jobs_concurrency,
            lease=settings.jobs_lease,
            poll_interval=settings.jobs_poll_interval,
        )
        await worker.run(stop)
    finally:
        await http.aclose()
        await pool.close()
