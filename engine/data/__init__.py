"""Transactions in: loading and validating any source, the shop's other tables, id maps and time splits."""

from engine._exports import exports_by_module, lazy_exports

_EXPORTS = exports_by_module({
    "engine.data.sources": ["load_shop", "TableFile", "DataSourceConfig", "parse_column_map"],
    "engine.data.dataset": ["ShopData"],
    "engine.data.columns": ["Columns"],
    "engine.data.idmap": ["IdMap"],
    "engine.data.schema": ["validate_transactions"],
    "engine.data.split": ["TimeSplit", "default_as_of"],
    "engine.data.synthetic": ["generate_shop"],
})
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
