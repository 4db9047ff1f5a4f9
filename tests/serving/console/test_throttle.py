"""The failed-login limit: a sliding window per client, the wait until the oldest failure leaves it."""

from __future__ import annotations

from serving.console.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_over_the_limit_waits_until_its_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("1.2.3.4") is None
        throttle.failed("1.2.3.4")
        clock.now += 10
    assert throttle.retry_after("1.2.3.4") == 30  # first failure at 1000, now 1030: free again at 1060
    assert throttle.retry_after("5.6.7.8") is None, "per client"
    clock.now += 30
    assert throttle.retry_after("1.2.3.4") is None


def test_only_the_most_recent_clients_are_remembered() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=1, window_seconds=60, max_clients=2, clock=clock)
    for client in ("a", "b", "a", "c"):
        throttle.failed(client)
    assert throttle.retry_after("b") is None and throttle.retry_after("a") == 60 and throttle.retry_after("c") == 60
