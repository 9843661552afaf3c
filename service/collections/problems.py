"""The problem codes of the collections domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("collection_closed", 409, "The collection takes no more payments: past its deadline, settled or cancelled."),
    Code(
        "initiator_left",
        409,
        "The collection's initiator is no longer a member of the community: it takes no payments, and unless they "
        "are back by the deadline it is cancelled then and every payer refunded.",
    ),
    Code("collection_settled", 409, "The collection is settled or being settled: it can no longer be cancelled."),
    Code("not_participant", 403, "You are not one of the collection's participants."),
    Code("share_already_paid", 409, "You have already paid your share of this collection."),
)
