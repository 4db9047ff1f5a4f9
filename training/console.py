"""Terminal output shared by the CLI commands: one console, progress for long work, friendly errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

console = Console(stderr=True)


@contextmanager
def step(description: str) -> Iterator[None]:
    """Show a spinner with elapsed time while a long step runs, then a check mark and its duration."""
    import time

    started = time.perf_counter()
    with console.status(f"{description} ...", spinner="dots"):
        yield
    console.print(f"[green]✓[/green] {description} ({time.perf_counter() - started:.1f} s)")
