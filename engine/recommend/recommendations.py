"""What a recommender answers: the top items for one subject, and where they came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MODEL = "model"
COLD_START_SEGMENT = "cold_start_segment"
COLD_START_GLOBAL = "cold_start_global"
UNKNOWN_ITEM = "unknown_item"


@dataclass(frozen=True)
class Recommendations:
    """The top items for one subject (a customer, or an item for similar items), best first.

    ``source`` says where they came from: ``model``, ``cold_start_segment``, ``cold_start_global``
    (no usable history) or ``unknown_item`` (an empty answer, with the ``reason``).
    """

    subject: str
    item_ids: tuple[str, ...]
    scores: tuple[float, ...]
    source: str
    reason: str | None = None

    @property
    def cold_start(self) -> bool:
        return self.source in (COLD_START_SEGMENT, COLD_START_GLOBAL)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
