"""The one list of domains: it builds the app (service/app.py) and the worker (service/worker.py).

Adding a domain: its package (routes, models, logic, queries, and `domain.py` with `DOMAIN = Domain(...)`)
and one line here. Domains import only the core, `db`, `wechat` and `jobs`, never each other (make lint).
"""

from __future__ import annotations

from service.activities.domain import DOMAIN as ACTIVITIES
from service.apps.domain import DOMAIN as APPS
from service.auth.domain import DOMAIN as AUTH
from service.brands.domain import DOMAIN as BRANDS
from service.checkout.domain import DOMAIN as CHECKOUT
from service.collections.domain import DOMAIN as COLLECTIONS
from service.communities.domain import DOMAIN as COMMUNITIES
from service.core.domain import Domain
from service.feed.domain import DOMAIN as FEED
from service.inbox.domain import DOMAIN as INBOX
from service.interactions.domain import DOMAIN as INTERACTIONS
from service.interests.domain import DOMAIN as INTERESTS
from service.live.domain import DOMAIN as LIVE
from service.media.domain import DOMAIN as MEDIA
from service.meetups.domain import DOMAIN as MEETUPS
from service.moderation.domain import DOMAIN as MODERATION
from service.polls.domain import DOMAIN as POLLS
from service.robots.domain import DOMAIN as ROBOTS
from service.safety.domain import DOMAIN as SAFETY
from service.warmup.domain import DOMAIN as WARMUP

# In the order of the OpenAPI document's tags.
DOMAINS: tuple[Domain, ...] = (
    AUTH,
    CHECKOUT,
    COMMUNITIES,
    BRANDS,
    COLLECTIONS,
    INTERACTIONS,
    FEED,
    INTERESTS,
    INBOX,
    LIVE,
    MEDIA,
    MODERATION,
    SAFETY,
    ROBOTS,
    POLLS,
    ACTIVITIES,
    MEETUPS,
    WARMUP,
    APPS,
)
