"""A limit on failed console logins per client: guessing the key is refused with 429 and ``Retry-After``.

A client (its network address as the server sees it) may fail :data:`MAX_FAILURES` logins within
:data:`WINDOW_SECONDS`; its next attempt is answered 429 without the key being checked, until its oldest
failure leaves the window (``Retry-After`` says when, in whole seconds). A successful login does not
reset the count: a guesser who also knows the key gains nothing, and an operator who mistyped a few
times signs in normally while under the limit.

The counts are kept in the worker's memory (a restart forgets them; with several workers each counts
its own share, so the limit per client is at most ``workers x MAX_FAILURES``). Behind a reverse proxy
every client has the proxy's address unless the server is told to trust ``X-Forwarded-For``; the limit
then applies to everyone at once, which errs on the side of refusing. At most :data:`MAX_CLIENTS`
addresses are tracked; beyond that the one that failed longest ago is forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0
MAX_CLIENTS = 10_000


class LoginThrottle:
    """Failed logins per client in a sliding window (module doc)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_seconds: float = WINDOW_SECONDS,
                 max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # least recently failed first

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again (at least 1), or None when it may try now."""
        now = self.clock()
        failures = self._recent(client, now)
        if len(failures) < self.max_failures:
            return None
        return max(1, math.ceil(failures[0] + self.window_seconds - now))

    def failed(self, client: str) -> None:
        """Count a failed login of ``client``."""
        now = self.clock()
        failures = self._recent(client, now)
        failures.append(now)
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
