"""Monitoring of the recommender champion: purchases of unknown items, the category mix, the hit rate
of its lists against the bestsellers', the feedback funnel and the served lists."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.feedback.events import EventColumns
from engine.monitoring import realised
from engine.monitoring.drift import psi_categorical
from engine.monitoring.thresholds import MonitorConfig, above, below, drift_breaches
from training.monitor.sections import Champion, Section, event_funnel


def monitor_recommender(shop: ShopData, champion: Champion, now: pd.Timestamp, config: MonitorConfig,
                        events: pd.DataFrame | None) -> Section:
    """Purchases since the recommender's training: the share on items it has never seen, the category
    mix against its last weeks (PSI), the hit rate of its top-N against what customers bought (and of
    its training data's bestsellers, as the floor it must beat); the feedback funnel and served lists."""
    from engine.recommend.evaluation import relevant_items
    from engine.recommend.popularity import PopularityRecommender
    from engine.recommend.registry import load_recommender

    settings, tx, c = config.recommender, shop.transactions, Columns
    model = load_recommender(champion.folder)
    as_of = pd.Timestamp(model.as_of_).normalize()
    section = Section(champion.name, champion.version, "ok", {"trained_until": str(as_of.date()), "current_as_of": str(now.date())})
    if events is not None:
        section.details["events"] = event_funnel(events, "recommendations", champion.name, settings.min_answers,
                                            settings.min_event_hit_rate, section)
    period = tx.loc[tx[c.timestamp] >= as_of]
    if period.empty:
        section.status = "pending"
        section.details["reason"] = f"no purchase since the model's training data ended ({as_of.date()})"
        return section
    length = min(now - as_of, pd.Timedelta(weeks=8))
    before = tx.loc[(tx[c.timestamp] >= as_of - length) & (tx[c.timestamp] < as_of)]
    bought = period.loc[period[c.quantity] > 0]
    unknown = float((~bought[c.item].astype(str).isin(model.items_.external_ids)).mean())
    section.details["unknown_item_share"] = unknown
    section.breaches += above(champion.name, "feature_drift", "unknown_item_share", unknown, settings.max_unknown_item_share)
    if shop.products is not None and not before.empty:
        category = shop.products.set_index(c.item)[c.category]
        mix = {"category_mix": psi_categorical(before[c.item].map(category), period[c.item].map(category), config.drift.epsilon)}
        section.drift = pd.DataFrame([{"feature": name, "kind": "categorical", "psi": value, "reference_rows": len(before),
                                       "current_rows": len(period)} for name, value in mix.items()])
        section.breaches += drift_breaches(champion.name, section.drift, config.drift)
    history = tx.loc[tx[c.timestamp] < as_of]
    known = set(model.customers_.external_ids)
    relevant = {customer: items for customer, items in relevant_items(period, history, settings.task).items() if customer in known}
    if len(relevant) > settings.max_customers:
        chosen = np.random.default_rng(config.seed).choice(sorted(relevant), settings.max_customers, replace=False)
        relevant = {customer: relevant[customer] for customer in sorted(chosen)}
    if len(relevant) < settings.min_customers:
        section.details["hit_rate"] = {"status": "too few", "customers": len(relevant)}
        return section
    k, key = settings.k, f"hit_rate@{settings.k}"
    lists = {r.subject: list(r.item_ids) for r in model.recommend(list(relevant), k=k, task=settings.task)}
    bestsellers = PopularityRecommender(by="buyers").fit(history)
    floor = {r.subject: list(r.item_ids) for r in bestsellers.recommend(list(relevant), k=k, task=settings.task)}
    champion_hits, popularity_hits = realised.list_hit_rate(lists, relevant, k), realised.list_hit_rate(floor, relevant, k)
    lift = champion_hits[key] / popularity_hits[key] if popularity_hits[key] > 0 else None
    section.details["hit_rate"] = {"task": settings.task, "champion": champion_hits, "bestsellers": popularity_hits, "lift": lift}
    section.breaches += below(champion.name, "performance", f"{key}_lift_over_bestsellers", lift, settings.min_lift_over_popularity)
    if settings.min_hit_rate > 0:
        section.breaches += below(champion.name, "performance", key, champion_hits[key], settings.min_hit_rate)
    if events is not None:
        served = realised.served_lists(events.loc[events[EventColumns.timestamp] >= as_of], k)
        served_relevant = {customer: items for customer, items in relevant_items(period, history, settings.task).items() if customer in served}
        if served_relevant:
            section.details["served_lists"] = realised.list_hit_rate(served, served_relevant, k)
    return section
