"""Data contracts for the canonical tables, enforced at the boundary.

Every table that enters the engine goes through :func:`validate_transactions` (or its siblings for
products and customers). Types are coerced explicitly so that each unparseable value is reported with
its row; the value rules are a pandera schema so that the contract is declared in one place. Bad rows
either stop the run with a message naming them, or are set aside (quarantined) with the rule they
broke; nothing is dropped silently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from engine.data.coerce import coerce_id, coerce_number, coercion_issues
from engine.data.columns import Columns
from engine.data.contract_rules import discount_issues, duplicate_issues, pandera_issues, transactions_schema
from engine.data.limits import ValueLimits
from engine.data.timestamps import coerce_timestamp, date_issues
from engine.data.validation_report import FIELD, ROW, RULE, BadRows, ValidationReport, finish, issue_frame, require_columns
from engine.errors import DataValidationError

__all__ = ["BadRows", "ValidationReport", "ValueLimits", "validate_customers", "validate_products", "validate_transactions"]


def validate_transactions(
    raw: pd.DataFrame,
    on_bad_rows: BadRows = "raise",
    timestamp_format: str | None = None,
    limits: ValueLimits | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the transactions contract; return the clean table and a report.

    Required: customer_id, product_id, order_id, timestamp, quantity, unit_price (list price per unit,
    before discounts). Optional: discount (currency off the whole line, >= 0), store_id, unit_cost,
    channel. Negative quantities are returns and are kept. Every number must be finite and within
    ``limits``; timestamps follow the rules of :func:`coerce_timestamp` and must fall within the
    limits' dates. The clean table gains ``revenue`` = quantity x unit_price minus the discount (a
    return's refund is reduced by its discount).
    """
    c = Columns
    limits = limits or ValueLimits()
    if raw.columns.duplicated().any():
        raise DataValidationError(
            f"transactions: column(s) {sorted(set(raw.columns[raw.columns.duplicated()]))} appear more "
            "than once (check the column map)"
        )
    require_columns("transactions", raw, c.TRANSACTION_REQUIRED)
    raw = raw.reset_index(drop=True)
    present = [name for name in (*c.TRANSACTION_REQUIRED, *c.TRANSACTION_OPTIONAL) if name in raw]
    typed = pd.DataFrame(index=raw.index)
    issue_parts = [issue_frame(pd.Series(dtype=object), "", "")]
    for name in present:
        if name in (c.customer, c.item, c.order, c.store, c.channel):
            typed[name] = coerce_id(raw[name])
        elif name == c.timestamp:
            typed[name], timestamp_issues = coerce_timestamp(raw[name], timestamp_format)
            issue_parts.append(date_issues(raw[name], typed[name], timestamp_issues, limits))
        else:
            typed[name] = coerce_number(raw[name])
            issue_parts.append(coercion_issues(raw[name], typed[name], name, "not a number"))
    if c.discount in typed:
        issue_parts.append(discount_issues(typed))
    else:
        typed[c.discount] = 0.0
    # a value that failed coercion is already reported; do not report it again as missing
    coerced_bad = {(int(r) - 1, f) for part in issue_parts for r, f in zip(part[ROW], part[FIELD])}
    rule_issues = pandera_issues(transactions_schema(list(typed.columns), limits), typed)
    rule_issues = rule_issues[
        [(int(r) - 1, f) not in coerced_bad for r, f in zip(rule_issues[ROW], rule_issues[FIELD])]
    ]
    issue_parts += [rule_issues, duplicate_issues(typed)]
    clean, report = finish("transactions", raw, typed, issue_parts, on_bad_rows)
    sign = np.sign(clean[c.quantity].to_numpy())
    clean[c.revenue] = clean[c.quantity] * clean[c.unit_price] - sign * clean[c.discount]
    return clean, report


def validate_products(
    raw: pd.DataFrame, on_bad_rows: BadRows = "raise", limits: ValueLimits | None = None
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the products contract: unique product_id, a category; optional sub_category, brand,
    unit_cost (finite, >= 0, within ``limits``)."""
    c = Columns
    limits = limits or ValueLimits()
    require_columns("products", raw, (c.item, c.category))
    raw = raw.reset_index(drop=True)
    typed = raw.copy()
    typed[c.item] = coerce_id(raw[c.item])
    typed[c.category] = coerce_id(raw[c.category]).fillna("unknown")
    issue_parts = [issue_frame(pd.Series(dtype=object), "", "")]
    if c.unit_cost in raw:
        typed[c.unit_cost] = coerce_number(raw[c.unit_cost])
        issue_parts.append(coercion_issues(raw[c.unit_cost], typed[c.unit_cost], c.unit_cost, "not a number"))
    schema = pa.DataFrameSchema(
        {
            c.item: pa.Column(object, nullable=False, unique=True, report_duplicates="exclude_first"),
            **(
                {c.unit_cost: transactions_schema([c.unit_cost], limits).columns[c.unit_cost]}
                if c.unit_cost in typed
                else {}
            ),
        }
    )
    part = pandera_issues(schema, typed)
    part[RULE] = part[RULE].replace({"field_uniqueness": "duplicate product_id"})
    issue_parts.append(part)
    return finish("products", raw, typed, issue_parts, on_bad_rows)


def validate_customers(
    raw: pd.DataFrame, on_bad_rows: BadRows = "raise"
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the customers contract: unique customer_id; every other column is optional attributes."""
    c = Columns
    require_columns("customers", raw, (c.customer,))
    raw = raw.reset_index(drop=True)
    typed = raw.copy()
    typed[c.customer] = coerce_id(raw[c.customer])
    schema = pa.DataFrameSchema(
        {c.customer: pa.Column(object, nullable=False, unique=True, report_duplicates="exclude_first")}
    )
    part = pandera_issues(schema, typed)
    part[RULE] = part[RULE].replace({"field_uniqueness": "duplicate customer_id"})
    return finish("customers", raw, typed, [part], on_bad_rows)
