"""A shop's promotion calendar and stock levels: documented columns, validated like transactions.

Both tables come from the shop's own files (``promotions:`` and ``stock:`` in a data config, or
``load_shop(..., promotions=..., stock=...)``) and are keyed by product and either a day or a week:

- **promotions**: ``product_id``; ``date`` (one row per product and day, a daily calendar) or
  ``week_start`` (one row per product and week; the weeks must start on the panel's ``week_starts_on``);
  ``display`` and/or ``mailer`` (at least one): ``1``/``0``, ``true``/``false``, ``yes``/``no``, or a
  share in [0, 1] (e.g. of the stores that had it). A blank, a missing column or a day without a row
  means "not on display / not in the mailer". A daily calendar enters the weekly panel as the share of
  the week's seven days.
- **stock**: ``product_id``; ``date`` or ``week_start``; ``stock_on_hand`` (units on hand at the start of
  the day or week, >= 0). A week that opened with no more units than it sold, or had a day with none on
  hand, is a stock-out: its sales censor demand and the estimators leave it out.

Each bad value is reported with its 1-based row and field; the bad rows stop the load
(``on_bad_rows="raise"``) or are set aside with the rule they broke (``"quarantine"``), as transactions are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from engine.data.coerce import coerce_id, coerce_number, coercion_issues
from engine.data.columns import Columns
from engine.data.contract_rules import pandera_issues
from engine.data.timestamps import coerce_timestamp
from engine.data.validation_report import RULE, BadRows, ValidationReport, finish, issue_frame, require_columns
from engine.errors import DataValidationError

DATE = "date"
WEEK_START = "week_start"
DISPLAY = "display"
MAILER = "mailer"
STOCK_ON_HAND = "stock_on_hand"
PROMOTION_FLAGS = (DISPLAY, MAILER)
PROMOTIONS_COLUMNS = (Columns.item, DATE, WEEK_START, *PROMOTION_FLAGS)
STOCK_COLUMNS = (Columns.item, DATE, WEEK_START, STOCK_ON_HAND)

_FLAG_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0}
_DUPLICATE_KEY = "duplicate product and day"


def _key_column(table: str, raw: pd.DataFrame) -> str:
    keys = [name for name in (DATE, WEEK_START) if name in raw]
    if len(keys) != 1:
        raise DataValidationError(
            f"{table}: needs exactly one of the columns {DATE!r} (one row per product and day) or "
            f"{WEEK_START!r} (one row per product and week); got {list(raw.columns)}. Map your names to "
            "these (config `columns:` of the table)."
        )
    return keys[0]


def _coerce_flag(values: pd.Series) -> pd.Series:
    """1/0, true/false, yes/no (any case) or a number; anything else becomes NaN (reported)."""
    if values.dtype == bool:
        return values.astype("float64")
    words = values.astype("string").str.strip().str.lower().map(_FLAG_WORDS)
    return words.astype("float64").fillna(coerce_number(values))


def _validate(
    table: str, raw: pd.DataFrame, values: dict[str, pa.Column], on_bad_rows: BadRows, flags: bool
) -> tuple[pd.DataFrame, ValidationReport]:
    """The shared contract of a product-day or product-week table with numeric ``values``."""
    require_columns(table, raw, (Columns.item,))
    key = _key_column(table, raw)
    raw = raw.reset_index(drop=True)
    typed = pd.DataFrame({Columns.item: coerce_id(raw[Columns.item])}, index=raw.index)
    typed[key] = coerce_timestamp(raw[key], None)[0].dt.normalize()
    issues = [coercion_issues(raw[key], typed[key], key, "unparseable date")]
    for name in values:
        if name not in raw:
            typed[name] = 0.0  # documented: a flag column that is not there is never on
            continue
        typed[name] = _coerce_flag(raw[name]) if flags else coerce_number(raw[name])
        issues.append(coercion_issues(raw[name], typed[name], name, "not a flag or number" if flags else "not a number"))
    schema = pa.DataFrameSchema(
        {
            Columns.item: pa.Column(object, nullable=False),
            key: pa.Column("datetime64[ns]", nullable=False),
            **{name: rule for name, rule in values.items() if name in raw},
        },
        unique=[Columns.item, key],
        report_duplicates="exclude_first",
    )
    reported = {(row, field) for part in issues for row, field in zip(part["row"], part["field"])}
    found = pandera_issues(schema, typed)
    found = found.loc[np.array([(row, field) not in reported for row, field in zip(found["row"], found["field"])], dtype=bool)]
    found = found.assign(**{RULE: found[RULE].replace({"duplicate line": _DUPLICATE_KEY if key == DATE else "duplicate product and week"})})
    issues.append(found)
    clean, report = finish(table, raw, typed, [issue_frame(pd.Series(dtype=object), "", ""), *issues], on_bad_rows)
    return clean[[Columns.item, key, *values]], report


def validate_promotions(raw: pd.DataFrame, on_bad_rows: BadRows = "raise") -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the promotions contract (module docstring); missing flags read as 0 (off)."""
    if not any(name in raw for name in PROMOTION_FLAGS):
        raise DataValidationError(
            f"promotions: needs a {DISPLAY!r} and/or {MAILER!r} column (1/0 or a share in [0, 1]); got {list(raw.columns)}"
        )
    share = [pa.Check.in_range(0, 1, error="not a flag or share in [0, 1]")]
    clean, report = _validate(
        "promotions", raw, {name: pa.Column("float64", share, nullable=True) for name in PROMOTION_FLAGS}, on_bad_rows, True
    )
    clean[list(PROMOTION_FLAGS)] = clean[list(PROMOTION_FLAGS)].fillna(0.0)
    return clean, report


def validate_stock(raw: pd.DataFrame, on_bad_rows: BadRows = "raise") -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the stock contract (module docstring): stock_on_hand is required, a number >= 0."""
    require_columns("stock", raw, (Columns.item, STOCK_ON_HAND))
    rule = pa.Column(
        "float64",
        [pa.Check.ge(0, error="negative stock"), pa.Check(np.isfinite, error="not finite")],
        nullable=False,
    )
    return _validate("stock", raw, {STOCK_ON_HAND: rule}, on_bad_rows, False)


def product_unit_costs(products: pd.DataFrame | None) -> pd.Series:
    """The products table's ``unit_cost`` by product_id (positive values only: a zero or blank cost is
    unknown, not free); empty if the table has no costs."""
    if products is None or Columns.unit_cost not in products:
        return pd.Series(dtype="float64")
    costs = products.set_index(Columns.item)[Columns.unit_cost].astype(float)
    return costs.loc[costs > 0]
