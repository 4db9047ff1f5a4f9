"""The marketing console: segments, churn risk, customers and models on server-rendered web pages.

:func:`create_app` builds the ASGI app that :mod:`serving.service` mounts under ``/console`` (one server,
the same bundle as the API, the same API key behind a login form); :class:`RootRedirect` sends ``GET /``
there. Settings: :mod:`serving.console.settings`.
"""

from serving.console.app import create_app
from serving.console.middleware import PREFIX, RootRedirect

__all__ = ["PREFIX", "RootRedirect", "create_app"]
