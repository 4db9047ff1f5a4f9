"""Canonical column names: the only place string literals for columns are spelled out."""


class Columns:
    """Columns of the canonical tables (transactions, products, customers)."""

    # transactions (required)
    customer = "customer_id"
    item = "product_id"
    order = "order_id"
    timestamp = "timestamp"
    quantity = "quantity"
    unit_price = "unit_price"
    # transactions (optional)
    discount = "discount"
    store = "store_id"
    unit_cost = "unit_cost"
    channel = "channel"
    # derived on validated transactions
    revenue = "revenue"
    # products
    category = "category"
    sub_category = "sub_category"  # a finer category, optional
    brand = "brand"
    department = "department"

    TRANSACTION_REQUIRED = (customer, item, order, timestamp, quantity, unit_price)
    TRANSACTION_OPTIONAL = (discount, store, unit_cost, channel)
