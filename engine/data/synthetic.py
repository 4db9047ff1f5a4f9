"""A seeded synthetic shop whose true parameters are known, so that every model can be scored against
the truth: churn and lifetime value (customers follow a Pareto/NBD process), recommendations (customers
and products have latent taste factors), and pricing (products have known own-price elasticities, and
the retailer's promotions can be confounded with demand shocks).

How a shop is made (weeks ``t``, products ``j``, categories ``c``, customers ``i``):

1. Customers arrive during the first ``acquisition_weeks``; each has a visit rate ``lambda_i ~ Gamma``
   (visits a week) and a dropout rate ``mu_i ~ Gamma``; the customer is lost after ``tau_i ~ Exp(mu_i)``
   weeks. Visits are a Poisson process while alive (Pareto/NBD).
2. Expected units of product ``j`` in week ``t``::

       mu_jt = basket x share_j x visits_t x season_ct x exp(eta_ct + nu_jt)
               x (price_jt / reference_price_j) ** elasticity_j x lift(display, mailer)
               x exp(cross_c x mean over the category's other products k of log(price_kt / reference_price_k))

   ``eta_ct`` (category-week) and ``nu_jt`` (product AR(1)) are demand shocks nobody observes.
   Demand is drawn as Poisson by inverse CDF from fixed uniforms; sales are demand capped by stock.
3. Prices: the unit cost follows a random walk (a category factor plus the product's own), and the
   regular price is reset to cost x markup at periodic reviews, on a .49/.99 ladder, so cost shocks pass
   through to price (an observed instrument). Vendors fund trade deals at random (their own calendar):
   a deal lowers that week's unit cost (an off-invoice allowance) and makes a promotion much more
   likely, so the observed unit cost also carries the promotion cost. A promotion takes 10-40% off.
   With ``confounded=True`` the retailer also promotes when it expects demand to be high (its promotion
   probability rises with the unobserved shocks); with ``confounded=False`` it promotes at random
   apart from deals. Display and mailer flags are observed; by default independent of the shocks and
   of promotions (``display_promotion`` makes them come with promotions, ``display_confounding`` makes
   displays follow the demand shock). ``manager_pricing`` makes the regular price set at a review move
   with the demand shock the manager sees (a confounder of the shelf price itself, not only of promotions).
   ``prices_paid`` records the paid price as the unit price with no discount (no list price in the data).
4. Each product-week's units are handed out to that week's visits with probabilities proportional to
   ``exp(affinity x <customer factors, product factors>)``, giving order lines. A visit that receives
   no unit leaves no record (``truth.empty_visit_share`` says how often; rare at the default basket).
5. A small share of lines is returned later (negative quantity).
6. After-sales (:mod:`engine.data.aftersales` tables): a visit is followed by a support contact with
   probability ``contact_rate`` (opened 0-3 days later, a random channel; a complaint with probability
   ``complaint_share``, else another topic). A contact is resolved after ``Exp(resolve_days)`` days (a
   complaint after ``Exp(complaint_resolve_days)``), except a share ``unresolved_share`` of the
   complaints, which stay open. **The known effect**: while a
   customer has a complaint open, their dropout hazard is multiplied by ``complaint_hazard`` (1 = no
   effect; the lifetime draw is the same, so the twin shops with the effect on and off share every
   draw and differ only in who leaves earlier). A resolved contact is rated 1-5 (lower the longer it
   took, lower for a complaint) with probability ``rating_rate``; a visit is followed by an NPS or CSAT
   answer with probability ``survey_rate``, lower while a complaint is open.

Exogenous randomness comes from independent child streams of one seed sequence, so the twin shops
``confounded=True/False`` share every draw (costs, shocks, promotion uniforms, customers) and differ
only in which weeks are promoted and what follows from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from engine.data.aftersales import validate_support_contacts, validate_surveys
from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.schema import validate_customers, validate_products, validate_transactions

WEEK = pd.Timedelta(days=7)
# streams of the seed sequence, one per source of randomness (order fixed: never reorder)
_STREAMS = (
    "customers", "visits", "factors", "products", "costs", "shocks", "promotions", "demand", "baskets", "returns",
    "cross", "deals", "aftersales",
)


class SyntheticShopConfig(BaseModel):
    """Sizes and switches of a synthetic shop; the defaults generate in a few seconds."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    n_customers: int = Field(2000, ge=10)
    n_products: int = Field(150, ge=4)
    n_categories: int = Field(8, ge=1)
    n_weeks: int = Field(104, ge=8)
    start: str = "2023-01-02"
    acquisition_weeks: int = Field(26, ge=1, description="customers arrive uniformly over these first weeks")
    # Pareto/NBD: visits a week ~ Gamma(visit_shape, scale=visit_mean/visit_shape); dropout likewise
    visit_mean: float = Field(0.4, gt=0)
    visit_shape: float = Field(1.5, gt=0)
    dropout_mean: float = Field(1 / 80, gt=0, description="mean dropout rate a week (1/mean lifetime)")
    dropout_shape: float = Field(1.0, gt=0)
    basket_units: float = Field(7.0, gt=0, description="expected units per visit at reference conditions")
    # product taste
    n_factors: int = Field(6, ge=1)
    affinity: float = Field(1.2, ge=0, description="how strongly latent taste steers product choice")
    # demand and prices
    elasticity_range: tuple[float, float] = (-3.5, -0.5)
    elasticity_spread: float = Field(0.2, ge=0, description="sd of product elasticities within a category")
    cross_elasticity_range: tuple[float, float] = Field(
        (-0.2, 0.5),
        description="per category, the response to the mean log price of the other products of the category "
        "(> 0 substitutes, < 0 complements)",
    )
    category_shock_sd: float = Field(0.12, ge=0)
    product_shock_sd: float = Field(0.15, ge=0)
    product_shock_rho: float = Field(0.6, ge=0, lt=1)
    promo_rate: float = Field(0.15, gt=0, lt=1)
    deal_rate: float = Field(0.1, ge=0, le=1, description="share of product-weeks with a vendor trade deal")
    deal_allowance: tuple[float, float] = Field((0.10, 0.25), description="share of the unit cost a deal takes off")
    deal_promotion: float = Field(2.5, ge=0, description="log-odds of a promotion added by a vendor deal")
    confounded: bool = True
    confounding: float = Field(1.5, ge=0, description="log-odds of a promotion per sd of the demand shock")
    cost_drift_sd: float = Field(0.02, ge=0, description="weekly sd of the product's cost random walk")
    price_review_weeks: int = Field(8, ge=1)
    display_rate: float = Field(0.08, ge=0, le=1)
    mailer_rate: float = Field(0.06, ge=0, le=1)
    display_promotion: float = Field(0.0, ge=0, description="log-odds of a display or mailer added in a promotion week")
    display_confounding: float = Field(0.0, ge=0, description="log-odds of a display per sd of the demand shock")
    manager_pricing: float = Field(
        0.0, ge=0, description="log change of the regular price set at a review per sd of the demand shock"
    )
    prices_paid: bool = Field(False, description="transactions carry the paid price and no discount (no list price)")
    display_lift: float = Field(0.3, description="log lift of a display")
    mailer_lift: float = Field(0.2, description="log lift of a mailer feature")
    stock_cover_weeks: tuple[float, float] = (1.3, 2.5)
    replenish_weeks: int = Field(2, ge=1)
    return_rate: float = Field(0.01, ge=0, le=0.5)
    # after-sales (step 6 of the module docstring)
    contact_rate: float = Field(0.08, ge=0, le=1, description="probability that a visit is followed by a support contact")
    complaint_share: float = Field(0.35, ge=0, le=1, description="share of the contacts that are complaints")
    resolve_days: float = Field(6.0, gt=0, description="mean days to resolve a contact that is not a complaint")
    complaint_resolve_days: float = Field(21.0, gt=0, description="mean days to resolve a complaint")
    unresolved_share: float = Field(0.1, ge=0, le=1, description="share of the complaints never resolved")
    complaint_hazard: float = Field(
        10.0, ge=1, description="dropout hazard multiplier while a complaint is open (1 = after-sales has no effect on churn)"
    )
    rating_rate: float = Field(0.6, ge=0, le=1, description="probability that a resolved contact is rated 1-5")
    survey_rate: float = Field(0.05, ge=0, le=1, description="probability that a visit is followed by an NPS or CSAT answer")


@dataclass
class SyntheticTruth:
    """The generating parameters of a synthetic shop.

    ``cross_elasticity`` (index category): response to the other products' prices of the category.
    ``customers`` (index customer_id): visit ``rate`` and ``dropout_rate`` a week, ``joined``,
    ``dropout`` (time of loss; NaT if alive at ``end``), ``lifetime_weeks`` (may reach past ``end``),
    ``alive`` at ``end``, ``visits`` made, and
    ``expected_visits_{13,26,52}w`` after ``end`` given the true state. ``products`` (index product_id):
    category, ``elasticity``, ``reference_price``, ``base_cost``, ``markup``, ``share``. ``weekly``
    (one row per product-week): prices, costs, promotion and display flags, the unobserved ``shock``
    (log), ``expected_units``, ``demand`` (drawn), ``units`` sold, ``stock`` at the start of the week.
    ``customer_factors`` / ``product_factors`` are rows in the order of ``customers`` / ``products``.
    """

    config: SyntheticShopConfig
    end: pd.Timestamp
    customers: pd.DataFrame
    products: pd.DataFrame
    weekly: pd.DataFrame
    cross_elasticity: pd.Series
    customer_factors: np.ndarray
    product_factors: np.ndarray
    empty_visit_share: float
    stockout_share: float

    @property
    def elasticity(self) -> pd.Series:
        """True own-price elasticity per product_id."""
        return self.products["elasticity"]


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}


def ladder_price(price: np.ndarray | float) -> np.ndarray:
    """Round prices down to the .49/.99 ladder (5.37 -> 4.99, 5.99 -> 5.99), never below 0.49."""
    steps = np.floor(np.round((np.asarray(price, dtype=float) + 0.01) * 2, 6))
    return np.maximum(steps / 2 - 0.01, 0.49)


def _customers(config: SyntheticShopConfig, rng: np.random.Generator, end_week: float) -> pd.DataFrame:
    n = config.n_customers
    joined = rng.uniform(0, config.acquisition_weeks, n)
    rate = rng.gamma(config.visit_shape, config.visit_mean / config.visit_shape, n)
    dropout_rate = rng.gamma(config.dropout_shape, config.dropout_mean / config.dropout_shape, n)
    lifetime = rng.exponential(1 / dropout_rate)
    return pd.DataFrame(
        {"joined_week": joined, "rate": rate, "dropout_rate": dropout_rate, "dropout_week": joined + lifetime}
    ).assign(alive=lambda d: d["dropout_week"] > end_week)


def _visits(customers: pd.DataFrame, rng: np.random.Generator, end_week: float) -> pd.DataFrame:
    """Visit times (in weeks since start) of a Poisson process while each customer is alive."""
    active = np.clip(np.minimum(customers["dropout_week"], end_week) - customers["joined_week"], 0, None)
    counts = rng.poisson(customers["rate"].to_numpy() * active.to_numpy())
    owner = np.repeat(np.arange(len(customers)), counts)
    time = customers["joined_week"].to_numpy()[owner] + rng.uniform(0, 1, owner.size) * active.to_numpy()[owner]
    order = np.argsort(time, kind="stable")
    return pd.DataFrame({"customer": owner[order], "week_time": time[order]})


CHANNELS = ("phone", "e-mail", "chat", "faq form")
OTHER_TOPICS = ("delivery", "product question", "invoice", "return request")
COMPLAINT = "complaint"


def _lifetime_with_complaints(joined: float, lifetime: float, open_spans: np.ndarray, factor: float) -> float:
    """The dropout time when the hazard is ``factor`` times higher inside ``open_spans`` (rows of
    start, stop in weeks, sorted by start): the same unit-exponential draw ``lifetime x dropout_rate``
    is spent ``factor`` times faster while a complaint is open (overlapping complaints count once)."""
    budget, now = lifetime, joined
    for start, stop in open_spans:
        if stop <= now:
            continue
        if start > now:
            if start - now >= budget:
                return now + budget
            budget -= start - now
            now = start
        if factor * (stop - now) >= budget:
            return now + budget / factor
        budget -= factor * (stop - now)
        now = stop
    return now + budget


def _aftersales(
    config: SyntheticShopConfig, customers: pd.DataFrame, visits: pd.DataFrame, rng: np.random.Generator, end_week: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Support contacts and survey answers after visits, and the dropouts their open complaints bring
    forward (step 6 of the module docstring). Every draw is made per visit whatever the switches, so
    ``complaint_hazard`` changes who leaves when and nothing else. Returns the customers with their
    new dropout, the visits before it, and the contacts and answers (times in weeks)."""
    n = len(visits)
    draws = {name: rng.uniform(size=n) for name in ("contact", "complaint", "unresolved", "rating", "survey", "kind")}
    delay, survey_delay = rng.uniform(0, 3 / 7, n), rng.uniform(0, 1, n)
    resolve = rng.exponential(1 / 7, n)  # in units of the mean, which depends on the topic
    channel, topic = rng.integers(0, len(CHANNELS), n), rng.integers(0, len(OTHER_TOPICS), n)
    rating_noise, survey_noise = rng.normal(0, 0.7, n), rng.normal(0, 1, n)
    owner, visit_week = visits["customer"].to_numpy(), visits["week_time"].to_numpy()

    complaint = draws["complaint"] < config.complaint_share
    contacts = pd.DataFrame(
        {
            "customer": owner,
            "opened": visit_week + delay,
            "channel": np.array(CHANNELS, dtype=object)[channel],
            "topic": np.where(complaint, COMPLAINT, np.array(OTHER_TOPICS, dtype=object)[topic]),
            "resolved": np.where(
                complaint & (draws["unresolved"] < config.unresolved_share),
                np.inf,
                visit_week + delay + resolve * np.where(complaint, config.complaint_resolve_days, config.resolve_days),
            ),
            "rated": draws["rating"] < config.rating_rate,
            "rating_noise": rating_noise,
        }
    ).loc[draws["contact"] < config.contact_rate]
    customers = customers.copy()
    dropout = customers["dropout_week"].to_numpy().copy()
    if config.complaint_hazard > 1:
        complaints = contacts.loc[contacts["topic"] == COMPLAINT].sort_values("opened", kind="stable")
        joined = customers["joined_week"].to_numpy()
        for customer, spans in complaints.groupby("customer", sort=True)[["opened", "resolved"]]:
            dropout[customer] = _lifetime_with_complaints(
                joined[customer], dropout[customer] - joined[customer], spans.to_numpy(), config.complaint_hazard
            )
    customers["dropout_week"] = dropout
    customers["alive"] = dropout > end_week
    gone = np.minimum(dropout, end_week)
    contacts = contacts.loc[contacts["opened"] < gone[contacts["customer"].to_numpy()]]
    kept = visit_week < dropout[owner]

    answered = (draws["survey"] < config.survey_rate) & kept
    answers = pd.DataFrame(
        {"customer": owner[answered], "time": visit_week[answered] + survey_delay[answered],
         "nps": draws["kind"][answered] < 0.5, "noise": survey_noise[answered]}
    )
    answers = answers.loc[answers["time"] < gone[answers["customer"].to_numpy()]].reset_index(drop=True)
    open_complaints = contacts.loc[contacts["topic"] == COMPLAINT, ["customer", "opened", "resolved"]]
    spans = answers.reset_index().merge(open_complaints, on="customer")
    unhappy = spans.loc[(spans["opened"] <= spans["time"]) & (spans["time"] < spans["resolved"]), "index"].unique()
    answers["open_complaint"] = answers.index.isin(unhappy)
    return customers, visits.loc[kept].reset_index(drop=True), contacts.reset_index(drop=True), answers


def _aftersales_tables(
    contacts: pd.DataFrame, answers: pd.DataFrame, start: pd.Timestamp, end_week: float, ids: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contacts and answers as the shop would export them: dates, open contacts without a
    resolution date (also those resolved after the data's end), ratings only on resolved contacts."""

    def as_time(weeks: np.ndarray) -> pd.Series:
        finite = np.where(np.isfinite(weeks), weeks, 0.0)
        return pd.Series(start + pd.to_timedelta(np.floor(finite * 7 * 24 * 60), unit="min")).where(np.isfinite(weeks))

    resolved_week = np.where(contacts["resolved"] < end_week, contacts["resolved"], np.inf)
    took = resolved_week - contacts["opened"].to_numpy()
    complaint = (contacts["topic"] == COMPLAINT).to_numpy()
    rating = np.clip(np.round(4.6 - 0.8 * took - 1.0 * complaint + contacts["rating_noise"].to_numpy()), 1, 5)
    support = pd.DataFrame(
        {
            Columns.customer: ids[contacts["customer"].to_numpy()],
            "opened_at": as_time(contacts["opened"].to_numpy()),
            "channel": contacts["channel"].to_numpy(),
            "topic": contacts["topic"].to_numpy(),
            "resolved_at": as_time(resolved_week),
            "satisfaction": np.where(np.isfinite(took) & contacts["rated"].to_numpy(), rating, np.nan),
        }
    ).sort_values("opened_at", kind="stable")
    unhappy = answers["open_complaint"].to_numpy()
    noise = answers["noise"].to_numpy()
    nps = np.clip(np.round(8.3 + 1.5 * noise - 4.0 * unhappy), 0, 10)
    csat = np.clip(np.round(4.2 + 0.7 * noise - 1.8 * unhappy), 1, 5)
    surveys = pd.DataFrame(
        {
            Columns.customer: ids[answers["customer"].to_numpy()],
            Columns.timestamp: as_time(answers["time"].to_numpy()),
            "kind": np.where(answers["nps"], "NPS", "CSAT"),
            "score": np.where(answers["nps"], nps, csat),
        }
    ).sort_values(Columns.timestamp, kind="stable")
    return support.reset_index(drop=True), surveys.reset_index(drop=True)


def _products(config: SyntheticShopConfig, rng: np.random.Generator) -> pd.DataFrame:
    n, k = config.n_products, config.n_categories
    category = np.sort(np.arange(n) % k)
    low, high = config.elasticity_range
    category_mean = rng.uniform(low + 0.4, high - 0.3, k)
    elasticity = np.clip(category_mean[category] + rng.normal(0, config.elasticity_spread, n), low, high)
    price_level = np.exp(rng.normal(np.log(4.0), 0.6, k))
    base_cost = np.round(price_level[category] * np.exp(rng.normal(0, 0.3, n)) * 0.6, 2).clip(0.05)
    # a plausible but imperfect retailer: near the profit-maximising markup for elastic goods, a
    # conventional one for inelastic goods, with noise (so a price optimizer has something to find)
    optimal = np.where(elasticity < -1.05, elasticity / (1 + elasticity), np.inf)
    markup = np.where(np.isfinite(optimal), np.clip(optimal, 1.2, 3.0), rng.uniform(1.4, 2.0, n))
    markup = markup * np.exp(rng.normal(0, 0.12, n))
    share = np.exp(rng.normal(0, 0.8, n))
    brand = rng.integers(0, 4, n)
    return pd.DataFrame(
        {
            "category_index": category,
            Columns.category: [f"cat{c:02d}" for c in category],
            Columns.brand: [f"brand{c:02d}-{b}" for c, b in zip(category, brand)],
            "elasticity": elasticity,
            "base_cost": base_cost,
            "markup": markup,
            "share": share / share.sum(),
            "cover_weeks": rng.uniform(*config.stock_cover_weeks, n),
        }
    )


def _seasonality(config: SyntheticShopConfig, rng: np.random.Generator, weeks: pd.DatetimeIndex) -> np.ndarray:
    """Log seasonal index per category-week: an annual wave plus a year-end holiday bump (observable
    from the calendar)."""
    k = config.n_categories
    amplitude = rng.uniform(0.05, 0.3, k)
    phase = rng.uniform(0, 2 * np.pi, k)
    holiday = rng.uniform(0.0, 0.4, k)
    week_of_year = weeks.isocalendar().week.to_numpy().astype(float)
    wave = amplitude[:, None] * np.sin(2 * np.pi * week_of_year[None, :] / 52 + phase[:, None])
    return wave + holiday[:, None] * (week_of_year[None, :] >= 50)


def _costs_and_regular_prices(
    config: SyntheticShopConfig, products: pd.DataFrame, rng: np.random.Generator, shock: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n, w = config.n_products, config.n_weeks
    category_walk = np.cumsum(rng.normal(0, config.cost_drift_sd / 2, (config.n_categories, w)), axis=1)
    own_walk = np.cumsum(rng.normal(0, config.cost_drift_sd, (n, w)), axis=1)
    log_cost = np.log(products["base_cost"].to_numpy())[:, None] + category_walk[products["category_index"]] + own_walk
    cost = np.round(np.exp(log_cost), 2).clip(0.01)
    phase = rng.integers(0, config.price_review_weeks, n)
    regular = np.empty((n, w))
    seen = config.manager_pricing * shock / max(shock.std(), 1e-12)
    target = ladder_price(cost * products["markup"].to_numpy()[:, None] * np.exp(seen))
    regular[:, 0] = target[:, 0]
    for t in range(1, w):
        review = (t - phase) % config.price_review_weeks == 0
        regular[:, t] = np.where(review, target[:, t], regular[:, t - 1])
    return cost, regular


def _shocks(config: SyntheticShopConfig, products: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Unobserved log demand shocks per product-week: category-week plus a product AR(1)."""
    n, w = config.n_products, config.n_weeks
    category = rng.normal(0, config.category_shock_sd, (config.n_categories, w))
    innovations = rng.normal(0, config.product_shock_sd * np.sqrt(1 - config.product_shock_rho**2), (n, w))
    own = np.empty((n, w))
    own[:, 0] = rng.normal(0, config.product_shock_sd, n)
    for t in range(1, w):
        own[:, t] = config.product_shock_rho * own[:, t - 1] + innovations[:, t]
    return category[products["category_index"]] + own


def _deals(config: SyntheticShopConfig, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Vendor trade deals: the share of the unit cost taken off per product-week (0 without a deal)."""
    deal = rng.uniform(size=shape) < config.deal_rate
    return np.where(deal, rng.uniform(*config.deal_allowance, shape), 0.0)


def _promotions(
    config: SyntheticShopConfig, shock: np.ndarray, deal: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Promotion flags and depths, display and mailer flags. The uniforms are drawn identically for
    both twins; only the promotion probability depends on the shock, and only when confounded."""
    shape = shock.shape
    u_promo, u_depth, u_display, u_mailer = (rng.uniform(size=shape) for _ in range(4))
    logit = np.log(config.promo_rate / (1 - config.promo_rate)) + config.deal_promotion * (deal > 0)
    if config.confounded:
        logit = logit + config.confounding * shock / max(shock.std(), 1e-12)
    promo = u_promo < 1 / (1 + np.exp(-logit))
    depth = np.where(promo, 0.10 + 0.30 * u_depth, 0.0)
    standard_shock = shock / max(shock.std(), 1e-12)
    display = u_display < _shifted(config.display_rate, config.display_promotion * promo + config.display_confounding * standard_shock)
    mailer = u_mailer < _shifted(config.mailer_rate, config.display_promotion * promo)
    return promo, depth, display, mailer


def _shifted(rate: float, log_odds: np.ndarray) -> np.ndarray:
    """The probability ``rate`` moved by ``log_odds`` (0 and 1 stay)."""
    if rate <= 0 or rate >= 1:
        return np.full(log_odds.shape, float(rate))
    return 1 / (1 + np.exp(-(np.log(rate / (1 - rate)) + log_odds)))


def _stock_and_sales(config: SyntheticShopConfig, cover: np.ndarray, demand: np.ndarray, planned: np.ndarray):
    """Replenishment every ``replenish_weeks`` up to ``cover`` weeks of the retailer's planned demand
    for the coming cycle (it knows its prices, promotions and season, not the shocks); sales are demand
    capped by the stock on hand."""
    n, w = demand.shape
    stock = np.empty((n, w), dtype=np.int64)
    sold = np.empty((n, w), dtype=np.int64)
    on_hand = np.zeros(n, dtype=np.int64)
    for t in range(w):
        if t % config.replenish_weeks == 0:
            cycle = planned[:, t : t + config.replenish_weeks]
            level = np.ceil(cover * cycle.max(axis=1) + cycle.sum(axis=1) - cycle[:, 0]).astype(np.int64)
            on_hand = np.maximum(on_hand, level)
        stock[:, t] = on_hand
        sold[:, t] = np.minimum(demand[:, t], on_hand)
        on_hand = on_hand - sold[:, t]
    return stock, sold


def _others_mean(values: np.ndarray, group: pd.Series) -> np.ndarray:
    """Per row, the mean of the other rows of its group (0 for a group of one)."""
    frame = pd.DataFrame(values)
    sums = frame.groupby(group.to_numpy()).transform("sum").to_numpy()
    sizes = group.map(group.value_counts()).to_numpy()[:, None]
    return np.where(sizes > 1, (sums - values) / np.maximum(sizes - 1, 1), 0.0)


def _allocate(
    units: np.ndarray,
    visits: pd.DataFrame,
    weights: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Hand each product-week's units to that week's visits in proportion to taste weights; returns
    one row per (visit, product) with a positive quantity."""
    week = np.floor(visits["week_time"].to_numpy()).astype(np.int64)
    bounds = np.searchsorted(week, np.arange(units.shape[1] + 1))
    parts = []
    for t in range(units.shape[1]):
        lo, hi = bounds[t], bounds[t + 1]
        if hi == lo or units[:, t].sum() == 0:
            continue
        w = weights[visits["customer"].to_numpy()[lo:hi]].T  # products x visits
        p = w / w.sum(axis=1, keepdims=True)
        counts = rng.multinomial(units[:, t], p)
        product, visit = np.nonzero(counts)
        parts.append(np.column_stack([visit + lo, product, counts[product, visit]]))
    lines = np.concatenate(parts) if parts else np.empty((0, 3), dtype=np.int64)
    return pd.DataFrame(lines, columns=["visit", "product", "quantity"])


def generate_shop(config: SyntheticShopConfig) -> ShopData:
    """Generate a whole shop (transactions, products, customers, promotions, stock, support contacts,
    surveys) with its truth.

    Deterministic for a given config. The transactions pass :func:`validate_transactions` untouched;
    ``shop.stock`` is the observable stock on hand at the start of each product-week.
    """
    rng = _streams(config.seed)
    n, w = config.n_products, config.n_weeks
    start = pd.Timestamp(config.start)
    weeks = pd.date_range(start, periods=w, freq="7D")
    end = start + w * WEEK

    customers = _customers(config, rng["customers"], float(w))
    visits = _visits(customers, rng["visits"], float(w))
    customers, visits, contacts, answers = _aftersales(config, customers, visits, rng["aftersales"], float(w))
    customer_factors = rng["factors"].normal(0, 1 / np.sqrt(config.n_factors), (config.n_customers, config.n_factors))
    products = _products(config, rng["products"])
    centroids = rng["factors"].normal(0, 1 / np.sqrt(config.n_factors), (config.n_categories, config.n_factors))
    product_factors = centroids[products["category_index"]] + rng["factors"].normal(
        0, 0.5 / np.sqrt(config.n_factors), (n, config.n_factors)
    )
    season = _seasonality(config, rng["products"], weeks)
    shock = _shocks(config, products, rng["shocks"])
    cost, regular = _costs_and_regular_prices(config, products, rng["costs"], shock)
    allowance = _deals(config, (n, w), rng["deals"])
    promo, depth, display, mailer = _promotions(config, shock, allowance, rng["promotions"])
    # the retailer pays the list cost less the vendor's allowance; regular prices follow the list cost
    cost = np.round(cost * (1 - allowance), 2).clip(0.01)
    price = np.round(regular * (1 - depth), 2)

    visits_per_week = np.bincount(np.floor(visits["week_time"]).astype(int), minlength=w)[:w]
    reference_price = regular[:, 0]
    base = config.basket_units * products["share"].to_numpy()[:, None] * visits_per_week[None, :]
    cross = rng["cross"].uniform(*config.cross_elasticity_range, config.n_categories)
    relative_price = np.log(price / reference_price[:, None])
    log_multiplier = (
        season[products["category_index"]]
        + shock
        + products["elasticity"].to_numpy()[:, None] * relative_price
        + cross[products["category_index"]][:, None] * _others_mean(relative_price, products["category_index"])
        + config.display_lift * display
        + config.mailer_lift * mailer
    )
    expected = base * np.exp(log_multiplier)
    demand = stats.poisson.ppf(rng["demand"].uniform(size=(n, w)), expected).astype(np.int64)
    planned = expected / np.exp(shock)
    stock, sold = _stock_and_sales(config, products["cover_weeks"].to_numpy(), demand, planned)

    weights = np.exp(config.affinity * customer_factors @ product_factors.T * np.sqrt(config.n_factors))
    lines = _allocate(sold, visits, weights, rng["baskets"])

    customer_ids = np.array([f"c{i:05d}" for i in range(config.n_customers)], dtype=object)
    product_ids = np.array([f"p{j:04d}" for j in range(n)], dtype=object)
    # floor, not round: a visit must stay in the week it was drawn in
    visit_time = start + pd.to_timedelta(np.floor(visits["week_time"].to_numpy() * 7 * 24 * 60), unit="min")
    visit_week = np.floor(visits["week_time"].to_numpy()).astype(np.int64)
    v, j = lines["visit"].to_numpy(), lines["product"].to_numpy()
    t = visit_week[v]
    quantity = lines["quantity"].to_numpy().astype(float)
    raw = pd.DataFrame(
        {
            Columns.customer: customer_ids[visits["customer"].to_numpy()[v]],
            Columns.item: product_ids[j],
            Columns.order: np.char.add("o", v.astype(str)).astype(object),
            Columns.timestamp: visit_time[v],
            Columns.quantity: quantity,
            Columns.unit_price: price[j, t] if config.prices_paid else regular[j, t],
            Columns.discount: 0.0 if config.prices_paid else np.round(quantity * (regular[j, t] - price[j, t]), 2),
            Columns.unit_cost: cost[j, t],
        }
    )
    raw = pd.concat([raw, _returns(raw, config, rng["returns"], end)], ignore_index=True)
    raw = raw.sort_values([Columns.timestamp, Columns.order, Columns.item], kind="stable").reset_index(drop=True)
    transactions, report = validate_transactions(raw)

    customers_seen = visits.groupby("customer").size().reindex(range(config.n_customers), fill_value=0)
    truth_customers = _customer_truth(customers, customers_seen.to_numpy(), start, end, customer_ids)
    product_table = pd.DataFrame(
        {
            Columns.item: product_ids,
            Columns.category: products[Columns.category],
            Columns.brand: products[Columns.brand],
            Columns.unit_cost: products["base_cost"],
        }
    )
    product_table, product_report = validate_products(product_table)
    customer_table = pd.DataFrame(
        {
            Columns.customer: customer_ids,
            "joined": (start + pd.to_timedelta(customers["joined_week"] * 7, unit="D")).dt.normalize(),
            "region": rng["customers"].choice(["north", "south", "east", "west"], config.n_customers),
            # a protected attribute, present so that tests can check that no price depends on it
            "age_band": rng["customers"].choice(["18-34", "35-54", "55+"], config.n_customers),
        }
    )
    customer_table, customer_report = validate_customers(customer_table)
    support, surveys = _aftersales_tables(contacts, answers, start, float(w), customer_ids)
    support, support_report = validate_support_contacts(support)
    surveys, survey_report = validate_surveys(surveys)

    def frame(values: np.ndarray) -> np.ndarray:
        return values.reshape(-1)

    weekly = pd.DataFrame(
        {
            Columns.item: np.repeat(product_ids, w),
            "week_start": np.tile(weeks, n),
            "regular_price": frame(regular),
            "price": frame(price),
            Columns.unit_cost: frame(cost),
            "deal": frame(allowance),
            "promo": frame(promo),
            "depth": frame(depth),
            "display": frame(display),
            "mailer": frame(mailer),
            "season": frame(season[products["category_index"]]),
            "shock": frame(shock),
            "expected_units": frame(expected),
            "demand": frame(demand),
            "units": frame(sold),
            "stock": frame(stock),
        }
    )
    promotions = weekly[[Columns.item, "week_start", "display", "mailer"]].astype(
        {"display": np.float32, "mailer": np.float32}
    )
    stock_table = weekly[[Columns.item, "week_start", "stock"]].rename(columns={"stock": "stock_on_hand"})
    visits_with_lines = np.unique(v).size
    truth = SyntheticTruth(
        config=config,
        end=end,
        customers=truth_customers,
        products=products.drop(columns=["category_index"])
        .assign(reference_price=reference_price, base_cost=products["base_cost"])
        .set_index(pd.Index(product_ids, name=Columns.item)),
        weekly=weekly,
        cross_elasticity=pd.Series(
            cross, index=pd.Index([f"cat{c:02d}" for c in range(config.n_categories)], name=Columns.category)
        ),
        customer_factors=customer_factors,
        product_factors=product_factors,
        empty_visit_share=1 - visits_with_lines / max(len(visits), 1),
        stockout_share=float((demand > stock).mean()),
    )
    return ShopData(
        transactions=transactions,
        source=f"synthetic:{config.seed}" + ("" if config.confounded else ":unconfounded"),
        products=product_table,
        customers=customer_table,
        promotions=promotions,
        stock=stock_table,
        support_contacts=support,
        surveys=surveys,
        reports=[report, product_report, customer_report, support_report, survey_report],
        truth=truth,
    )


def _returns(lines: pd.DataFrame, config: SyntheticShopConfig, rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    """Return a random share of lines 3-21 days later (part of the quantity, same prices)."""
    chosen = lines.loc[rng.uniform(size=len(lines)) < config.return_rate]
    back = np.ceil(rng.uniform(size=len(chosen)) * chosen[Columns.quantity].to_numpy())
    later = chosen[Columns.timestamp] + pd.to_timedelta(rng.uniform(3, 21, len(chosen)), unit="D").round("min")
    share = back / chosen[Columns.quantity].to_numpy()
    returned = chosen.assign(
        **{
            Columns.order: "r" + chosen[Columns.order].str[1:],
            Columns.timestamp: later,
            Columns.quantity: -back,
            Columns.discount: np.round(chosen[Columns.discount].to_numpy() * share, 2),
        }
    )
    return returned.loc[returned[Columns.timestamp] < end]


def _customer_truth(
    customers: pd.DataFrame, visits: np.ndarray, start: pd.Timestamp, end: pd.Timestamp, ids: np.ndarray
) -> pd.DataFrame:
    as_date = lambda weeks: start + pd.to_timedelta(weeks * 7, unit="D")  # noqa: E731
    dead = ~customers["alive"]
    truth = pd.DataFrame(
        {
            "rate": customers["rate"].to_numpy(),
            "dropout_rate": customers["dropout_rate"].to_numpy(),
            "joined": as_date(customers["joined_week"]).to_numpy(),
            # the moment the customer was lost, NaT if still alive at the end (NaN weeks would make
            # pandas multiply uninitialised memory and warn of overflows at random)
            "dropout": as_date(customers["dropout_week"].where(dead, 0.0)).where(dead).to_numpy(),
            "lifetime_weeks": (customers["dropout_week"] - customers["joined_week"]).to_numpy(),
            "alive": customers["alive"].to_numpy(),
            "visits": visits,
        },
        index=pd.Index(ids, name=Columns.customer),
    )
    # given alive at the end, the remaining lifetime is Exp(dropout_rate) (memoryless)
    for horizon in (13, 26, 52):
        mu = truth["dropout_rate"]
        truth[f"expected_visits_{horizon}w"] = np.where(
            truth["alive"], truth["rate"] / mu * (1 - np.exp(-mu * horizon)), 0.0
        )
    return truth
