"""The free-trial draw among a poll's voters: fair (nobody can steer it) and verifiable (anyone can redo it).

Commit and reveal:
- At creation the poll draws a secret 256-bit seed (64 lowercase hex characters) and publishes only its
  commitment, ``sha256(seed)`` over the seed's ASCII hex text. Nobody outside the server knows the seed
  while people propose and vote, and nobody can change it afterwards without the commitment showing it.
- At close the seed is revealed with the result, together with the eligible voter ids.

The draw (algorithm ``hmac-sha256-rank-v1``): each eligible user id gets the ticket
``HMAC-SHA256(key = bytes of the seed (hex-decoded), message = "<pollId>:<userId>" in ASCII)`` as lowercase
hex; users are sorted by (ticket, user id as a number) and the first M win. The order of the eligible list
does not matter; the same seed, poll and eligible set always give the same winners.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

ALGORITHM = "hmac-sha256-rank-v1"


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def ticket(seed: str, poll_id: int, user_id: int) -> str:
    return hmac.new(bytes.fromhex(seed), f"{poll_id}:{user_id}".encode("ascii"), hashlib.sha256).hexdigest()


def draw(seed: str, poll_id: int, eligible: Iterable[int], count: int) -> list[int]:
    """The ``count`` winners among ``eligible``, in draw order (place 1 first)."""
    ranked = sorted(set(eligible), key=lambda user_id: (ticket(seed, poll_id, user_id), user_id))
    return ranked[: max(0, count)]
