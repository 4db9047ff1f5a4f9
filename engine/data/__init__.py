"""Transactions in: loading and validating any source, the shop's other tables, id maps and time splits."""

from engine._exports import lazy_exports

_EXPORTS = {
    "load_shop": "engine.data.sources",
    "TableFile": "engine.data.sources",
    "DataSourceConfig": "engine.data.sources",
    "parse_column_map": "engine.data.sources",
    "ShopData": "engine.data.dataset",
    "Columns": "engine.data.columns",
    "IdMap": "engine.data.idmap",
    "validate_transactions": "engine.data.schema",
    "TimeSplit": "engine.data.split",
    "default_as_of": "engine.data.split",
    "generate_shop": "engine.data.synthetic",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
