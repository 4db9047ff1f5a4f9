"""Independent calls side by side: every result by name, errors raised by .result(), the caller's context
and one BLAS thread inside each call."""

from __future__ import annotations

from contextvars import ContextVar

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from engine.parallel import side_by_side

_MARK: ContextVar[str] = ContextVar("mark", default="default")


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_each_call_returns_its_value_by_name_and_sees_the_callers_context():
    token = _MARK.set("caller")
    try:
        done = side_by_side({"a": lambda: ("a", _MARK.get()), "b": lambda: ("b", _MARK.get())})
    finally:
        _MARK.reset(token)
    assert {name: future.result() for name, future in done.items()} == {"a": ("a", "caller"), "b": ("b", "caller")}


def test_a_failing_call_raises_from_its_result_and_the_others_still_finish():
    def fail() -> int:
        raise ValueError("bad part")

    done = side_by_side({"fine": lambda: 1, "broken": fail})
    assert done["fine"].result() == 1
    with pytest.raises(ValueError, match="bad part"):
        done["broken"].result()


def test_blas_runs_on_one_thread_inside_the_calls_and_is_restored_after():
    if not _blas_threads():
        pytest.skip("no BLAS library loaded")
    with threadpool_limits(2, "blas"):
        done = side_by_side({"a": _blas_threads, "b": _blas_threads})
        assert [future.result() for future in done.values()] == [{1}, {1}]
        assert _blas_threads() == {2}
