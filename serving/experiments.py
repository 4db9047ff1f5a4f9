"""The serving side of an online experiment: champion and challenger recommenders side by side.

A bundle may carry a challenger recommender next to the champion, with the experiment's name and the
challenger's share of customers (``crm serve import --experiment NAME --challenger-model-version N
--challenger-share 0.5``). Each customer is assigned an arm by :func:`engine.feedback.assignment.assign_variant`
(a hash of experiment name and customer id: sticky across requests, workers and restarts, and the same
assignment an offline analysis computes). Every recommendation answer names its ``variant`` and the
registry ``model_version`` that produced it, so feedback events can be attributed to the arm. Without
an experiment the champion answers everyone and ``variant`` is null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from engine.feedback.assignment import CHALLENGER, CHAMPION, assign_variant

if TYPE_CHECKING:
    from serving.bundle import Bundle


class Experiment(BaseModel):
    """An experiment a bundle serves (kept in its manifest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=128, description="names the experiment; a new name reshuffles customers")
    challenger_share: float = Field(ge=0, le=1, description="share of customers the challenger answers")
    challenger_version: str = Field(min_length=1, description="registry version of the challenger recommender")


@dataclass(frozen=True)
class Arm:
    """Who answers a customer: the variant (None outside an experiment), its model and registry version."""

    variant: str | None
    model: Any
    model_version: str | None


def arm_of(bundle: Bundle, customer_id: str) -> Arm:
    """The arm that answers ``customer_id`` under the bundle's experiment (the champion without one)."""
    champion_version = bundle.versions.get("recommender")
    if bundle.experiment is None:
        return Arm(None, bundle.recommender, champion_version)
    experiment = bundle.experiment
    if assign_variant(experiment.name, customer_id, experiment.challenger_share) == CHALLENGER:
        return Arm(CHALLENGER, bundle.challenger, experiment.challenger_version)
    return Arm(CHAMPION, bundle.recommender, champion_version)


def recommend_by_arm(
    bundle: Bundle, customer_ids: Sequence[str], call: Callable[[Any, list[str]], list[Any]]
) -> list[tuple[Any, Arm]]:
    """``call(model, customers)`` once per arm for the customers it answers; the results back in the
    order of ``customer_ids``, each with its arm."""
    groups: dict[str | None, tuple[Arm, list[int]]] = {}
    for position, customer in enumerate(customer_ids):
        arm = arm_of(bundle, customer)
        groups.setdefault(arm.variant, (arm, []))[1].append(position)
    answered: list[tuple[Any, Arm] | None] = [None] * len(customer_ids)
    for arm, positions in groups.values():
        for position, result in zip(positions, call(arm.model, [customer_ids[p] for p in positions])):
            answered[position] = (result, arm)
    return answered  # type: ignore[return-value]
