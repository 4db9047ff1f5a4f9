"""What customers said after the sale: support contacts and surveys, validated like transactions.

Both tables come from the shop's own files (``support_contacts:`` and ``surveys:`` in a data config,
each a file name or ``{file, columns}`` with its own column map; or ``load_shop(...,
support_contacts=..., surveys=...)``). Returns are not a table of their own: they are the negative
lines of the transactions.

- **support_contacts**: one row per contact (phone, e-mail, chat, FAQ form, ...).
  ``customer_id`` (required); ``opened_at`` (required, a date or date-time); ``channel`` (any text,
  blank = ``unknown``; channels are not a closed list); ``topic`` (any text, blank = ``other``; the
  topics named in the feature spec's ``complaint_topics``, default ``complaint``, are complaints);
  ``resolved_at`` (blank = still open; not before ``opened_at``); ``satisfaction`` (optional whole
  number 1-5, the customer's rating of the contact).
- **surveys**: one row per answer. ``customer_id``, ``timestamp``, ``kind`` (``NPS`` or ``CSAT``, any
  case), ``score`` (NPS: a whole number 0-10; CSAT: a whole number 1-5).

Dates follow the transactions' rules (ISO 8601, or the order the column proves, or the data's
``timestamp_format``; not before ``limits.earliest`` nor after ``limits.latest``). Each bad value is
reported with its 1-based row and field; the bad rows stop the load (``on_bad_rows="raise"``) or are
set aside with the rule they broke (``"quarantine"``), as transactions are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.coerce import blank_to_na, coerce_id, coerce_number, coercion_issues
from engine.data.columns import Columns
from engine.data.limits import ValueLimits
from engine.data.timestamps import coerce_timestamp, date_issues
from engine.data.validation_report import FIELD, BadRows, ValidationReport, finish, issue_frame, require_columns

OPENED_AT = "opened_at"
RESOLVED_AT = "resolved_at"
CHANNEL = "channel"
TOPIC = "topic"
SATISFACTION = "satisfaction"
KIND = "kind"
SCORE = "score"
CONTACT_COLUMNS = (Columns.customer, OPENED_AT, CHANNEL, TOPIC, RESOLVED_AT, SATISFACTION)
SURVEY_COLUMNS = (Columns.customer, Columns.timestamp, KIND, SCORE)
NPS, CSAT = "NPS", "CSAT"
SCORE_RANGES = {NPS: (0, 10), CSAT: (1, 5)}
SATISFACTION_RANGE = (1, 5)
UNKNOWN_CHANNEL, OTHER_TOPIC = "unknown", "other"


def _empty_issues() -> pd.DataFrame:
    return issue_frame(pd.Series(dtype=object), "", "")


def _dates(
    raw: pd.Series, name: str, timestamp_format: str | None, limits: ValueLimits
) -> tuple[pd.Series, pd.DataFrame]:
    """A date column parsed like the transactions' timestamp, its problems named under ``name``."""
    parsed, issues = coerce_timestamp(raw, timestamp_format)
    issues = date_issues(raw, parsed, issues, limits)
    issues[FIELD] = issues[FIELD].replace({Columns.timestamp: name})
    return parsed, issues


def _missing(raw: pd.DataFrame, typed: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """Required values that are blank (a value that failed to parse is reported for that alone)."""
    parts = []
    for name in names:
        blank = blank_to_na(raw[name]).isna() & typed[name].isna()
        parts.append(issue_frame(raw[name][blank], name, "missing value"))
    return pd.concat([_empty_issues(), *parts], ignore_index=True)


def _whole_in_range(values: pd.Series, raw: pd.Series, low: int, high: int, name: str, rule: str) -> pd.DataFrame:
    """Numbers that are not whole numbers in ``[low, high]`` (blanks and unparsed values pass here)."""
    bad = values.notna() & ~(values.between(low, high) & (values == np.floor(values)))
    return issue_frame(raw[bad], name, rule)


def _duplicates(typed: pd.DataFrame, keys: list[str], what: str) -> pd.DataFrame:
    """Exact repeats of ``keys`` after their first copy (an export that wrote a row twice)."""
    repeated = typed[keys].notna().all(axis=1) & typed.duplicated(keys, keep="first")
    return issue_frame(typed.loc[repeated, keys[0]].map(lambda v: f"customer {v}"), "row", f"duplicate {what}")


def validate_support_contacts(
    raw: pd.DataFrame,
    on_bad_rows: BadRows = "raise",
    timestamp_format: str | None = None,
    limits: ValueLimits | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the support-contacts contract (module docstring); return the clean table (columns
    :data:`CONTACT_COLUMNS`, blank channel and topic filled in) and the report."""
    limits = limits or ValueLimits()
    require_columns("support_contacts", raw, (Columns.customer, OPENED_AT))
    raw = raw.reset_index(drop=True)
    empty = pd.Series(np.nan, index=raw.index, dtype=object)
    typed = pd.DataFrame({Columns.customer: coerce_id(raw[Columns.customer])}, index=raw.index)
    issues = [_empty_issues()]
    typed[OPENED_AT], opened_issues = _dates(raw[OPENED_AT], OPENED_AT, timestamp_format, limits)
    resolved_raw = raw[RESOLVED_AT] if RESOLVED_AT in raw else empty
    typed[RESOLVED_AT], resolved_issues = _dates(resolved_raw.rename(RESOLVED_AT), RESOLVED_AT, timestamp_format, limits)
    issues += [opened_issues, resolved_issues]
    for name, default in ((CHANNEL, UNKNOWN_CHANNEL), (TOPIC, OTHER_TOPIC)):
        values = coerce_id(raw[name]) if name in raw else empty
        typed[name] = values.map(lambda v: v if pd.isna(v) else str(v).strip()).fillna(default)
    satisfaction_raw = raw[SATISFACTION] if SATISFACTION in raw else empty
    typed[SATISFACTION] = coerce_number(satisfaction_raw.rename(SATISFACTION))
    issues.append(coercion_issues(satisfaction_raw, typed[SATISFACTION], SATISFACTION, "not a number"))
    issues.append(_whole_in_range(typed[SATISFACTION], satisfaction_raw, *SATISFACTION_RANGE, SATISFACTION,
                                  "satisfaction must be a whole number 1-5"))
    issues.append(_missing(raw, typed, (Columns.customer, OPENED_AT)))
    early = typed[RESOLVED_AT] < typed[OPENED_AT]
    shown = pd.Series([f"resolved {r} < opened {o}" for r, o in zip(typed.loc[early, RESOLVED_AT], typed.loc[early, OPENED_AT])],
                      index=typed.index[early], dtype=object)
    issues.append(issue_frame(shown, RESOLVED_AT, "resolved before opened"))
    issues.append(_duplicates(typed, [Columns.customer, OPENED_AT, CHANNEL, TOPIC], "contact (same customer, opened_at, channel, topic)"))
    clean, report = finish("support_contacts", raw, typed, issues, on_bad_rows)
    return clean[list(CONTACT_COLUMNS)], report


def validate_surveys(
    raw: pd.DataFrame,
    on_bad_rows: BadRows = "raise",
    timestamp_format: str | None = None,
    limits: ValueLimits | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the surveys contract (module docstring); ``kind`` comes back as ``NPS`` or ``CSAT``."""
    limits = limits or ValueLimits()
    require_columns("surveys", raw, SURVEY_COLUMNS)
    raw = raw.reset_index(drop=True)
    typed = pd.DataFrame({Columns.customer: coerce_id(raw[Columns.customer])}, index=raw.index)
    issues = [_empty_issues()]
    typed[Columns.timestamp], date_issues = _dates(raw[Columns.timestamp], Columns.timestamp, timestamp_format, limits)
    issues.append(date_issues)
    kind = coerce_id(raw[KIND]).map(lambda v: v if pd.isna(v) else str(v).strip().upper())
    typed[KIND] = kind.where(kind.isin(list(SCORE_RANGES)))
    unknown = kind.notna() & typed[KIND].isna()
    issues.append(issue_frame(raw.loc[unknown, KIND], KIND, f"unknown survey kind (use {' or '.join(SCORE_RANGES)})"))
    typed[SCORE] = coerce_number(raw[SCORE])
    issues.append(coercion_issues(raw[SCORE], typed[SCORE], SCORE, "not a number"))
    for name, (low, high) in SCORE_RANGES.items():
        scored = typed[SCORE].where(typed[KIND] == name)
        issues.append(_whole_in_range(scored, raw[SCORE], low, high, SCORE, f"{name} score must be a whole number {low}-{high}"))
    missing = _missing(raw, typed, (Columns.customer, Columns.timestamp, SCORE))
    blank_kind = blank_to_na(raw[KIND]).isna()
    issues += [missing, issue_frame(raw.loc[blank_kind, KIND], KIND, "missing value")]
    issues.append(_duplicates(typed, [Columns.customer, Columns.timestamp, KIND], "answer (same customer, timestamp, kind)"))
    clean, report = finish("surveys", raw, typed, issues, on_bad_rows)
    return clean[list(SURVEY_COLUMNS)], report

