"""CSV cells a spreadsheet would run as a formula (OWASP: CSV injection), made inert for every export.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets; customer ids, reasons and the raw values of quarantined rows all
come from outside, so every CSV the engine writes for people passes through :func:`neutralise_frame`:
such a cell gets a leading apostrophe (shown as text, the value readable), numbers stay numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """A text value a spreadsheet would read as a formula, prefixed with an apostrophe; other values
    unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (in text columns and a text index) are neutralised."""
    table = frame.copy()
    if _text(table.index.dtype):
        table.index = table.index.map(neutralise_formula)
    for column in table.columns[[_text(dtype) for dtype in table.dtypes]]:
        table[column] = table[column].map(neutralise_formula)
    return table


def _text(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)
