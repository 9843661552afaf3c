"""Splitting an amount of fen by weights with the largest-remainder (Hamilton) method.

Every share is an integer number of fen and the shares always add up to the amount exactly: each
party first gets the floor of its exact share, then the fen left over go one each to the parties with
the largest remainders (ties to the smaller key, so the split is deterministic).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from fractions import Fraction
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound=Hashable)


def split(amount: int, weights: Mapping[K, int | float | Fraction]) -> dict[K, int]:
    """Split ``amount`` fen among the keys of ``weights`` in proportion to their (non-negative) weights.

    Keys with zero weight get 0. When no weight is positive nothing can be split: every key gets 0
    and the caller decides what happens to the amount (the reward pool keeps it unallocated).
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    exact = {key: Fraction(weight) for key, weight in weights.items()}  # floats convert exactly
    if any(weight < 0 for weight in exact.values()):
        raise ValueError("weights must not be negative")
    total = sum(exact.values(), Fraction(0))
    if total == 0:
        return dict.fromkeys(weights, 0)
    shares = {key: amount * weight / total for key, weight in exact.items()}
    result = {key: int(share) for key, share in shares.items()}  # floor: shares are non-negative
    leftover = amount - sum(result.values())
    by_remainder = sorted(shares, key=lambda key: (-(shares[key] - result[key]), _order(key)))
    for key in by_remainder[:leftover]:
        result[key] += 1
    return result


def split_two_tiers(
    amount: int,
    community_scores: Mapping[K, int | float | Fraction],
    member_scores: Mapping[K, Mapping[M, int | float]],
) -> dict[K, dict[M, int]]:
    """Tier 1 splits ``amount`` among communities by score, tier 2 each community's share among its members by
    contribution. Every community needs a member with a positive contribution, so nothing is lost between
    the tiers: the members' fen add up to ``amount`` exactly whenever any community score is positive."""
    if any(not any(score > 0 for score in member_scores[c].values()) for c in community_scores):
        raise ValueError("every community needs a member with a positive contribution")
    shares = split(amount, community_scores)
    return {c: split(shares[c], member_scores[c]) for c in community_scores}


def _order(key: Hashable) -> tuple[int, str]:
    # Numeric ids sort numerically, anything else by its text.
    return (0, f"{key:020d}") if isinstance(key, int) else (1, str(key))
