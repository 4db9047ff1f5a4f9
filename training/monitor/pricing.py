"""Monitoring of the pricing champion: units sold against its forecast at the charged price, price and
units drift since its training weeks, and the quote funnel."""

from __future__ import annotations

import pandas as pd

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.monitoring import realised
from engine.monitoring.drift import drift_table
from engine.monitoring.thresholds import MonitorConfig, above, drift_breaches
from training.monitor.sections import Champion, Section, event_funnel


def monitor_pricing(shop: ShopData, champion: Champion, now: pd.Timestamp, config: MonitorConfig,
                    events: pd.DataFrame | None) -> Section:
    """Weeks after the pricing model's training data: units sold against its forecast at the price
    charged (WMAPE, bias), drift of the price relative to the model's current price and of weekly
    units against its last training weeks, and the quote funnel of the events."""
    from engine.pricing import panel as P
    from engine.pricing.base import ELASTICITY
    from engine.pricing.facts import BASE_UNITS, CURRENT_PRICE
    from engine.pricing.optimizer import PriceOptimizer

    settings = config.pricing
    optimizer = PriceOptimizer.load(champion.folder, model_version=champion.version)
    section = Section(champion.name, champion.version, "ok", {"current_as_of": str(now.date())})
    if events is not None:
        section.details["events"] = event_funnel(events, "quotes", champion.name, 1, 0.0, section)
    if champion.trained_until is None:
        section.status = "skipped"
        section.details["reason"] = "its run records no data summary: the end of its training data is unknown"
        return section
    panel = P.shop_panel(shop)
    panel = panel.loc[panel[Columns.item].isin(optimizer.facts_.index)]
    panel = panel.assign(**{
        CURRENT_PRICE: panel[Columns.item].map(optimizer.facts_[CURRENT_PRICE]),
        BASE_UNITS: panel[Columns.item].map(optimizer.facts_[BASE_UNITS]),
        ELASTICITY: panel[Columns.item].map(optimizer.elasticities_[ELASTICITY]),
    })
    panel["price_ratio"] = panel[P.PRICE] / panel[CURRENT_PRICE]
    period = panel.loc[panel[P.WEEK] >= champion.trained_until]
    section.details["trained_until"] = str(champion.trained_until.date())
    if period.empty:
        section.status = "pending"
        section.details["reason"] = f"no whole week of sales since the model's training data ended ({champion.trained_until.date()})"
        return section
    weeks = period[P.WEEK].nunique()
    before = panel.loc[(panel[P.WEEK] < champion.trained_until) & (panel[P.WEEK] >= champion.trained_until - pd.Timedelta(weeks=max(weeks, 4)))]
    section.drift = drift_table(before[["price_ratio", P.UNITS]], period[["price_ratio", P.UNITS]], config.drift.bins, config.drift.epsilon)
    section.breaches += drift_breaches(champion.name, section.drift, config.drift)
    forecast = realised.forecast_units(period[BASE_UNITS], period[CURRENT_PRICE], period[ELASTICITY], period[P.PRICE])
    response = realised.price_response(period[P.UNITS].to_numpy(), forecast)
    section.details.update({"weeks": int(weeks), "realised": response,
                            "recorded": {"metric": champion.metric, "value": champion.metric_value}})
    if response["product_weeks"] >= settings.min_product_weeks:
        section.breaches += above(champion.name, "performance", "realised_wmape", response["wmape"], settings.max_wmape)
        if champion.metric_value is not None and champion.metric == "forecast_wmape":
            section.breaches += above(champion.name, "performance", "realised_wmape_vs_recorded", response["wmape"],
                                      champion.metric_value * (1 + settings.max_wmape_increase))
    return section
