"""The HTTP routes of naming polls and free trials, one module a resource."""

from __future__ import annotations

from typing import Any

from service.polls.points_routes import MyPointsController, PollPointsController
from service.polls.poll_routes import CommunityPollsController, PollsController
from service.polls.proposal_routes import ProposalsController
from service.polls.trial_routes import MyTrialsController, PollTrialsController, TrialsController
from service.polls.vote_routes import VotesController

CONTROLLERS: list[Any] = [
    CommunityPollsController,
    PollsController,
    ProposalsController,
    VotesController,
    PollTrialsController,
    TrialsController,
    MyTrialsController,
    PollPointsController,
    MyPointsController,
]
