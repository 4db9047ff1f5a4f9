"""The guarded price optimizer: what should this product cost now, and why.

For a product with elasticity ``e`` (constant-elasticity demand ``units(p) = units0 * (p / p0) ** e``)
and unit cost ``c``, profit peaks at ``c * e / (1 + e)`` when ``e < -1``; revenue falls with price
when ``e < -1``. With ``e`` uncertain the optimizer aims at the certainty-equivalent optimum (below),
moves the aim for stock (scarce stock raises it towards the price that stretches the stock to
``target_cover_days``, overstock lowers it; zero or negative stock counts as none on hand), clips the
aim into the feasible interval of the guardrails (:func:`engine.pricing.guardrails.feasible_interval`:
bounded, never empty) and picks among at most three candidates: the aim's two ladder neighbours inside
the interval and the unchanged current price (by the certainty-equivalent objective when it aims at the
optimum, else the nearest to the aim). Every step is O(1) whatever the magnitude of the price. A product
whose cost floor is above the ceiling is quoted at the ceiling with reason ``cost_above_price``. It
keeps the current price (with a reason code) when it has no elasticity to act on: no estimate of its
own (reason ``not_significant``: the price never moved), an estimate that does not fall with the price
(``|e| <= min_abs_elasticity``, 0 by default: reason ``inelastic``), or an unknown cost with the profit
objective (``no_cost``). Otherwise it aims at the price with the highest certainty-equivalent profit
under the elasticity's uncertainty (:mod:`engine.pricing.decision`: the estimate and its bias-aware
standard error, risk aversion ``policy.risk_aversion``): a move is held back in proportion to how
uncertain it makes the profit, so an inelastic or not significant estimate is priced too (flags
``inelastic``, ``not_significant``), and flag ``uncertain`` says the uncertainty moved the aim by more
than 1% from the estimate's optimum. A category with a significant cross-price effect
(:func:`engine.pricing.cross_price.cross_price_effects`) is priced for the category's profit
(:mod:`engine.pricing.joint`): one quote is the product's best response to the others' prices, and
:meth:`PriceOptimizer.quote_all` repeats best responses until no price moves.

Every answer is a :class:`PriceQuote`: price, expected units, revenue and margin at that price and at
the current one, the elasticity with its interval, the binding guardrail (``reason``), and the model
version. An unknown product gets a quote that keeps its price with reason ``unknown_product``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self, cast

import numpy as np
import pandas as pd

from engine.base import EngineModel
from engine.data.columns import Columns
from engine.pricing import decision as D
from engine.pricing import guardrails as G
from engine.pricing import joint as J
from engine.pricing.cross_price import RELATION
from engine.pricing.facts import (
    BASE_UNITS,
    CURRENT_PRICE,
    DISCOUNT,
    ELASTICITY_COLUMNS,
    FACT_COLUMNS,
    LIST_PRICE,
    MAX_PRICE,
    MIN_PRICE,
    ProductFacts,
    check_fit_inputs,
)
from engine.pricing.quote import PriceQuote, binding_reason, check_quote_inputs, finite_or_none, weekly_margin
from engine.pricing.shrinkage import CI_HIGH, CI_LOW, ELASTICITY, OWN_ESTIMATE, SE

KIND = "pricing"
FORMAT_VERSION = 1
NO_LADDER_STEP = "no_ladder_step"  # flag: no ladder price between the current price and the aim
COST_ASSUMED = "cost_assumed"  # optional facts column: the unit cost is an assumption, not data


class PriceOptimizer(EngineModel):
    """Quotes guarded prices from an elasticity table, product facts and a policy."""

    kind = KIND
    format_version = FORMAT_VERSION
    fitted_attribute = "facts_"

    def __init__(self, policy: G.PricingPolicy | None = None) -> None:
        self.policy = policy

    def fit(
        self,
        elasticities: pd.DataFrame,
        facts: pd.DataFrame,
        segment_offers: pd.DataFrame | None = None,
        model_version: str = "unversioned",
        cross_price: pd.DataFrame | None = None,
    ) -> Self:
        """Take the elasticity table (index product_id: elasticity, se, ci_low, ci_high), the product facts
        (:func:`product_facts`), optional segment offers (index segment: discount) and optional cross-price
        effects (:func:`engine.pricing.cross_price.cross_price_effects`, index category): a category
        whose relation is significant (substitutes or complements) is priced with it (see :meth:`quote`)."""
        check_fit_inputs(elasticities, facts, segment_offers)
        self.policy_ = self.policy or G.PricingPolicy()
        self.elasticities_ = elasticities.loc[facts.index, list(ELASTICITY_COLUMNS)].astype(float)
        # a product without an estimate of its own (its category's, e.g. a price that never moved) is
        # never repriced on it; tables without the column are all products' own estimates
        own = elasticities.loc[facts.index, OWN_ESTIMATE] if OWN_ESTIMATE in elasticities else True
        self.elasticities_[OWN_ESTIMATE] = pd.Series(own, index=facts.index).fillna(False).astype(bool)
        self.facts_ = facts[list(FACT_COLUMNS)].copy()
        self.facts_[COST_ASSUMED] = facts[COST_ASSUMED].astype(bool) if COST_ASSUMED in facts else False
        self.segment_offers_ = segment_offers.copy() if segment_offers is not None else pd.DataFrame({DISCOUNT: []})
        self.model_version_ = model_version
        self.cross_price_ = J.significant_cross(cross_price, self.policy_.decision_z)
        self._demand, self._margins = self._category_demand()
        return self

    def _category_demand(self) -> tuple[dict[str, tuple[dict[str, int], J.CategoryDemand]], dict[str, float]]:
        """Per category priced with a cross-price effect (two products or more): its products' positions,
        their estimated demand system around the current prices (costs unknown: NaN), and its weekly margin (revenue for that
        objective) at the current prices over the products whose cost is known."""
        facts, e = self.facts_, self.elasticities_[ELASTICITY]
        demand, margins = {}, {}
        for category, members in facts.groupby(facts[Columns.category].astype(str), sort=True):
            if category not in self.cross_price_.index or len(members) < 2:
                continue
            ids = [str(i) for i in members.index]
            revenue = self.policy_.objective == "revenue"  # the objective's cost: none for revenue
            system = J.CategoryDemand(
                reference=members[CURRENT_PRICE].astype(float).tolist(),
                units=members[BASE_UNITS].astype(float).tolist(),
                elasticity=e.loc[members.index].astype(float).tolist(),
                cost=[0.0] * len(ids) if revenue else members[Columns.unit_cost].astype(float).tolist(),
                cross=[float(self.cross_price_[category])] * len(ids),
                category=[category] * len(ids),
            )
            margins[category] = sum((p - c) * u for p, c, u in zip(system.reference, system.cost, system.units) if not math.isnan(c))
            demand[category] = ({product: j for j, product in enumerate(ids)}, system)
        return demand, margins

    def _product(self, product_id: str) -> ProductFacts:
        facts, e = self.facts_.loc[product_id], self.elasticities_.loc[product_id]
        cost = float(facts[Columns.unit_cost])
        return ProductFacts(
            category=str(facts[Columns.category]),
            current_price=float(facts[CURRENT_PRICE]),
            unit_cost=cost if math.isfinite(cost) else None,
            list_price=float(facts[LIST_PRICE]),
            min_price=float(facts[MIN_PRICE]),
            max_price=float(facts[MAX_PRICE]),
            base_units=float(facts[BASE_UNITS]),
            elasticity=float(e[ELASTICITY]),
            se=float(e[SE]) if math.isfinite(float(e[SE])) else 0.0,
            ci_low=float(e[CI_LOW]),
            ci_high=float(e[CI_HIGH]),
            own_estimate=bool(e[OWN_ESTIMATE]),
        )

    def guardrails(self, product_id: str, current_price: float | None = None) -> list[G.Rule]:
        """The rules that bind this product's next price (for checks and explanations)."""
        self.check_is_fitted()
        item = self._product(str(product_id))
        current = item.current_price if current_price is None else float(current_price)
        return G.rules(self.policy_, current, item.unit_cost, item.list_price, item.min_price, item.max_price)

    def interval(self, product_id: str, current_price: float | None = None) -> G.Interval:
        """The feasible interval of this product's next price (what every quote stays inside)."""
        return G.price_bounds(self.guardrails(product_id, current_price))

    def quote(
        self,
        product_id: str,
        current_price: float | None = None,
        stock: float | None = None,
        segment: str | None = None,
        category_prices: Mapping[str, float] | None = None,
    ) -> PriceQuote:
        """The price to charge now. ``current_price`` defaults to the last shelf price seen; ``stock`` is
        units on hand (enables the stock-aware adjustment; zero or negative, e.g. back orders, means
        none on hand); ``segment`` is a behavioural segment or tier name with an offer (never a
        protected attribute). For a known product the price is always a finite number inside the
        feasible interval (see :mod:`engine.pricing.guardrails`).

        In a category with a significant cross-price effect the price aimed at is the best for the
        category's profit, the other products at ``category_prices`` (default: their current prices):
        a substitute's price is higher than it would be alone, since some of the units it loses go to
        the others (flag ``cross_price:substitutes``). :meth:`quote_all` sets a category's prices
        jointly."""
        self.check_is_fitted()
        product_id = str(product_id)
        check_quote_inputs(current_price, stock)
        if product_id not in self.facts_.index:
            return PriceQuote(product_id, current_price, current_price, G.UNKNOWN_PRODUCT, self.model_version_, segment=segment, stock=stock)
        item = self._product(product_id)
        current = item.current_price if current_price is None else float(current_price)
        units_now = item.units(current)

        price, reason, flags, interval = self._price(product_id, item, current, units_now, stock, category_prices)
        segment_price, discount = None, 0.0
        if segment is not None:
            segment_price, discount, note = self._segment_price(segment, price, interval.low)
            flags.append(note)
        units = item.units(price)
        return PriceQuote(
            product_id=product_id,
            price=price,
            current_price=current,
            reason=reason,
            model_version=self.model_version_,
            flags=tuple(flags),
            elasticity=item.elasticity,
            elasticity_interval=(item.ci_low, item.ci_high),
            unit_cost=item.unit_cost,
            expected_units=finite_or_none(units),
            expected_revenue=finite_or_none(price * units),
            expected_margin=weekly_margin(item.unit_cost, price, units),
            current_units=finite_or_none(units_now),
            current_revenue=finite_or_none(current * units_now),
            current_margin=weekly_margin(item.unit_cost, current, units_now),
            segment=segment,
            segment_price=segment_price,
            segment_discount=discount,
            stock=stock,
        )

    def _price(
        self,
        product_id: str,
        item: ProductFacts,
        current: float,
        units_now: float,
        stock: float | None,
        category_prices: Mapping[str, float] | None,
    ) -> tuple[float, str, list[str], G.Interval]:
        """The quoted price inside the feasible interval, its reason, its flags and that interval."""
        policy = self.policy_
        interval = G.feasible_interval(policy, current, item.unit_cost, item.list_price, item.min_price, item.max_price)
        target, driver, decided = self._target(item, current, units_now, stock, interval)
        response = self._cross_response(product_id, item, current, decided, category_prices) if driver == G.OPTIMAL else None
        if response is not None:  # the category's profit, not the product's alone
            price, aim = J.best_response(response, interval, policy, keep=(current,))
            reason = G.COST_ABOVE_PRICE if interval.cost_above_ceiling else J.joint_reason(response, interval, aim)
        else:
            aim = interval.clip(target)
            reason = binding_reason(interval, aim, target, G.price_tolerance(aim), driver)
        flags = [driver] if reason != driver else []
        if driver == G.OPTIMAL:  # what the decision weighed besides the estimate
            flags += D.uncertainty_flags(interval, item.current_price, item.elasticity, item.ci_high, self._cost(item), target)
        flags += [f"relaxed:{name}" for name in interval.relaxed]
        if bool(self.facts_.at[product_id, COST_ASSUMED]):
            flags.append("assumed_cost")
        if response is not None:
            flags.append(f"cross_price:{'substitutes' if response.spill > 0 else 'complements'}")
        else:
            keep = abs(aim - current) <= G.price_tolerance(aim)
            price = current if keep else self._on_ladder(item, aim, current, interval, driver, flags)

        return price, reason, flags, interval

    def _cross_response(
        self, product_id: str, item: ProductFacts, current: float, elasticity: float, category_prices: Mapping[str, float] | None
    ) -> J.Response | None:
        """The category's profit as a function of this product's price (:class:`engine.pricing.joint.Response`),
        or None when its category has no significant cross-price effect. With the others at their
        current prices it is O(1) (the category's margin at the current prices is kept from fit)."""
        demand = self._demand.get(item.category)
        if demand is None:
            return None
        position, system = demand
        j = position[product_id]
        if category_prices is None:
            spill = system.cross[j] / (len(position) - 1)
            own = (item.current_price - system.cost[j]) * item.base_units
            others = (self._margins[item.category] - own) * math.exp(min(spill * math.log(current / item.current_price), 700.0))
            return J.Response(current, item.units(current), elasticity, system.cost[j], others, spill)
        prices = [float(category_prices.get(k, p)) for k, p in zip(position, system.reference)]
        prices[j] = current
        response = system.response(j, prices, range(len(position)), system.cost)
        return J.Response(current, response.units_now, elasticity, response.cost, response.others_profit, response.spill)

    def _on_ladder(self, item: ProductFacts, aim: float, current: float, interval: G.Interval, driver: str, flags: list[str]) -> float:
        """A ladder price for ``aim`` (already inside the interval): of its two ladder neighbours inside
        the interval and the current price (if allowed), the one with the highest certainty-equivalent
        objective when the aim is its optimum, else the neighbour nearest to the aim, or the current price if that
        neighbour would move the other way than intended. Whole cents when no ladder price fits."""
        candidates = G.ladder_candidates(interval, aim, self.policy_)
        if not candidates:
            flags.append(G.ENDING_UNAVAILABLE)
            return G.cents_within(aim, interval.low, interval.high)
        current_allowed = interval.low <= current <= interval.high
        if driver == G.OPTIMAL:
            pool = candidates + ([current] if current_allowed else [])
            chosen = D.best_price(pool, item.current_price, item.elasticity, self._cost(item), D.penalty(item.se, self.policy_.risk_aversion))
        else:
            chosen = min(candidates, key=lambda p: abs(p - aim))
            if current_allowed and (chosen - current) * (aim - current) < 0:
                chosen = current
        if chosen == current and current not in candidates:
            flags.append(NO_LADDER_STEP)
        return chosen

    def _cost(self, item: ProductFacts) -> float:
        """The cost the objective subtracts: the unit cost for profit, 0 for revenue."""
        return 0.0 if self.policy_.objective == "revenue" else float(item.unit_cost or 0.0)

    def _target(
        self, item: ProductFacts, current: float, units_now: float, stock: float | None, interval: G.Interval
    ) -> tuple[float, str, float]:
        """Where the price should go before guardrails, what drives it, and the elasticity a joint
        (cross-price) move is decided with: the certainty-equivalent elasticity at the aim."""
        policy, e = self.policy_, item.elasticity
        if policy.objective == "profit" and item.unit_cost is None:
            return current, G.NO_COST, e
        if not item.own_estimate:
            return current, G.NOT_SIGNIFICANT, e
        if e >= -policy.min_abs_elasticity:
            return current, G.INELASTIC, e
        # the price with the highest certainty-equivalent profit, the elasticity uncertain (engine.pricing.decision)
        curvature = D.penalty(item.se, policy.risk_aversion)
        target, driver = D.optimum(item.current_price, e, self._cost(item), curvature), G.OPTIMAL
        decided = D.equivalent_elasticity(interval.clip(target), item.current_price, e, curvature)
        if stock is not None and units_now > 0:
            stock = max(stock, 0.0)
            cover_days = 7 * stock / units_now
            # the price at which the stock lasts target_cover_days (in logs: no overflow at extremes)
            ratio = 7 * stock / policy.target_cover_days / units_now
            stretching = current * math.exp(min(math.log(ratio) / e, 700.0)) if ratio > 0 else math.inf
            if cover_days < policy.scarce_cover_days and stretching > target:
                target, driver = stretching, G.STOCK_SCARCE
            elif cover_days > policy.overstock_cover_days and stretching < target:
                target, driver = stretching, G.STOCK_OVERSTOCK
        return target, driver, decided

    def _segment_price(self, segment: str, price: float, floor: float) -> tuple[float | None, float, str]:
        """A segment's offer: its discount (capped by policy) off the price, the lowest ladder price at
        or above the discounted price, never below the interval's low end."""
        if segment not in self.segment_offers_.index:
            return None, 0.0, "unknown_segment"
        discount = min(float(self.segment_offers_.loc[segment, DISCOUNT]), self.policy_.max_segment_discount)
        if discount <= 0:
            return None, 0.0, "no_segment_offer"
        offer = G.ladder_above(max(floor, price * (1 - discount)), self.policy_)
        if round(offer * 100) >= round(price * 100):  # in whole cents: no cent off is no offer
            return None, 0.0, "segment_offer_below_floor"
        return offer, 1 - offer / price, "segment_offer"

    def quote_all(
        self, current_prices: pd.Series | None = None, stock: pd.Series | None = None
    ) -> pd.DataFrame:
        """Quotes for every known product, one flat row each (for batch jobs, reports and CSV files):
        the elasticity interval as ``ci_low`` / ``ci_high``, the flags joined by ``;``. A category with a
        significant cross-price effect is priced jointly: best responses product by product
        (:func:`engine.pricing.joint.coordinate_ascent`) until no price moves, every quote inside its
        own guardrails."""
        self.check_is_fitted()
        current = {
            str(p): None if current_prices is None or pd.isna(current_prices.get(p)) else float(current_prices.get(p))
            for p in self.facts_.index
        }
        on_hand = {str(p): None if stock is None or pd.isna(stock.get(p)) else float(stock.get(p)) for p in self.facts_.index}
        joint: dict[str, dict[str, float]] = {}
        for category, (position, _) in self._demand.items():
            ids = list(position)

            def respond(j: int, prices: list[float], ids: list[str] = ids) -> float:
                quote = self.quote(ids[j], current[ids[j]], on_hand[ids[j]], category_prices=dict(zip(ids, prices)))
                return float(cast(float, quote.price))  # a known product's price is never None

            start = [cast(float, self.quote(p, current[p], on_hand[p]).price) for p in ids]
            joint[category] = dict(zip(ids, J.coordinate_ascent([float(p) for p in start], respond)))
        rows = []
        for product_id in self.facts_.index:
            others = joint.get(str(self.facts_.at[product_id, Columns.category]))
            row = self.quote(product_id, current[str(product_id)], on_hand[str(product_id)], category_prices=others).as_dict()
            interval = row.pop("elasticity_interval") or (None, None)
            row["flags"] = ";".join(row["flags"])
            rows.append({**row, CI_LOW: interval[0], CI_HIGH: interval[1]})
        return pd.DataFrame(rows).set_index("product_id")

    # --- persistence -------------------------------------------------------------------------------
    def save(self, directory: str | Path, data_fingerprint: str | None = None, extra: dict[str, Any] | None = None) -> Path:
        """Write the model folder: manifest (policy, version), elasticities, facts, segment offers, and the
        significant cross-price effects it prices with."""
        self.check_is_fitted()
        directory = Path(directory)
        self._write_manifest(
            directory,
            params={"policy": self.policy_.model_dump(mode="json")},
            data_fingerprint=data_fingerprint,
            extra={"model_version": self.model_version_, **(extra or {})},
        )
        self.elasticities_.to_parquet(directory / "elasticities.parquet")
        self.facts_.to_parquet(directory / "facts.parquet")
        self.segment_offers_.to_parquet(directory / "segment_offers.parquet")
        cross = self.cross_price_.to_frame().assign(**{RELATION: np.where(self.cross_price_ > 0, "substitutes", "complements")})
        cross.to_parquet(directory / "cross_price.parquet")
        return directory

    @classmethod
    def load(cls, directory: str | Path, model_version: str | None = None) -> PriceOptimizer:
        """Load a saved folder; ``model_version`` (e.g. the registry version) overrides the saved one. A
        folder saved before cross-price effects were priced has no ``cross_price.parquet``: none are used."""
        directory = Path(directory)
        cross = directory / "cross_price.parquet"
        manifest = cls._read_manifest(directory)
        optimizer = cls(G.PricingPolicy(**manifest["params"]["policy"]))
        return optimizer.fit(
            pd.read_parquet(directory / "elasticities.parquet"),
            pd.read_parquet(directory / "facts.parquet"),
            pd.read_parquet(directory / "segment_offers.parquet"),
            model_version=model_version or manifest.get("model_version", "unversioned"),
            cross_price=pd.read_parquet(cross) if cross.exists() else None,
        )
