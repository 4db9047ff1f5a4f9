"""Out-of-time benchmark protocols: where each source's test window starts, how long it lasts, and
the earlier cuts evaluated beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import pandas as pd

from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.windows import WindowPlan
from engine.data.dataset import ShopData

Config = TypeVar("Config", ChurnConfig, ClvConfig)


@dataclass(frozen=True)
class Protocol:
    """A benchmark protocol: where the test window starts and how long it lasts."""

    name: str
    as_of: date | None
    horizon_days: int
    description: str
    cuts: int = 3
    cut_step_days: int = 28


PROTOCOLS = {
    "cdnow": Protocol(
        "cdnow-26-weeks", date(1998, 1, 1), 181,
        "features from purchases up to 1997-12-31; outcome = any purchase / spend from 1998-01-01 to the end "
        "of the data, 1998-06-30 (the 26-week holdout of the literature); two more cuts 28 and 56 days earlier",
    ),
    "completejourney": Protocol(
        "completejourney-13-weeks", None, 91,
        "the last 13 weeks (91 days) of the data as outcome window; two more cuts 28 and 56 days earlier",
    ),
}


def protocol_for(source: str, config: ChurnConfig | ClvConfig) -> Protocol:
    """The benchmark protocol of a source (by its kind), else the config's own windows."""
    kind = source.partition(":")[0]
    if kind in PROTOCOLS:
        return PROTOCOLS[kind]
    return Protocol("config", config.windows.as_of, config.features.horizon_days,
                    "windows and horizon from the config; cuts step_days apart", cut_step_days=config.windows.step_days)


def with_protocol(config: Config, protocol: Protocol) -> Config:
    """``config`` (churn or CLV) with the protocol's test as-of and horizon."""
    return config.model_copy(
        update={
            "features": config.features.model_copy(update={"horizon_days": protocol.horizon_days}),
            "windows": config.windows.model_copy(update={"as_of": protocol.as_of}),
        }
    )


def cut_dates(shop: ShopData, protocol: Protocol) -> list[date | None]:
    """The test as-of of each out-of-time cut: the protocol's (None = the last horizon of the data),
    then every ``cut_step_days`` earlier."""
    first = WindowPlan.for_data(shop.transactions, protocol.horizon_days, protocol.as_of).test_as_of
    return [protocol.as_of] + [(first - pd.Timedelta(days=k * protocol.cut_step_days)).date() for k in range(1, protocol.cuts)]
