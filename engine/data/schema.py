"""Data contracts for the canonical tables, enforced at the boundary.

Every table that enters the engine goes through :func:`validate_transactions` (or its siblings for
products and customers). Types are coerced explicitly so that each unparseable value is reported with
its row; the value rules are a pandera schema so that the contract is declared in one place. Bad rows
either stop the run with a message naming them, or are set aside (quarantined) with the rule they
broke; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field

from engine.data.columns import Columns
from engine.errors import DataValidationError

BadRows = Literal["raise", "quarantine"]

ROW = "row"
FIELD = "field"
RULE = "rule"
VALUE = "value"
PROBLEMS = "problems"

_SHOWN_IN_ERROR = 20


class ValueLimits(BaseModel):
    """Plausible ranges for the numbers and dates of a transaction line; a value outside is quarantined
    (or stops the run) under a rule that names the limit. Data config key ``limits:``.

    The defaults are far beyond any real e-commerce line, so they only catch unit mistakes (cents
    read as dollars, an id or a date in a number column, 1e308 from a broken export): 1 million units
    on one line, 10 million per unit (price or cost). Their product (1e13) still sums exactly to the
    cent in float64 over millions of lines. Dates before ``earliest`` (1990, before online shops) or
    more than ``days_ahead`` days after ``latest`` (default: today, UTC) are implausible.
    """

    model_config = ConfigDict(extra="forbid")
    max_abs_quantity: float = Field(1e6, gt=0, description="largest |quantity| on one line")
    max_unit_price: float = Field(1e7, gt=0, description="largest list price per unit")
    max_unit_cost: float = Field(1e7, gt=0, description="largest cost per unit")
    earliest: date = Field(date(1990, 1, 1), description="first plausible date")
    latest: date | None = Field(None, description="the data's as-of date (default: today, UTC)")
    days_ahead: int = Field(1, ge=0, description="days after `latest` still accepted (time zones)")

    def last_accepted(self) -> pd.Timestamp:
        """The latest plausible timestamp (exclusive): ``latest`` + ``days_ahead`` + 1 day, at midnight."""
        latest = self.latest or datetime.now(timezone.utc).date()
        return pd.Timestamp(latest + timedelta(days=self.days_ahead + 1))


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
    """Ids as text (object dtype), blanks missing. Each distinct value is converted once and the rows
    share its one string object: a column holds far fewer distinct ids than lines, and a string per
    line was most of the time of loading a shop and, for integer ids, most of its memory."""
    codes, uniques = pd.factorize(values)  # a missing value gets code -1
    if pd.api.types.is_integer_dtype(values) and not values.hasnans:
        text = np.asarray(uniques.astype(str), dtype=object)
        return pd.Series(text[codes], index=values.index, dtype=object, name=values.name)
    distinct = pd.Series(uniques)
    if isinstance(distinct.dtype, pd.CategoricalDtype):
        distinct = distinct.astype(object)
    text = _distinct_id_text(_blank_to_na(distinct)).to_numpy(dtype=object)
    missing = getattr(values.dtype, "na_value", np.nan)  # as the column's own missing value (pd.NA for Int64)
    coerced = np.where(codes >= 0, text[np.maximum(codes, 0)] if len(text) else missing, missing)
    return pd.Series(coerced, index=values.index, dtype=object, name=values.name)


def _distinct_id_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values):
        # ids read as float because of a missing value: 123.0 -> "123"
        as_int = values.dropna()
        if (as_int == np.floor(as_int)).all():
            return values.map(lambda v: v if pd.isna(v) else str(int(v))).astype(object)
    return values.map(lambda v: v if pd.isna(v) else str(v)).astype(object)


def _coerce_number(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        raise DataValidationError(
            f"column {values.name!r} holds {values.dtype} values where numbers are expected; "
            "store it as numbers (or text) in the file"
        )
    return pd.to_numeric(_blank_to_na(values), errors="coerce").astype("float64")


_UNPARSEABLE = "unparseable timestamp"
_NO_OFFSET = "no UTC offset (other rows have one)"
# a time followed by Z or a +hh[:mm] offset ends an offset-aware timestamp (RE2 syntax: run by arrow)
_AWARE = r"(?i)\d:\d{2}(?::\d{2}(?:\.\d*)?)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$"
# a date that starts with two short numbers: dd/mm/yyyy or mm/dd/yyyy (also with . or -)
_SHORT_DATE = r"^(?P<first>\d{1,2})[/.\-](?P<second>\d{1,2})[/.\-]\d{2,4}(?:\D|$)"
_YEAR = r"(?<!\d)(\d{4})(?!\d)"


_ORDER_FIX = "give --timestamp-format (data config `timestamp_format:`), e.g. '%d/%m/%Y' or '%m/%d/%Y'"


def _order_evidence(text: pd.Series) -> tuple[pd.Index, pd.Index, pd.Index]:
    """Rows of dates like 03/04/2024 that prove day-first (first field above 12), that prove
    month-first (second field above 12), and that read two ways (the two fields differ)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = pc.extract_regex(pa.array(text, type=pa.string()), pattern=_SHORT_DATE)
    first, second = (
        pd.Series(pc.struct_field(fields, [i]).to_numpy(zero_copy_only=False), index=text.index)
        .dropna()
        .astype("int64")
        for i in (0, 1)
    )
    return first.index[first > 12], second.index[second > 12], first.index[first != second]


def _day_first(text: pd.Series) -> bool:
    """Decide the day/month order of dates like 03/04/2024 across the whole column: a first field
    above 12 proves day-first, a second field above 12 proves month-first; a column that proves both,
    or neither while some value reads two ways, is refused (the order cannot be guessed)."""
    day_first_rows, month_first_rows, two_ways = _order_evidence(text)
    if len(day_first_rows) and len(month_first_rows):
        raise DataValidationError(
            f"timestamp: row {day_first_rows[0] + 1} ({text[day_first_rows[0]]!r}) is day-first but row "
            f"{month_first_rows[0] + 1} ({text[month_first_rows[0]]!r}) is month-first; {_ORDER_FIX}"
        )
    if len(day_first_rows):
        return True
    if len(month_first_rows) or not len(two_ways):
        return False
    raise DataValidationError(
        f"timestamp: dates like {text[two_ways[0]]!r} (row {two_ways[0] + 1}) read as day/month or "
        f"month/day and no date in the file settles which; {_ORDER_FIX}"
    )


def _check_stated_order(text: pd.Series, timestamp_format: str) -> None:
    """Refuse a stated format whose day/month order the file disproves: with '%m/%d/%Y' on a
    day-first file, every date up to the 12th would be read swapped."""
    if "%d" not in timestamp_format or "%m" not in timestamp_format:
        return
    stated_day_first = timestamp_format.index("%d") < timestamp_format.index("%m")
    day_first_rows, month_first_rows, _ = _order_evidence(text)
    disproof = month_first_rows if stated_day_first else day_first_rows
    if len(disproof):
        order = "day-first" if stated_day_first else "month-first"
        raise DataValidationError(
            f"timestamp: the format {timestamp_format!r} is {order} but row {disproof[0] + 1} "
            f"({text[disproof[0]]!r}) is not; the other dates would be read with day and month swapped"
        )


def _parse_text_timestamps(text: pd.Series, timestamp_format: str | None) -> pd.Series:
    """Parse with the given format; without one, ISO 8601 first (it is never ambiguous), then what is
    left in the day/month order the column proves (:func:`_day_first`): the format pandas infers,
    then value by value. Each stage runs only on what is still unparsed (fast on clean files, tolerant
    of a column that mixes dates and date-times); offsets are converted to UTC row by row."""
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    todo = text.notna()
    if todo.any():
        parsed[todo] = pd.to_datetime(text[todo], errors="coerce", format=timestamp_format or "ISO8601", utc=True)
    if timestamp_format:
        _check_stated_order(text, timestamp_format)
        return parsed
    todo = parsed.isna() & text.notna()
    day_first = bool(todo.any()) and _day_first(text[todo])
    for stage in (None, "mixed"):
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo], errors="coerce", format=stage, utc=True, dayfirst=day_first)
        todo = parsed.isna() & text.notna()
    return parsed


def _coerce_timestamp(values: pd.Series, timestamp_format: str | None) -> tuple[pd.Series, pd.DataFrame]:
    """Parse timestamps to naive UTC, each row with its own offset, and report the rows that fail.

    Rules: naive timestamps are UTC when the whole column is naive; in a column that has offsets, a
    naive row is refused (its zone is unknown; it must not take another row's). Dates like 03/04/2024
    are read in the day/month order the column proves (see :func:`_day_first`) unless a format is given.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype("datetime64[ns]"), _issue_frame(pd.Series(dtype=object), "", "")
    if pd.api.types.is_numeric_dtype(values):
        raise DataValidationError(
            f"column 'timestamp' holds numbers ({values.dtype}); store dates or date-times "
            "(text like 2024-03-01 09:00, or a timestamp type)"
        )
    # arrow strings: trimming and the offset pattern run in C++, not value by value
    text = values.astype("string[pyarrow]").str.strip()
    text = text.mask(text == "")
    issues = [_issue_frame(pd.Series(dtype=object), "", "")]
    aware = text.str.contains(_AWARE, na=False).astype(bool)
    if aware.any() and not aware[text.notna()].all():
        naive = text.notna() & ~aware
        issues.append(_issue_frame(values[naive], Columns.timestamp, _NO_OFFSET))
        text = text.where(aware)
    parsed = _parse_text_timestamps(text, timestamp_format)
    failed = parsed.isna() & text.notna()
    issues.append(_issue_frame(values[failed], Columns.timestamp, _UNPARSEABLE))
    return parsed.dt.tz_localize(None).astype("datetime64[ns]"), pd.concat(issues, ignore_index=True)


def _date_issues(raw: pd.Series, parsed: pd.Series, issues: pd.DataFrame, limits: ValueLimits) -> pd.DataFrame:
    """Dates outside the plausible range, one rule each way, whether pandas could represent them
    (2099) or not (3000, beyond pandas' year 2262): an unparseable value with an out-of-range year
    is moved from "unparseable" to the range rule, so 2099 and 3000 are treated alike."""
    earliest, last = pd.Timestamp(limits.earliest), limits.last_accepted()
    too_early, too_late = f"date before {limits.earliest}", f"date after {(last - pd.Timedelta(days=1)).date()}"
    unparsed = issues[issues[RULE] == _UNPARSEABLE]
    years = raw.iloc[unparsed[ROW].to_numpy() - 1].astype(str).str.extract(_YEAR)[0].astype("float64")
    rules = np.select([years < limits.earliest.year, years > last.year], [too_early, too_late], "")
    issues.loc[unparsed.index[rules != ""], RULE] = rules[rules != ""]
    return pd.concat(
        [issues, _issue_frame(raw[parsed < earliest], Columns.timestamp, too_early),
         _issue_frame(raw[parsed >= last], Columns.timestamp, too_late)],
        ignore_index=True,
    )


def _coercion_issues(raw: pd.Series, coerced: pd.Series, column: str, rule: str) -> pd.DataFrame:
    failed = coerced.isna() & _blank_to_na(raw).notna()
    return _issue_frame(raw[failed], column, rule)


def _issue_frame(values: pd.Series, column: str, rule: str) -> pd.DataFrame:
    return pd.DataFrame(
        {ROW: values.index.to_numpy() + 1, FIELD: column, RULE: rule, VALUE: values.to_numpy()}
    )


# --- the value rules, declared once -----------------------------------------------------------------


def _finite_rule(predicate, error: str) -> pa.Check:
    """A value check that passes non-finite values: they break "not finite" alone, not every rule."""
    return pa.Check(lambda values: predicate(values) | ~np.isfinite(values), error=error)


_NOT_FINITE = "not finite"


def _transactions_schema(columns: list[str], limits: ValueLimits) -> pa.DataFrameSchema:
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


def _discount_issues(typed: pd.DataFrame) -> pd.DataFrame:
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
    return _issue_frame(shown, c.discount, _DISCOUNT_TOO_LARGE)


def _duplicate_issues(typed: pd.DataFrame) -> pd.DataFrame:
    """Lines of the same order and product: an exact repeat (same customer, time, quantity and price)
    is a duplicate line after its first copy; lines that differ in quantity or price conflict, and
    every one of them is reported (no rule can tell which one is right)."""
    c = Columns
    keys = [c.order, c.item]
    candidates = typed[keys].notna().all(axis=1) & typed.duplicated(keys, keep=False)
    if not candidates.any():
        return _issue_frame(pd.Series(dtype=object), "", "")
    lines = typed.loc[candidates, [*keys, c.customer, c.timestamp, c.quantity, c.unit_price]]
    repeats = lines.duplicated(keep="first")
    variants = lines.groupby(keys, sort=False)[[c.quantity, c.unit_price]].transform("nunique").max(axis=1)
    conflicting = lines[variants > 1]
    shown = "order " + conflicting[c.order].astype(str) + ", product " + conflicting[c.item].astype(str)
    return pd.concat(
        [
            _issue_frame(lines.loc[repeats, c.order].map("order {}".format), "row", _DUPLICATE_LINE),
            _issue_frame(shown, "row", _CONFLICTING_LINE),
        ],
        ignore_index=True,
    )


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
    clean = typed.loc[keep].reset_index(drop=True)
    if len(clean) + report.rows_quarantined != len(raw):  # nothing lost: kept + quarantined = rows in
        raise AssertionError(f"{table}: {len(clean)} kept + {report.rows_quarantined} quarantined != {len(raw)} in")
    return clean, report


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
    limits: ValueLimits | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the transactions contract; return the clean table and a report.

    Required: customer_id, product_id, order_id, timestamp, quantity, unit_price (list price per unit,
    before discounts). Optional: discount (currency off the whole line, >= 0), store_id, unit_cost,
    channel. Negative quantities are returns and are kept. Every number must be finite and within
    ``limits``; timestamps follow the rules of :func:`_coerce_timestamp` and must fall within the
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
    _require_columns("transactions", raw, c.TRANSACTION_REQUIRED)
    raw = raw.reset_index(drop=True)
    present = [name for name in (*c.TRANSACTION_REQUIRED, *c.TRANSACTION_OPTIONAL) if name in raw]
    typed = pd.DataFrame(index=raw.index)
    issue_parts = [_issue_frame(pd.Series(dtype=object), "", "")]
    for name in present:
        if name in (c.customer, c.item, c.order, c.store, c.channel):
            typed[name] = _coerce_id(raw[name])
        elif name == c.timestamp:
            typed[name], timestamp_issues = _coerce_timestamp(raw[name], timestamp_format)
            issue_parts.append(_date_issues(raw[name], typed[name], timestamp_issues, limits))
        else:
            typed[name] = _coerce_number(raw[name])
            issue_parts.append(_coercion_issues(raw[name], typed[name], name, "not a number"))
    if c.discount in typed:
        issue_parts.append(_discount_issues(typed))
    else:
        typed[c.discount] = 0.0
    # a value that failed coercion is already reported; do not report it again as missing
    coerced_bad = {(int(r) - 1, f) for part in issue_parts for r, f in zip(part[ROW], part[FIELD])}
    pandera_issues = _pandera_issues(_transactions_schema(list(typed.columns), limits), typed)
    pandera_issues = pandera_issues[
        [(int(r) - 1, f) not in coerced_bad for r, f in zip(pandera_issues[ROW], pandera_issues[FIELD])]
    ]
    issue_parts += [pandera_issues, _duplicate_issues(typed)]
    clean, report = _finish("transactions", raw, typed, issue_parts, on_bad_rows)
    sign = np.sign(clean[c.quantity].to_numpy())
    clean[c.revenue] = clean[c.quantity] * clean[c.unit_price] - sign * clean[c.discount]
    return clean, report


def validate_products(
    raw: pd.DataFrame, on_bad_rows: BadRows = "raise", limits: ValueLimits | None = None
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the products contract: unique product_id, a category; optional brand, unit_cost (finite,
    >= 0, within ``limits``)."""
    c = Columns
    limits = limits or ValueLimits()
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
                {c.unit_cost: _transactions_schema([c.unit_cost], limits).columns[c.unit_cost]}
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
