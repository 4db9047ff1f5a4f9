"""The data fingerprint identifies content, so runs can be traced to the data they saw."""

from __future__ import annotations

import pandas as pd

from engine.data.dataset import ShopData


def test_fingerprint_is_stable_and_sensitive(tiny_transactions):
    same = ShopData(tiny_transactions.copy(), source="a").fingerprint()
    assert ShopData(tiny_transactions, source="b").fingerprint() == same
    changed = tiny_transactions.copy()
    changed.loc[0, "quantity"] = 3
    assert ShopData(changed, source="a").fingerprint() != same


def test_fingerprint_covers_after_sales_tables_only_when_the_shop_has_them(tiny_transactions):
    bare = ShopData(tiny_transactions, source="a").fingerprint()
    contacts = pd.DataFrame({"customer_id": ["c1"], "opened_at": [pd.Timestamp("2024-01-02")], "topic": ["complaint"]})
    with_contacts = ShopData(tiny_transactions, source="a", support_contacts=contacts).fingerprint()
    assert with_contacts != bare
    resolved = contacts.assign(topic="question")
    assert ShopData(tiny_transactions, source="a", support_contacts=resolved).fingerprint() != with_contacts
