"""Terminal output shared by the CLI commands: one console, progress for long work, friendly errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sys

from rich.console import Console

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
