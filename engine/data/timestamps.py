"""Timestamps of a raw column to naive UTC: ISO 8601 first, then the day/month order the column
proves, offsets converted row by row; each row that fails, or falls outside the plausible dates, is
reported with the rule it broke."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.limits import ValueLimits
from engine.data.validation_report import ROW, RULE, issue_frame
from engine.errors import DataValidationError

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


def coerce_timestamp(values: pd.Series, timestamp_format: str | None) -> tuple[pd.Series, pd.DataFrame]:
    """Parse timestamps to naive UTC, each row with its own offset, and report the rows that fail.

    Rules: naive timestamps are UTC when the whole column is naive; in a column that has offsets, a
    naive row is refused (its zone is unknown; it must not take another row's). Dates like 03/04/2024
    are read in the day/month order the column proves (see :func:`_day_first`) unless a format is given.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype("datetime64[ns]"), issue_frame(pd.Series(dtype=object), "", "")
    if pd.api.types.is_numeric_dtype(values):
        raise DataValidationError(
            f"column 'timestamp' holds numbers ({values.dtype}); store dates or date-times "
            "(text like 2024-03-01 09:00, or a timestamp type)"
        )
    # arrow strings: trimming and the offset pattern run in C++, not value by value
    text = values.astype("string[pyarrow]").str.strip()
    text = text.mask(text == "")
    issues = [issue_frame(pd.Series(dtype=object), "", "")]
    aware = text.str.contains(_AWARE, na=False).astype(bool)
    if aware.any() and not aware[text.notna()].all():
        naive = text.notna() & ~aware
        issues.append(issue_frame(values[naive], Columns.timestamp, _NO_OFFSET))
        text = text.where(aware)
    parsed = _parse_text_timestamps(text, timestamp_format)
    failed = parsed.isna() & text.notna()
    issues.append(issue_frame(values[failed], Columns.timestamp, _UNPARSEABLE))
    return parsed.dt.tz_localize(None).astype("datetime64[ns]"), pd.concat(issues, ignore_index=True)


def date_issues(raw: pd.Series, parsed: pd.Series, issues: pd.DataFrame, limits: ValueLimits) -> pd.DataFrame:
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
        [issues, issue_frame(raw[parsed < earliest], Columns.timestamp, too_early),
         issue_frame(raw[parsed >= last], Columns.timestamp, too_late)],
        ignore_index=True,
    )
