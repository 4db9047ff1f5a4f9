"""The ``crm`` command line: one entry point, a sub-command per pipeline stage.

Every command's expected failures (a user's bad data, file, option or config) end as a message on
stderr and exit code 2, never a traceback; anything else is a bug and says so (exit 1). The global
``--debug`` flag (``crm --debug data validate ...``) lets the traceback through instead.
"""

from __future__ import annotations

import csv
from typing import Annotated, Any

import click
import pandas as pd
import typer
import yaml
from pydantic import ValidationError
from typer.core import TyperGroup

from engine.errors import EngineError
from training.commands import (
    aftersales,
    console,
    customers,
    data,
    events,
    events_bench,
    experiment,
    loop,
    monitoring,
    pricing,
    recommender,
    scale,
    scoring,
    segments,
    serving,
)
from training.console import record_error

USER_ERROR_EXIT = 2
BUG_EXIT = 1
# what a user's input can cause: our own errors, and what a file or config can make libraries raise
EXPECTED_FAILURES = (
    EngineError,
    OSError,
    UnicodeError,
    ValidationError,
    yaml.YAMLError,
    csv.Error,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
)


class _FailsWithAMessage(TyperGroup):
    """The root command group: turns an exception raised by any sub-command into a message + exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            record_error(error.exit_code, "usage", error.format_message())
            raise
        except (click.exceptions.Exit, click.Abort, typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as error:  # noqa: BLE001 - every failure ends as a message, see module doc
            if ctx.meta.get("debug"):
                raise
            if isinstance(error, EXPECTED_FAILURES):
                record_error(USER_ERROR_EXIT, "user", str(error))
                typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
                ctx.exit(USER_ERROR_EXIT)
            record_error(BUG_EXIT, "bug", f"{type(error).__name__}: {error}")
            typer.secho(
                f"internal error (a bug; please report it): {type(error).__name__}: {error}. "
                "Run again with `crm --debug ...` for the traceback.",
                fg=typer.colors.RED,
                err=True,
            )
            ctx.exit(BUG_EXIT)


app = typer.Typer(
    name="crm",
    cls=_FailsWithAMessage,
    help="Recommendations, customer value and pricing from a shop's own transactions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
) -> None:
    """Recommendations, customer value and pricing from a shop's own transactions."""
    ctx.meta["debug"] = debug


train_app = typer.Typer(help="Fit, evaluate, log to MLflow and gate a model.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that write JSON with baselines measured in the same run.", no_args_is_help=True)

app.add_typer(data.app, name="data")
app.add_typer(train_app, name="train")
app.add_typer(bench_app, name="bench")
app.command("segments")(segments.segments)
app.add_typer(serving.app, name="serve")
bench_app.command("serving")(serving.bench)
bench_app.command("segments")(segments.bench)
train_app.command("pricing")(pricing.train)
bench_app.command("pricing")(pricing.bench)
train_app.command("churn")(customers.train_churn)
train_app.command("clv")(customers.train_clv)
app.command("churn-list")(customers.churn_list)
bench_app.command("customers")(customers.bench)
bench_app.command("aftersales")(aftersales.bench)
train_app.command("recommender")(recommender.train)
bench_app.command("recommender")(recommender.bench)
app.add_typer(console.app, name="console")
bench_app.command("console")(console.bench)
app.add_typer(events.app, name="events")
bench_app.command("events")(events_bench.bench)
app.command("monitor")(monitoring.monitor)
app.command("retrain")(monitoring.retrain)
bench_app.command("loop")(loop.bench)
app.add_typer(experiment.app, name="experiment")
bench_app.command("scale")(scale.bench)
app.command("score")(scoring.score)


def main() -> None:
    """Run the CLI (the ``crm`` script)."""
    app()
