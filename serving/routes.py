"""Every route of the service in one place, grouped by who may call it."""

from __future__ import annotations

# storefront: open unless CRM_STOREFRONT_OPEN=false
RECOMMEND = "/v1/recommendations"
RECOMMEND_BATCH = "/v1/recommendations/batch"
SIMILAR_ITEMS = "/v1/similar-items"
PRICE = "/v1/price"
PRICE_BATCH = "/v1/price/batch"
STOREFRONT = (RECOMMEND, RECOMMEND_BATCH, SIMILAR_ITEMS, PRICE, PRICE_BATCH)

# marketing and operations: personal data or control, always behind the API key
PROFILE = "/v1/marketing/profile"
CHURN_RISK = "/v1/marketing/churn-risk"
CHURN_RISK_CSV = "/v1/marketing/churn-risk.csv"
RELOAD = "/v1/admin/reload"
# feedback events feed monitoring and the experiments' decisions: writes, so behind the key too
EVENTS = "/v1/events"
KEY_REQUIRED_PREFIXES = ("/v1/marketing/", "/v1/admin/", EVENTS)

# open: what the service serves and whether the last reload worked (no personal data)
STATUS = "/v1/status"
