"""The feedback event vocabulary shared by the service, the event store, monitoring and experiments.

One event is one thing a customer did (or was shown) after an answer of the service: a recommendation
shown / clicked / bought, a price quote shown / accepted, an offer sent / redeemed. Every event names
the answer it responds to (``request_id``) and the bundle and model versions that produced it, so
realised performance can be attributed to the model that earned it.
"""

from __future__ import annotations

from typing import Final

EVENT_TYPES: Final[tuple[str, ...]] = (
    "rec_shown",
    "rec_clicked",
    "rec_bought",
    "quote_shown",
    "quote_accepted",
    "offer_sent",
    "offer_redeemed",
)
"""Every accepted ``event_type``."""


class EventColumns:
    """Column names of an events table (the store's table and every events DataFrame)."""

    event_id = "event_id"  # client-chosen unique id; ingestion is idempotent on it
    event_type = "event_type"  # one of EVENT_TYPES
    timestamp = "timestamp"  # when it happened, UTC
    customer_id = "customer_id"
    item_id = "item_id"  # product of a recommendation / quote / offer; empty for none
    request_id = "request_id"  # the service answer this event responds to (may be empty for offers)
    bundle_version = "bundle_version"
    model_version = "model_version"
    variant = "variant"  # experiment arm ("champion" / "challenger"), empty outside experiments
    price = "price"  # price shown or paid, when there is one
    quantity = "quantity"  # units bought, for *_bought / *_accepted / *_redeemed
    value = "value"  # revenue of the event (price * quantity), 0 when none

    ALL: Final[tuple[str, ...]] = (
        event_id,
        event_type,
        timestamp,
        customer_id,
        item_id,
        request_id,
        bundle_version,
        model_version,
        variant,
        price,
        quantity,
        value,
    )
