"""Coercion of raw columns to the engine's types, one explicit step per type, so that every value
that fails is reported with its row: ids as text, numbers as float64."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.validation_report import issue_frame
from engine.errors import DataValidationError


def blank_to_na(values: pd.Series) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        stripped = values.astype("string").str.strip()
        return values.where(stripped.ne("").fillna(False))
    return values


def coerce_id(values: pd.Series) -> pd.Series:
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
    text = _distinct_id_text(blank_to_na(distinct)).to_numpy(dtype=object)
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


def coerce_number(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        raise DataValidationError(
            f"column {values.name!r} holds {values.dtype} values where numbers are expected; "
            "store it as numbers (or text) in the file"
        )
    return pd.to_numeric(blank_to_na(values), errors="coerce").astype("float64")


def coercion_issues(raw: pd.Series, coerced: pd.Series, column: str, rule: str) -> pd.DataFrame:
    failed = coerced.isna() & blank_to_na(raw).notna()
    return issue_frame(raw[failed], column, rule)
