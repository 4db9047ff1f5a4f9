"""Terminal output shared by the CLI commands: one console, progress for long work, friendly errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

ERROR_FILE_VARIABLE = "CRM_ERROR_FILE"

# logs and CI are not terminals: give tables room instead of rich's 80-column default
console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


@contextmanager
def step(description: str) -> Iterator[None]:
    """Show a spinner with elapsed time while a long step runs, then a check mark and its duration."""
    import time

    started = time.perf_counter()
    with console.status(f"{description} ...", spinner="dots"):
        yield
    console.print(f"[green]✓[/green] {description} ({time.perf_counter() - started:.1f} s)")


def record_error(exit_code: int, kind: str, message: str) -> None:
    """Write a command's failure as JSON to ``$CRM_ERROR_FILE`` when set: the structured channel a parent
    process (``crm bench serving`` running ``crm train``) reads instead of parsing the terminal output."""
    target = os.environ.get(ERROR_FILE_VARIABLE)
    if target:
        Path(target).write_text(json.dumps({"exit_code": exit_code, "kind": kind, "message": message}))
