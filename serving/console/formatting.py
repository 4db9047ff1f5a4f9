"""Numbers, money, shares and dates in the shop's conventions (a CLDR locale and a currency, via Babel).

Babel carries the Unicode CLDR data, so ``de_DE`` with ``EUR`` writes ``1.234,50 €`` and ``5. Dez.
2026`` without a table of our own. Missing values are written as an en dash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent

MISSING = "–"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


@dataclass(frozen=True)
class Formats:
    """Formatting in one locale and currency; used as Jinja filters."""

    locale: str = "en_US"
    currency: str = "USD"

    def money(self, value: float | None, cents: bool = True) -> str:
        if _missing(value):
            return MISSING
        pattern = None if cents else "¤#,##0"
        return format_currency(value, self.currency, format=pattern, locale=self.locale, currency_digits=cents)

    def number(self, value: float | None, digits: int = 0) -> str:
        if _missing(value):
            return MISSING
        return format_decimal(round(float(value), digits), format=f"#,##0{'.' + '0' * digits if digits else ''}", locale=self.locale)

    def share(self, value: float | None, digits: int = 1) -> str:
        if _missing(value):
            return MISSING
        pattern = Locale.parse(self.locale).percent_formats[None].pattern  # the locale's, with our digits
        return format_percent(value, format=pattern.replace("0", "0" + ("." + "0" * digits if digits else ""), 1), locale=self.locale)

    def day(self, value: date | datetime | None) -> str:
        if _missing(value):
            return MISSING
        return format_date(value, format="medium", locale=self.locale)

    def month(self, value: date | datetime, year: bool = False) -> str:
        """A month's short name (with a two-digit year when ``year``), for chart labels."""
        return format_date(value, format="MMM yy" if year else "MMM", locale=self.locale)

    def month_long(self, value: date | datetime) -> str:
        """A month with its year in the locale's words (Jan 2023, janv. 2023), for tables."""
        return format_skeleton("yMMM", value, locale=self.locale)

    def moment(self, value: datetime | None) -> str:
        if _missing(value):
            return MISSING
        return format_datetime(value, format="medium", locale=self.locale)

    def filters(self) -> dict[str, Any]:
        return {"money": self.money, "number": self.number, "share": self.share, "day": self.day, "month": self.month_long,
                "moment": self.moment}
