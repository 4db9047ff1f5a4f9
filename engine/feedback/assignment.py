"""Sticky experiment assignment: the same customer always lands in the same arm of an experiment.

The arm is a pure function of (experiment name, customer id, split), so the service, an offline replay
and the analysis of events agree on it without storing assignments, and a new experiment name
reshuffles customers independently of earlier ones.
"""

from __future__ import annotations

import hashlib

from engine.errors import EngineError

CHAMPION = "champion"
CHALLENGER = "challenger"


def bucket(experiment: str, customer_id: str) -> float:
    """A uniform number in [0, 1) fixed by the experiment name and the customer id."""
    digest = hashlib.sha256(f"{experiment}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(experiment: str, customer_id: str, challenger_share: float) -> str:
    """``"challenger"`` for a ``challenger_share`` of customers, ``"champion"`` for the rest."""
    if not 0.0 <= challenger_share <= 1.0:
        raise EngineError(f"challenger_share must be within [0, 1], got {challenger_share!r}")
    return CHALLENGER if bucket(experiment, str(customer_id)) < challenger_share else CHAMPION
