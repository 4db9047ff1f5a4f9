"""The synthetic shop's after-sales (step 6 of :mod:`engine.data.synthetic`): support contacts and
survey answers after visits, the dropouts that open complaints bring forward, and both tables as the
shop would export them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.synthetic.config import SyntheticShopConfig

CHANNELS = ("phone", "e-mail", "chat", "faq form")
OTHER_TOPICS = ("delivery", "product question", "invoice", "return request")
COMPLAINT = "complaint"


def lifetime_with_complaints(joined: float, lifetime: float, open_spans: np.ndarray, factor: float) -> float:
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


def draw_aftersales(
    config: SyntheticShopConfig, customers: pd.DataFrame, visits: pd.DataFrame, rng: np.random.Generator, end_week: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Support contacts and survey answers after visits, and the dropouts their open complaints bring
    forward (step 6 of :mod:`engine.data.synthetic`). Every draw is made per visit whatever the switches, so
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
            dropout[customer] = lifetime_with_complaints(
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


def aftersales_tables(
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
