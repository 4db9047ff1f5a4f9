"""Processes that clean up after themselves: signals unwind the stack, temporary folders are removed
however a command ends, and folders of killed processes are found and removed by the next one."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
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
    with stop_on_signals(), tempfile.TemporaryDirectory(prefix=f"{prefix}-{host}-{os.getpid()}-") as folder:
        yield Path(folder)


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False
