"""Replicated shops for the scale bench: a shop's customers copied ``k`` times, written to Parquet.

Copy 0 keeps the original ids; copy ``r`` renames every customer ``ID`` to ``ID~r`` and every order to
``ORDER~r``, so the copies are distinct customers who buy the same catalogue at the same prices on the
same dates. A ``k``-times shop therefore has exactly ``k`` times the lines, customers and orders and the
same products: the work a pipeline does should grow ``k`` times, which is what the bench measures.

The copies are written one at a time (a Parquet row group each), so building a 10x shop holds one copy
in memory, not ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.errors import EngineError

COPY_SEPARATOR = "~"
_RENAMED = (Columns.customer, Columns.order)


@dataclass(frozen=True)
class ReplicatedShop:
    """Where a replicated shop was written: ``data`` is a data config (transactions and products) every
    ``crm`` command takes with ``--data``; ``pricing_data`` adds the promotion calendar when the shop has
    one (only ``crm train pricing`` reads it); ``lines`` is the number of transaction lines."""

    copies: int
    data: Path
    pricing_data: Path
    lines: int


def replicate_copy(transactions: pd.DataFrame, copy: int) -> pd.DataFrame:
    """Copy ``copy`` of the transactions: copy 0 unchanged, copy ``r`` with customer and order ids
    suffixed ``~r`` (everything else, products, prices and dates, unchanged)."""
    if copy < 0:
        raise EngineError(f"replicate: copy must be >= 0, got {copy}")
    if copy == 0:
        return transactions
    suffix = f"{COPY_SEPARATOR}{copy}"
    return transactions.assign(**{name: transactions[name].astype(str) + suffix for name in _RENAMED})


def write_replicated_transactions(transactions: pd.DataFrame, copies: int, path: Path) -> int:
    """Write ``copies`` copies of the transactions to one Parquet file (a row group per copy); returns
    the number of lines written."""
    if copies < 1:
        raise EngineError(f"replicate: copies must be >= 1, got {copies}")
    columns = [name for name in (*Columns.TRANSACTION_REQUIRED, *Columns.TRANSACTION_OPTIONAL) if name in transactions]
    base = transactions[columns].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.Schema.from_pandas(replicate_copy(base, 1), preserve_index=False)
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        for copy in range(copies):
            table = pa.Table.from_pandas(replicate_copy(base, copy), schema=schema, preserve_index=False)
            writer.write_table(table)
            written += table.num_rows
    return written


def written_shop(copies: int, folder: Path) -> ReplicatedShop | None:
    """The replicated shop already written in ``folder`` by :func:`write_replicated_shop`, or ``None``."""
    data, pricing_data = folder / "data.yaml", folder / "data_pricing.yaml"
    transactions = folder / "transactions.parquet"
    if not (data.is_file() and transactions.is_file()):
        return None
    lines = pq.ParquetFile(transactions).metadata.num_rows
    return ReplicatedShop(copies, data, pricing_data if pricing_data.is_file() else data, lines)


def write_replicated_shop(shop: ShopData, copies: int, folder: Path) -> ReplicatedShop:
    """Write the shop ``copies`` times over (transactions; products and promotions once, being the same
    catalogue) with the data configs that point at the files."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = write_replicated_transactions(shop.transactions, copies, folder / "transactions.parquet")
    config: dict[str, object] = {"source": "transactions.parquet", "on_bad_rows": "raise"}
    if shop.products is not None:
        shop.products.to_parquet(folder / "products.parquet", index=False)
        config["products"] = "products.parquet"
    data = folder / "data.yaml"
    data.write_text(yaml.safe_dump(config, sort_keys=False))
    pricing_data = data
    if shop.promotions is not None:
        shop.promotions.to_parquet(folder / "promotions.parquet", index=False)
        pricing_data = folder / "data_pricing.yaml"
        pricing_data.write_text(yaml.safe_dump({**config, "promotions": "promotions.parquet"}, sort_keys=False))
    return ReplicatedShop(copies=copies, data=data, pricing_data=pricing_data, lines=lines)
