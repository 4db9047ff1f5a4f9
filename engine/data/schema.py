"""Data contracts for the canonical tables, enforced at the boundary.

Every table that enters the engine goes through :func:`validate_transactions` (or its siblings for
products and customers). Types are coerced explicitly so that each unparseable value is reported with
its row; the value rules are a pandera schema so that the contract is declared in one place. Bad rows
either stop the run with a message naming them, or are set aside (quarantined) with the rule they
broke; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from engine.data.columns import Columns
from engine.errors import DataValidationError

BadRows = Literal["raise", "quarantine"]

ROW = "row"
FIELD = "field"
RULE = "rule"
VALUE = "value"
PROBLEMS = "problems"

_SHOWN_IN_ERROR = 20


@dataclass(frozen=True)
class ValidationReport:
    """What validation did to one table: rows in, rows kept, and every problem found.

    ``issues`` has one line per (row, field, rule); ``quarantined`` holds the original bad rows with
    their 1-based ``row`` number (the first data row is row 1) and a ``problems`` summary.
    """

    table: str
    rows_in: int
    issues: pd.DataFrame
    quarantined: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantined)

    @property
    def rows_kept(self) -> int:
        return self.rows_in - self.rows_quarantined

    def counts_by_rule(self, by_field: bool = False) -> pd.Series:
        """Number of rows that broke each rule (a row breaking two rules counts under both); with
        ``by_field``, per (field, rule)."""
        if self.issues.empty:
            return pd.Series(dtype="int64", name="rows")
        keys = [FIELD, RULE] if by_field else RULE
        return self.issues.groupby(keys)[ROW].nunique().sort_values(ascending=False).rename("rows")

    def summary(self) -> str:
        lines = [
            f"{self.table}: {self.rows_in:,} rows in, {self.rows_kept:,} kept, "
            f"{self.rows_quarantined:,} quarantined"
        ]
        lines += [f"  {field}: {rule}: {n:,} rows" for (field, rule), n in self.counts_by_rule(by_field=True).items()]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def describe_issues(self, limit: int = _SHOWN_IN_ERROR) -> str:
        """The first ``limit`` problems, one per line, naming row, field, rule and value."""
        shown = self.issues.head(limit)
        lines = [
            f"  row {r[ROW]}: {r[FIELD]}: {r[RULE]} (value: {r[VALUE]!r})"
            for r in shown.to_dict("records")
        ]
        if len(self.issues) > limit:
            lines.append(f"  ... and {len(self.issues) - limit:,} more problems")
        return "\n".join(lines)


# --- coercion: one explicit step per type, so every failure is reported with its row -------------


def _blank_to_na(values: pd.Series) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        stripped = values.astype("string").str.strip()
        return values.where(stripped.ne("").fillna(False))
    return values


def _coerce_id(values: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(values) and not values.hasnans:
        return values.astype(str).astype(object)
    values = _blank_to_na(values)
    if pd.api.types.is_float_dtype(values):
        # ids read as float because of a missing value: 123.0 -> "123"
        as_int = values.dropna()
        if (as_int == np.floor(as_int)).all():
            return values.map(lambda v: v if pd.isna(v) else str(int(v))).astype(object)
    return values.map(lambda v: v if pd.isna(v) else str(v)).astype(object)


def _coerce_number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(_blank_to_na(values), errors="coerce").astype("float64")


def _coerce_timestamp(values: pd.Series, timestamp_format: str | None) -> pd.Series:
    """Parse timestamps; without an explicit format, try ISO 8601, then the format pandas infers, then
    value by value, each stage only on what is still unparsed (fast on clean files, tolerant of a
    column that mixes dates and date-times)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        values = _blank_to_na(values)
        stages = [timestamp_format] if timestamp_format else ["ISO8601", None, "mixed"]
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        for stage in stages:
            todo = parsed.isna() & values.notna()
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(values[todo], errors="coerce", format=stage, utc=True)
        # naive values were read as UTC; aware ones were converted to it
        return parsed.dt.tz_localize(None).astype("datetime64[ns]")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _coercion_issues(raw: pd.Series, coerced: pd.Series, column: str, rule: str) -> pd.DataFrame:
    failed = coerced.isna() & _blank_to_na(raw).notna()
    return _issue_frame(raw[failed], column, rule)


def _issue_frame(values: pd.Series, column: str, rule: str) -> pd.DataFrame:
    return pd.DataFrame(
        {ROW: values.index.to_numpy() + 1, FIELD: column, RULE: rule, VALUE: values.to_numpy()}
    )


# --- the value rules, declared once -----------------------------------------------------------------


def _transactions_schema(columns: list[str]) -> pa.DataFrameSchema:
    c = Columns
    rules: dict[str, pa.Column] = {
        c.customer: pa.Column(object, nullable=False),
        c.item: pa.Column(object, nullable=False),
        c.order: pa.Column(object, nullable=False),
        c.timestamp: pa.Column("datetime64[ns]", nullable=False),
        c.quantity: pa.Column(
            "float64", pa.Check.ne(0, error="zero quantity (returns are negative)"), nullable=False
        ),
        c.unit_price: pa.Column(
            "float64",
            [pa.Check.gt(0, error="non-positive price"), pa.Check(np.isfinite, error="not finite")],
            nullable=False,
        ),
        c.discount: pa.Column("float64", pa.Check.ge(0, error="negative discount"), nullable=False),
        c.unit_cost: pa.Column("float64", pa.Check.ge(0, error="negative cost"), nullable=True),
        c.store: pa.Column(object, nullable=True),
        c.channel: pa.Column(object, nullable=True),
    }
    return pa.DataFrameSchema(
        {name: rule for name, rule in rules.items() if name in columns},
        checks=[
            pa.Check(
                lambda df: ~(df[c.discount] > df[c.quantity].abs() * df[c.unit_price] + 1e-9),
                error=_DISCOUNT_TOO_LARGE,
            )
        ]
        if c.discount in columns
        else [],
        unique=[c.order, c.item, c.customer, c.timestamp, c.quantity, c.unit_price],
        report_duplicates="exclude_first",
    )


_DISCOUNT_TOO_LARGE = "discount exceeds line value"
_DUPLICATE_LINE = "duplicate line"
_PANDERA_RULES = {
    "not_nullable": "missing value",
    "multiple_fields_uniqueness": _DUPLICATE_LINE,
}
# rules that span several columns are reported under one field
_RULE_FIELD = {_DISCOUNT_TOO_LARGE: Columns.discount, _DUPLICATE_LINE: "row"}


def _pandera_issues(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
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
    return _issue_frame(pd.Series(dtype=object), "", "")


def _finish(
    table: str,
    raw: pd.DataFrame,
    typed: pd.DataFrame,
    issue_parts: list[pd.DataFrame],
    on_bad_rows: BadRows,
    notes: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, ValidationReport]:
    issues = pd.concat([p for p in issue_parts if not p.empty] or [issue_parts[0]], ignore_index=True)
    issues = issues.sort_values([ROW, FIELD], kind="stable").reset_index(drop=True)
    bad_positions = np.unique(issues[ROW].to_numpy(dtype="int64") - 1)
    problems = (issues[FIELD].astype(str) + ": " + issues[RULE].astype(str)).groupby(issues[ROW]).agg("; ".join)
    quarantined = raw.iloc[bad_positions].copy()
    quarantined.insert(0, ROW, bad_positions + 1)
    quarantined.insert(1, PROBLEMS, problems.reindex(bad_positions + 1).to_numpy())
    report = ValidationReport(table, len(raw), issues, quarantined.reset_index(drop=True), notes)
    if len(bad_positions) and on_bad_rows == "raise":
        raise DataValidationError(
            f"{table}: {len(bad_positions):,} of {len(raw):,} rows break the data contract:\n"
            f"{report.describe_issues()}\n"
            "Fix them, or quarantine them (on_bad_rows='quarantine', CLI --quarantine FILE) to set "
            "them aside and go on."
        )
    keep = np.ones(len(raw), dtype=bool)
    keep[bad_positions] = False
    return typed.loc[keep].reset_index(drop=True), report


def _require_columns(table: str, frame: pd.DataFrame, required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{table}: missing required column(s) {missing}; got {list(frame.columns)}. "
            "Map your column names to the canonical ones (CLI --map, config `columns:`)."
        )


def validate_transactions(
    raw: pd.DataFrame,
    on_bad_rows: BadRows = "raise",
    timestamp_format: str | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the transactions contract; return the clean table and a report.

    Required: customer_id, product_id, order_id, timestamp, quantity, unit_price (list price per unit,
    before discounts). Optional: discount (currency off the whole line, >= 0), store_id, unit_cost,
    channel. Negative quantities are returns and are kept. The clean table gains ``revenue`` = quantity
    x unit_price minus the discount (a return's refund is reduced by its discount).
    """
    c = Columns
    _require_columns("transactions", raw, c.TRANSACTION_REQUIRED)
    raw = raw.reset_index(drop=True)
    present = [name for name in (*c.TRANSACTION_REQUIRED, *c.TRANSACTION_OPTIONAL) if name in raw]
    typed = pd.DataFrame(index=raw.index)
    issue_parts = [_issue_frame(pd.Series(dtype=object), "", "")]
    for name in present:
        if name in (c.customer, c.item, c.order, c.store, c.channel):
            typed[name] = _coerce_id(raw[name])
        elif name == c.timestamp:
            typed[name] = _coerce_timestamp(raw[name], timestamp_format)
            issue_parts.append(_coercion_issues(raw[name], typed[name], name, "unparseable timestamp"))
        else:
            typed[name] = _coerce_number(raw[name])
            issue_parts.append(_coercion_issues(raw[name], typed[name], name, "not a number"))
    if c.discount not in typed:
        typed[c.discount] = 0.0
    # a value that failed coercion is already reported; do not report it again as missing
    coerced_bad = {(int(r) - 1, f) for part in issue_parts for r, f in zip(part[ROW], part[FIELD])}
    pandera_issues = _pandera_issues(_transactions_schema(list(typed.columns)), typed)
    pandera_issues = pandera_issues[
        [(int(r) - 1, f) not in coerced_bad for r, f in zip(pandera_issues[ROW], pandera_issues[FIELD])]
    ]
    issue_parts.append(pandera_issues)
    clean, report = _finish("transactions", raw, typed, issue_parts, on_bad_rows)
    sign = np.sign(clean[c.quantity].to_numpy())
    clean[c.revenue] = clean[c.quantity] * clean[c.unit_price] - sign * clean[c.discount]
    return clean, report


def validate_products(
    raw: pd.DataFrame, on_bad_rows: BadRows = "raise"
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the products contract: unique product_id, a category; optional brand, unit_cost."""
    c = Columns
    _require_columns("products", raw, (c.item, c.category))
    raw = raw.reset_index(drop=True)
    typed = raw.copy()
    typed[c.item] = _coerce_id(raw[c.item])
    typed[c.category] = _coerce_id(raw[c.category]).fillna("unknown")
    issue_parts = [_issue_frame(pd.Series(dtype=object), "", "")]
    if c.unit_cost in raw:
        typed[c.unit_cost] = _coerce_number(raw[c.unit_cost])
        issue_parts.append(_coercion_issues(raw[c.unit_cost], typed[c.unit_cost], c.unit_cost, "not a number"))
    schema = pa.DataFrameSchema(
        {
            c.item: pa.Column(object, nullable=False, unique=True, report_duplicates="exclude_first"),
            **(
                {c.unit_cost: pa.Column("float64", pa.Check.ge(0, error="negative cost"), nullable=True)}
                if c.unit_cost in typed
                else {}
            ),
        }
    )
    part = _pandera_issues(schema, typed)
    part[RULE] = part[RULE].replace({"field_uniqueness": "duplicate product_id"})
    issue_parts.append(part)
    return _finish("products", raw, typed, issue_parts, on_bad_rows)


def validate_customers(
    raw: pd.DataFrame, on_bad_rows: BadRows = "raise"
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the customers contract: unique customer_id; every other column is optional attributes."""
    c = Columns
    _require_columns("customers", raw, (c.customer,))
    raw = raw.reset_index(drop=True)
    typed = raw.copy()
    typed[c.customer] = _coerce_id(raw[c.customer])
    schema = pa.DataFrameSchema(
        {c.customer: pa.Column(object, nullable=False, unique=True, report_duplicates="exclude_first")}
    )
    part = _pandera_issues(schema, typed)
    part[RULE] = part[RULE].replace({"field_uniqueness": "duplicate customer_id"})
    return _finish("customers", raw, typed, [part], on_bad_rows)
