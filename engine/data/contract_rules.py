"""The value rules of the transactions contract, declared once as a pandera schema, and the rules a
schema cannot say (a discount above its line's value, duplicate and conflicting lines)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from engine.data.columns import Columns
from engine.data.limits import ValueLimits
from engine.data.validation_report import FIELD, ROW, RULE, VALUE, issue_frame


def _finite_rule(predicate: Callable[[pd.Series], pd.Series], error: str) -> pa.Check:
    """A value check that passes non-finite values: they break "not finite" alone, not every rule."""
    return pa.Check(lambda values: predicate(values) | ~np.isfinite(values), error=error)


_NOT_FINITE = "not finite"


def transactions_schema(columns: list[str], limits: ValueLimits) -> pa.DataFrameSchema:
    c = Columns
    finite = pa.Check(np.isfinite, error=_NOT_FINITE)
    rules: dict[str, pa.Column] = {
        c.customer: pa.Column(object, nullable=False),
        c.item: pa.Column(object, nullable=False),
        c.order: pa.Column(object, nullable=False),
        c.timestamp: pa.Column("datetime64[ns]", nullable=False),
        c.quantity: pa.Column(
            "float64",
            [
                pa.Check.ne(0, error="zero quantity (returns are negative)"),
                finite,
                _finite_rule(
                    lambda q: q.abs() <= limits.max_abs_quantity,
                    f"|quantity| above {limits.max_abs_quantity:g} (limits.max_abs_quantity)",
                ),
            ],
            nullable=False,
        ),
        c.unit_price: pa.Column(
            "float64",
            [
                _finite_rule(lambda p: p > 0, "non-positive price"),
                finite,
                _finite_rule(
                    lambda p: p <= limits.max_unit_price,
                    f"price above {limits.max_unit_price:g} (limits.max_unit_price)",
                ),
            ],
            nullable=False,
        ),
        c.discount: pa.Column(
            "float64", [_finite_rule(lambda d: d >= 0, "negative discount"), finite], nullable=False
        ),
        c.unit_cost: pa.Column(
            "float64",
            [
                _finite_rule(lambda u: u >= 0, "negative cost"),
                finite,
                _finite_rule(
                    lambda u: u <= limits.max_unit_cost,
                    f"cost above {limits.max_unit_cost:g} (limits.max_unit_cost)",
                ),
            ],
            nullable=True,
        ),
        c.store: pa.Column(object, nullable=True),
        c.channel: pa.Column(object, nullable=True),
    }
    return pa.DataFrameSchema({name: rule for name, rule in rules.items() if name in columns})


_DISCOUNT_TOO_LARGE = "discount exceeds line value"
_DUPLICATE_LINE = "duplicate line"
_CONFLICTING_LINE = "conflicting duplicate (same order_id and product_id, other quantity or unit_price)"
_PANDERA_RULES = {"not_nullable": "missing value", "multiple_fields_uniqueness": _DUPLICATE_LINE}
# a rule that spans several columns is reported under the field "row"
_RULE_FIELD = {_DUPLICATE_LINE: "row"}


def discount_issues(typed: pd.DataFrame) -> pd.DataFrame:
    """A discount larger than its line's value (|quantity| x unit_price), shown as both numbers."""
    c = Columns
    line_value = typed[c.quantity].abs() * typed[c.unit_price]
    bad = typed[c.discount] > line_value + 1e-9
    # a line whose price or discount is itself bad is reported for that, not for this
    bad &= np.isfinite(typed[c.discount]) & np.isfinite(line_value) & (typed[c.unit_price] > 0)
    shown = pd.Series(
        [f"discount {d:g} > line value {v:g}" for d, v in zip(typed.loc[bad, c.discount], line_value[bad])],
        index=typed.index[bad],
        dtype=object,
    )
    return issue_frame(shown, c.discount, _DISCOUNT_TOO_LARGE)


def duplicate_issues(typed: pd.DataFrame) -> pd.DataFrame:
    """Lines of the same order and product: an exact repeat (same customer, time, quantity and price)
    is a duplicate line after its first copy; lines that differ in quantity or price conflict, and
    every one of them is reported (no rule can tell which one is right)."""
    c = Columns
    keys = [c.order, c.item]
    candidates = typed[keys].notna().all(axis=1) & typed.duplicated(keys, keep=False)
    if not candidates.any():
        return issue_frame(pd.Series(dtype=object), "", "")
    lines = typed.loc[candidates, [*keys, c.customer, c.timestamp, c.quantity, c.unit_price]]
    repeats = lines.duplicated(keep="first")
    variants = lines.groupby(keys, sort=False)[[c.quantity, c.unit_price]].transform("nunique").max(axis=1)
    conflicting = lines[variants > 1]
    shown = "order " + conflicting[c.order].astype(str) + ", product " + conflicting[c.item].astype(str)
    return pd.concat(
        [
            issue_frame(lines.loc[repeats, c.order].map("order {}".format), "row", _DUPLICATE_LINE),
            issue_frame(shown, "row", _CONFLICTING_LINE),
        ],
        ignore_index=True,
    )


def pandera_issues(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        rules = cases["check"].astype(str).map(lambda check: _PANDERA_RULES.get(check, check))
        fields = cases["column"].where(cases["column"].notna(), "row").astype(str)
        fields = rules.map(_RULE_FIELD).fillna(fields)
        issues = pd.DataFrame(
            {
                ROW: cases["index"].astype("int64").to_numpy() + 1,
                FIELD: fields.to_numpy(),
                RULE: rules.to_numpy(),
                VALUE: cases["failure_case"].to_numpy(),
            }
        )
        # a duplicate is reported once per key column; keep one line per row
        return issues.drop_duplicates([ROW, RULE])
    return issue_frame(pd.Series(dtype=object), "", "")
