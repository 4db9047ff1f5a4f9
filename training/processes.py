"""Processes that clean up after themselves: signals unwind the stack, temporary folders are removed
however a command ends, and folders of killed processes are found and removed by the next one."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Terminated(SystemExit):
    """Raised in the main thread by SIGTERM while :func:`stop_on_signals` is active; exits with 143
    (128 + SIGTERM) like an unhandled SIGTERM would, after every cleanup on the way out has run."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)

    def __str__(self) -> str:
        return "stopped by SIGTERM"


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` and SIGINT ``KeyboardInterrupt`` in the
    main thread, so context managers and ``finally`` blocks unwind (an MLflow run ends FAILED, a
    temporary folder is removed) instead of the process dying where it stands. Only the first signal
    raises; more of them during the unwinding are ignored so that the cleanup finishes (SIGKILL still
    stops it). The previous handlers are restored afterwards. Outside the main thread it does nothing,
    as Python delivers signals only there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def interrupt(signum: int, _frame: Any) -> None:
        nonlocal raised
        if raised:
            return
        raised = True
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder for the block, removed however the block ends: normally, on an error, on
    Ctrl-C or SIGTERM (see :func:`stop_on_signals`). Its name carries this machine and process
    (``PREFIX-HOST-PID-...``), so folders left by processes of this machine that were killed outright
    (SIGKILL, out of memory) are removed when the next one starts."""
    host = socket.gethostname()
    for stale in Path(tempfile.gettempdir()).glob(f"{prefix}-{host}-*"):
        pid = stale.name[len(f"{prefix}-{host}-"):].split("-", 1)[0]
        if pid.isdigit() and process_gone(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-{host}-{os.getpid()}-"))
    with stop_on_signals():
        try:
            yield folder
        finally:
            _remove(folder)


def _remove(folder: Path, attempts: int = 30) -> None:
    """Remove ``folder``. A library's worker threads may still be writing into it when a signal unwinds
    the main thread (MLflow downloads artifacts in a thread pool; the removal then failed with
    "directory not empty" and the command ended with that error instead of 143), so that failure is
    retried for about 3 seconds; anything still left is swept by the next process with this prefix."""
    for _ in range(attempts):
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False
