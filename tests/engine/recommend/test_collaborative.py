"""The process-wide BLAS limit around implicit: taken by the caller, it holds in worker threads (a blend fits
its parts in threads) and in nested blocks, and the original is restored at the end."""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from engine.recommend.collaborative import single_blas_thread


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_workers_inside_the_callers_limit_keep_it_after_one_leaves_and_the_original_is_restored():
    if not _blas_threads():
        pytest.skip("no BLAS library loaded")
    with threadpool_limits(2, "blas"):
        first_in, first_out = threading.Event(), threading.Event()
        seen: dict[str, set[int]] = {}

        def first() -> None:
            with single_blas_thread():
                first_in.set()
            first_out.set()

        def second() -> None:
            first_in.wait(5)
            with single_blas_thread():
                first_out.wait(5)  # the first worker has left its block: the limit must still hold
                seen["after_first_left"] = _blas_threads()

        with single_blas_thread():
            threads = [threading.Thread(target=first), threading.Thread(target=second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            seen["caller_after_workers"] = _blas_threads()
        assert seen == {"after_first_left": {1}, "caller_after_workers": {1}}
        assert _blas_threads() == {2}


def test_nested_use_keeps_the_limit_until_the_outermost_block_ends():
    if not _blas_threads():
        pytest.skip("no BLAS library loaded")
    with threadpool_limits(2, "blas"):
        with single_blas_thread():
            with single_blas_thread():
                pass
            assert _blas_threads() == {1}
        assert _blas_threads() == {2}
