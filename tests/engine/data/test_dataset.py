"""The data fingerprint identifies content, so runs can be traced to the data they saw."""

from __future__ import annotations

from engine.data.dataset import ShopData


def test_fingerprint_is_stable_and_sensitive(tiny_transactions):
    same = ShopData(tiny_transactions.copy(), source="a").fingerprint()
    assert ShopData(tiny_transactions, source="b").fingerprint() == same
    changed = tiny_transactions.copy()
    changed.loc[0, "quantity"] = 3
    assert ShopData(changed, source="a").fingerprint() != same
