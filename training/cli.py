"""The ``crm`` command line: one entry point, a sub-command per pipeline stage."""

from __future__ import annotations

import sys

import typer

from engine.errors import EngineError
from training.commands import customers, data, pricing, segments, serving
from training.commands import recommender

app = typer.Typer(
    name="crm",
    help="Recommendations, customer value and pricing from a shop's own transactions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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
train_app.command("recommender")(recommender.train)
bench_app.command("recommender")(recommender.bench)


def main() -> None:
    """Run the CLI; a user's mistake (bad data, bad parameter) prints a message, not a traceback."""
    try:
        app()
    except EngineError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        sys.exit(1)
