"""What a domain contributes, declared once in its package (`DOMAIN = Domain(...)` in its `__init__.py`).

One list of domains (service/domains.py) builds the app (`create_app`) and the worker: their controllers,
problem codes, OpenAPI tags, job kinds, payment purposes, hooks and CSV reports. Nothing is registered by importing
a module; what is not declared does not exist, and `check_declared` refuses to start over a database that still
holds work (queued jobs, orders) of a kind no domain declares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import asyncpg
from litestar import Litestar
from litestar.openapi.spec import Tag
from litestar.types import ASGIApp, ControllerRouterHandler

from service.core.exports import Report, install_reports
from service.core.hooks import (
    OnCommunityOpened,
    OnMediaDecided,
    OnMediaVerdict,
    OnModerated,
    OnPublished,
    OnSanctioned,
    install_hooks,
)
from service.core.money.purposes import Purpose, install_purposes
from service.core.privacy import Privacy, install_privacy
from service.core.problems import SHARED
from service.errors import Problems
from service.jobs.queue import Registry


@dataclass(frozen=True)
class Domain:
    name: str
    problems: Problems = field(default_factory=lambda: SHARED)
    controllers: Sequence[ControllerRouterHandler] = ()
    tags: Sequence[Tag] = ()
    jobs: Sequence[Registry] = ()
    purposes: Sequence[Purpose] = ()
    on_published: Sequence[OnPublished] = field(default=())
    on_media_verdict: Sequence[OnMediaVerdict] = field(default=())
    on_media_decided: Sequence[OnMediaDecided] = field(default=())
    on_moderated: Sequence[OnModerated] = field(default=())
    on_sanctioned: Sequence[OnSanctioned] = field(default=())
    privacy: Privacy = field(default_factory=Privacy)  # its part of account erasure and export (core/privacy.py)
    # What the API process runs while it serves, entered after the pool is made (the live hub's listener).
    lifespans: Sequence[Callable[[Litestar], AbstractAsyncContextManager[None]]] = ()
    on_community_opened: Sequence[OnCommunityOpened] = field(default=())
    reports: Sequence[Report] = ()  # CSV reports of its rows for admins (core/exports.py)
    # ASGI wrappers of the app that answer a hot read before Litestar routes it, passing on all else (feed/lane.py).
    lanes: Sequence[Callable[[ASGIApp, Litestar], ASGIApp]] = ()


def problem_table(domains: Sequence[Domain]) -> Problems:
    """Every code the domains may answer: the app's table (a code declared twice differently stops start-up)."""
    return Problems.merge(SHARED, *(domain.problems for domain in domains))


def job_registry(domains: Sequence[Domain]) -> Registry:
    """Every declared job kind; a kind declared twice stops start-up."""
    merged = Registry()
    for domain in domains:
        for registry in domain.jobs:
            for kind, handler in registry.handlers.items():
                if kind in merged.handlers:
                    raise ValueError(f"job kind {kind!r} is declared twice (again by {domain.name})")
                merged.register(kind, handler, registry.periodic.get(kind))
    return merged


def install(domains: Sequence[Domain]) -> Registry:
    """Put the domains' purposes and hooks in force for this process; their jobs, merged."""
    names = [domain.name for domain in domains]
    if len(set(names)) != len(names):
        raise ValueError(f"a domain is listed twice: {names}")
    install_purposes([purpose for domain in domains for purpose in domain.purposes])
    install_hooks(domains)
    install_privacy([domain.privacy for domain in domains])
    install_reports([report for domain in domains for report in domain.reports])
    return job_registry(domains)


_UNDECLARED = """
SELECT 'job kind' AS what, kind AS name FROM jobs
WHERE status IN ('queued', 'running') AND NOT kind = ANY($1::text[])
UNION
SELECT 'payment purpose', purpose FROM orders
WHERE status = 'created' AND NOT purpose = ANY($2::text[])
UNION
SELECT 'payment purpose', purpose FROM transfers
WHERE status IN ('pending', 'wait_user_confirm', 'processing') AND NOT purpose = ANY($2::text[])
ORDER BY 1, 2
"""


async def check_declared(conn: asyncpg.Connection, domains: Sequence[Domain], jobs: Registry) -> None:
    """Refuse to start over work that no domain of the list can finish: a queued job of an unknown kind, an
    unpaid order (its payment may still arrive, and `on_paid` must run) or a transfer in flight (`on_transfer`)
    of an unknown purpose: a domain left out of service/domains.py."""
    purposes = [purpose.name for domain in domains for purpose in domain.purposes]
    rows = await conn.fetch(_UNDECLARED, list(jobs.handlers), purposes)
    if rows:
        found = ", ".join(f"{row['what']} {row['name']!r}" for row in rows)
        raise RuntimeError(f"not declared by any domain in service/domains.py: {found}")
