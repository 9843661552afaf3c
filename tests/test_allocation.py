"""Largest-remainder splitting: integer fen that always add up to the amount."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.interactions.allocation import split, split_two_tiers

weights = st.dictionaries(
    st.integers(min_value=1, max_value=10**6),
    st.one_of(
        st.integers(min_value=0, max_value=10**9),
        st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    ),
    max_size=60,
)


@given(amount=st.integers(min_value=0, max_value=10**12), weights=weights)
def test_shares_sum_exactly_to_the_amount_whenever_any_weight_is_positive(amount, weights):
    shares = split(amount, weights)
    assert set(shares) == set(weights)
    assert all(isinstance(v, int) and v >= 0 for v in shares.values())
    if any(w > 0 for w in weights.values()):
        assert sum(shares.values()) == amount
    else:
        assert sum(shares.values()) == 0


@given(amount=st.integers(min_value=0, max_value=10**12), weights=weights)
def test_each_share_is_within_one_fen_of_its_exact_share(amount, weights):
    shares = split(amount, weights)
    total = sum(Fraction(w) for w in weights.values())
    for key, weight in weights.items():
        exact = amount * Fraction(weight) / total if total else 0
        assert exact - 1 < shares[key] < exact + 1
        if weight == 0:
            assert shares[key] == 0


@given(amount=st.integers(min_value=0, max_value=10**9), weights=weights)
def test_split_is_deterministic_whatever_the_key_order(amount, weights):
    reversed_weights = dict(reversed(list(weights.items())))
    assert split(amount, weights) == split(amount, reversed_weights)


int_weights = st.dictionaries(st.integers(1, 10**6), st.integers(0, 10**6), min_size=1, max_size=40)


@given(amount=st.integers(0, 10**12), weights=int_weights, factor=st.integers(2, 1000))
def test_scaling_every_weight_changes_nothing(amount, weights, factor):
    assert split(amount, {k: w * factor for k, w in weights.items()}) == split(amount, weights)


@given(amount=st.integers(0, 10**12), weights=int_weights)
def test_a_larger_weight_never_gets_less(amount, weights):
    shares = split(amount, weights)
    for a in weights:
        for b in weights:
            if weights[a] > weights[b]:
                assert shares[a] >= shares[b]


@given(amount=st.integers(0, 10**12), weights=int_weights, more=st.integers(1, 10**6))
def test_a_larger_amount_takes_at_most_one_fen_from_anyone(amount, weights, more):
    # Largest remainder may give someone one fen less out of a larger amount (the Alabama paradox), never more.
    before, after = split(amount, weights), split(amount + more, weights)
    assert all(after[key] >= before[key] - 1 for key in weights)


@given(
    amount=st.integers(0, 10**10),
    tiers=st.dictionaries(st.integers(1, 50), st.tuples(st.integers(1, 10**4), int_weights), min_size=1, max_size=8),
)
def test_two_tiers_hand_out_the_whole_pool_to_the_fen(amount, tiers):
    """The reward pool: split among communities, then each community's share among its members."""
    communities = split(amount, {c: weight for c, (weight, _) in tiers.items()})
    paid = 0
    for community, (_, members) in tiers.items():
        shares = split(communities[community], members)
        paid += sum(shares.values()) if any(members.values()) else communities[community]
    assert paid == amount


def test_hand_computed_cases():
    assert split(100, {1: 1, 2: 1, 3: 1}) == {1: 34, 2: 33, 3: 33}
    assert split(10, {"a": 3, "b": 3, "c": 4}) == {"a": 3, "b": 3, "c": 4}
    # 7 * 0.5 = 3.5 and 7 * 0.25 = 1.75 twice: floors 3+1+1 = 5, the 2 leftover fen go to the .75s.
    assert split(7, {1: 2, 2: 1, 3: 1}) == {1: 3, 2: 2, 3: 2}
    assert split(0, {1: 5}) == {1: 0}
    assert split(5, {1: 0, 2: 0}) == {1: 0, 2: 0}
    assert split(5, {}) == {}


def test_negative_input_is_refused():
    with pytest.raises(ValueError):
        split(-1, {1: 1})
    with pytest.raises(ValueError):
        split(1, {1: -1})


communities = st.dictionaries(
    st.integers(min_value=1, max_value=10**6),
    st.tuples(
        st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
        st.dictionaries(
            st.integers(min_value=1, max_value=10**6),
            st.floats(min_value=0.5, max_value=1e4, allow_nan=False, allow_infinity=False),
            min_size=1,
            max_size=20,
        ),
    ),
    max_size=15,
)


@given(amount=st.integers(min_value=0, max_value=10**10), pool=communities)
def test_two_tiers_pay_out_the_whole_pool_to_members(amount, pool):
    scores = {c: score for c, (score, _) in pool.items()}
    members = {c: contributions for c, (_, contributions) in pool.items()}
    paid = split_two_tiers(amount, scores, members)
    assert set(paid) == set(pool)
    total = sum(fen for shares in paid.values() for fen in shares.values())
    assert total == (amount if any(score > 0 for score in scores.values()) else 0)
    tier_one = split(amount, scores)
    for community, shares in paid.items():
        assert set(shares) == set(members[community])
        assert sum(shares.values()) == tier_one[community]  # tier 2 splits exactly the tier-1 share
        assert all(fen >= 0 for fen in shares.values())


def test_two_tiers_hand_computed_and_refuse_a_community_without_contributors():
    # 1,000 fen by scores 3:1 -> 750 and 250; 750 by 1:1:1 -> 250 each; 250 by 2:1 -> 167 and 83.
    paid = split_two_tiers(1000, {1: 3.0, 2: 1.0}, {1: {10: 1, 11: 1, 12: 1}, 2: {20: 2, 21: 1}})
    assert paid == {1: {10: 250, 11: 250, 12: 250}, 2: {20: 167, 21: 83}}
    with pytest.raises(ValueError):
        split_two_tiers(100, {1: 1.0}, {1: {10: 0}})
