"""What validating one table found, and the steps every table's validation shares: the issue frame
(one line per row, field and rule), required columns, and splitting the rows into kept and
quarantined (or stopping the run with the rows named)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

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


def issue_frame(values: pd.Series, column: str, rule: str) -> pd.DataFrame:
    return pd.DataFrame(
        {ROW: values.index.to_numpy() + 1, FIELD: column, RULE: rule, VALUE: values.to_numpy()}
    )


def finish(
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


def require_columns(table: str, frame: pd.DataFrame, required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{table}: missing required column(s) {missing}; got {list(frame.columns)}. "
            "Map your column names to the canonical ones (CLI --map, config `columns:`)."
        )
