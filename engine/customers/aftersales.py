"""After-sales features of each customer as of a date: complaints, resolution, satisfaction, surveys.

Computed from what was known strictly before ``as_of`` (the same cut as every other feature):

- a contact counts once it was opened before ``as_of``; it is *open* at the cut when it has no
  ``resolved_at`` or was resolved on or after ``as_of`` (a later resolution is not known yet);
- a contact's days to resolve and its satisfaction rating count once it was resolved before ``as_of``
  (a rating is given when the contact closes; a rating on a contact still open at the cut is not used);
- a survey answer counts once its ``timestamp`` is before ``as_of``.

A contact is a complaint when its topic (any case) is one of the feature spec's ``complaint_topics``.
Returns need no table here: the return shares are transaction features already
(``return_line_share``, ``return_value_share``).

The columns exist only for the tables a shop has (contacts: :data:`CONTACT_FEATURES`; surveys:
:data:`SURVEY_FEATURES`): a shop without after-sales data gets exactly the features, and so exactly the
models, it had before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.aftersales import CSAT, KIND, NPS, OPENED_AT, RESOLVED_AT, SATISFACTION, SCORE, TOPIC
from engine.data.columns import Columns
from engine.data.dataset import ShopData

CONTACT_LABELS = {
    "support_contacts": "support contacts so far",
    "open_complaints": "complaints open at the cut",
    "complaint_days_open": "days the oldest open complaint has been open",
    "mean_days_to_resolve": "mean days to resolve a contact",
    "satisfaction_last": "last satisfaction rating of a contact (1-5)",
    "satisfaction_change": "last satisfaction rating minus the mean of the earlier ones",
}
SURVEY_LABELS = {
    "nps_last": "last NPS answer (0-10)",
    "csat_last": "last CSAT answer (1-5)",
}
CONTACT_FEATURES = tuple(CONTACT_LABELS)
SURVEY_FEATURES = tuple(SURVEY_LABELS)
AFTERSALES_FEATURES = (*CONTACT_FEATURES, *SURVEY_FEATURES)
# what a customer profile shows of them (the change is phrased in the reasons instead)
PROFILE_COLUMNS = tuple(name for name in AFTERSALES_FEATURES if name != "satisfaction_change")
DEFAULT_COMPLAINT_TOPICS = ("complaint",)
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class AfterSales:
    """A shop's validated support contacts and survey answers (either may be absent)."""

    contacts: pd.DataFrame | None = None
    surveys: pd.DataFrame | None = None

    @classmethod
    def of(cls, shop: ShopData) -> AfterSales | None:
        """The after-sales tables of ``shop``, or None when it has neither."""
        if shop.support_contacts is None and shop.surveys is None:
            return None
        return cls(shop.support_contacts, shop.surveys)


def aftersales_features(
    aftersales: AfterSales, as_of: pd.Timestamp, customers: pd.Index, complaint_topics: tuple[str, ...]
) -> pd.DataFrame:
    """The after-sales features of ``customers`` as of ``as_of`` (module docstring); one column per
    feature of the tables ``aftersales`` holds."""
    frame = pd.DataFrame(index=customers)
    if aftersales.contacts is not None:
        frame = frame.join(_contact_features(aftersales.contacts, as_of, complaint_topics).reindex(customers))
        frame[["support_contacts", "open_complaints", "complaint_days_open"]] = frame[
            ["support_contacts", "open_complaints", "complaint_days_open"]
        ].fillna(0.0)
    if aftersales.surveys is not None:
        frame = frame.join(_survey_features(aftersales.surveys, as_of).reindex(customers))
    return frame.astype(float)


def aftersales_profile(
    aftersales: AfterSales | None,
    as_of: pd.Timestamp,
    customers: pd.Index,
    complaint_topics: tuple[str, ...] = DEFAULT_COMPLAINT_TOPICS,
) -> pd.DataFrame:
    """The :data:`PROFILE_COLUMNS` of ``customers`` as of ``as_of`` that the shop's tables give (no
    columns at all for a shop without after-sales data), for customer and segment profiles."""
    if aftersales is None:
        return pd.DataFrame(index=customers)
    features = aftersales_features(aftersales, as_of, customers, complaint_topics)
    return features[[name for name in PROFILE_COLUMNS if name in features]]


def _contact_features(contacts: pd.DataFrame, as_of: pd.Timestamp, complaint_topics: tuple[str, ...]) -> pd.DataFrame:
    c = Columns
    known = contacts.loc[contacts[OPENED_AT] < as_of]
    resolved = known[RESOLVED_AT] < as_of  # NaT compares False: open
    topics = {topic.strip().lower() for topic in complaint_topics}
    open_complaint = ~resolved & known[TOPIC].str.strip().str.lower().isin(topics)
    days_open = ((as_of - known[OPENED_AT]) / _DAY).where(open_complaint)
    days_to_resolve = ((known[RESOLVED_AT] - known[OPENED_AT]) / _DAY).where(resolved)
    lines = pd.DataFrame(
        {c.customer: known[c.customer], "open": open_complaint, "days_open": days_open, "days_to_resolve": days_to_resolve}
    )
    grouped = lines.groupby(c.customer, sort=True)
    frame = pd.DataFrame(
        {
            "support_contacts": grouped.size(),
            "open_complaints": grouped["open"].sum(),
            "complaint_days_open": grouped["days_open"].max(),
            "mean_days_to_resolve": grouped["days_to_resolve"].mean(),
        }
    )
    rated = known.loc[resolved & known[SATISFACTION].notna(), [c.customer, RESOLVED_AT, SATISFACTION]]
    rated = rated.sort_values([c.customer, RESOLVED_AT], kind="stable")
    by_customer = rated.groupby(c.customer, sort=True)[SATISFACTION]
    last = by_customer.last()
    count, total = by_customer.size(), by_customer.sum()
    earlier = ((total - last) / (count - 1)).where(count > 1)
    frame["satisfaction_last"] = last
    frame["satisfaction_change"] = last - earlier
    return frame[list(CONTACT_FEATURES)]


def _survey_features(surveys: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    c = Columns
    known = surveys.loc[surveys[c.timestamp] < as_of].sort_values([c.customer, c.timestamp], kind="stable")
    last = known.groupby([c.customer, KIND], sort=True)[SCORE].last().unstack(KIND)
    return pd.DataFrame({"nps_last": last.get(NPS), "csat_last": last.get(CSAT)}, index=last.index)


def earlier_satisfaction(features: pd.DataFrame) -> np.ndarray:
    """The mean rating before the last one (last - change), NaN where there is no earlier rating."""
    return (features["satisfaction_last"] - features["satisfaction_change"]).to_numpy(dtype=float)
